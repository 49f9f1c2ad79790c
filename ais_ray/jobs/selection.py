"""A selection iterated on a target: names and templates lazily, a prefix by the one remote pager.

`share_names` keeps what this target owns under its *current* Smap (read at each name through
the `smap` hook, never a copy taken when the job started) and says on which mountpath.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any
from itertools import islice

from ais_ray.backends.pager import Fetch
from ais_ray.backends.pager import names as listed_names
from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket
from ais_ray.core.selection import Selection
from ais_ray.core.smap import Smap

ListFor = Callable[[str], Fetch]  # prefix -> page source of the listing under it


async def select(sel: Selection, list_for: ListFor | None) -> AsyncIterator[str]:
    """Every name of the selection, lazily; a prefix selection lists through `list_for(prefix)`."""
    if not sel.is_listing:
        for n in sel.iter():
            yield n
        return
    if list_for is None:
        raise AisError(f'cannot list "{sel.prefix}": the bucket has no remote to list')
    async for n in listed_names(list_for(sel.prefix)):
        yield n


class Share:
    """This target's share of a job: which names are its own, on which mountpath, per the current Smap."""

    def __init__(self, tid: str, smap: Callable[[], Smap | None], mountpaths: Collection[str]) -> None:
        self.tid = tid
        self._smap = smap
        self.mountpaths = mountpaths

    def mountpath(self, bck: Bucket, name: str) -> str | None:
        """The mountpath of `name` if this target owns it now, else None."""
        smap = self._smap()
        if smap is None:
            raise AisError(f"t[{self.tid}]: no cluster map yet")
        tsi, mp = smap.locate(bck.uname(name))
        if tsi.daemon_id != self.tid:
            return None
        if mp.path not in self.mountpaths:
            raise AisError(f"t[{self.tid}]: the cluster map places {bck}/{name} on {mp.path}, not served here")
        return mp.path

    def filter(self, bck: Bucket, names: Iterator[str]) -> Iterator[tuple[str, str]]:
        """(name, mountpath) for each own name."""
        for n in names:
            mp = self.mountpath(bck, n)
            if mp is not None:
                yield n, mp


CHUNK = 4096  # names HRW-placed per thread hop (placement is CPU work: off the target's loop)


async def share_batches(share: Share, bck: Bucket, names: Iterator[str],
                        batch: int) -> AsyncIterator[tuple[str, list[str]]]:
    """(mountpath, up to `batch` own names) from a lazy name iterator, placed in a thread chunk by chunk."""

    def place() -> tuple[list[tuple[str, str]], bool]:
        chunk = list(islice(names, CHUNK))
        return list(share.filter(bck, iter(chunk))), len(chunk) < CHUNK

    pending: dict[str, list[str]] = {}
    last = False
    while not last:
        placed, last = await asyncio.to_thread(place)
        for n, mp in placed:
            b = pending.setdefault(mp, [])
            b.append(n)
            if len(b) >= batch:
                yield mp, pending.pop(mp)
    for mp, b in pending.items():
        yield mp, b


WALK_PAGE = 1000


async def walk_objects(h: Any, bck: Bucket, prefix: str) -> AsyncIterator[tuple[str, int]]:
    """(name, size) of every object mountpath actor `h` holds under `prefix`, page by page (the
    walk of jobs over what the cluster holds: copy-bck, ec-encode)."""
    after = ""
    while True:
        page = await h.list_page.remote(bck, prefix, after, WALK_PAGE, False)
        for e in page:
            yield e.name, e.size
        if len(page) < WALK_PAGE:
            return
        after = page[-1].name
