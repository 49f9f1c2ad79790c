"""Pruning by merge: what this node holds under a prefix that a source's listing no longer has.

Both streams are sorted (a mountpath walk yields names in string order, and remotes list in that
order too), so one merge finds the names missing from the source with flat memory. Used by a
download's `sync` and by a copy's `--sync` (AIStore's `xs/prune.go`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from ais_ray.core.names import Bucket

PAGE = 1000


async def local_names(holders: Mapping[str, Any], bck: Bucket, prefix: str, *,
                      name_of: Callable[[Any], str] = lambda e: e.name) -> AsyncIterator[str]:
    """Every name these actors hold of `bck` under `prefix`, sorted; a page each in memory.

    `holders`: mountpath actors (this node), or target actors (the cluster: their pages are
    `(location, entry)`, hence `name_of`); each answers `list_page` in name order.
    """
    start_after = ""
    while True:
        pages = await asyncio.gather(*(h.list_page.remote(bck, prefix, start_after, PAGE, False)
                                       for h in holders.values()))
        names = sorted(name_of(e) for p in pages for e in p)[:PAGE]  # the first PAGE of the union: exact
        if not names:
            return
        for n in names:
            yield n
        start_after = names[-1]


async def missing(have: AsyncIterator[str], source: AsyncIterator[str]) -> AsyncIterator[str]:
    """The names of sorted `have` that sorted `source` does not list."""
    nxt = await anext(source, None)
    async for name in have:
        while nxt is not None and nxt < name:
            nxt = await anext(source, None)
        if name != nxt:
            yield name
