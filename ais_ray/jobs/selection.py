"""A selection iterated on a target: names and templates lazily, a prefix by the one remote pager.

`Share` keeps what this target owns under its *current* Smap (read at each chunk of names through
the `smap` hook, never a copy taken when the job started) and says on which mountpath.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any
from itertools import islice

from ais_ray.backends.pager import Fetch
from ais_ray.backends.pager import pages
from ais_ray.core.errors import AisError
from ais_ray.core.names import Bucket
from ais_ray.core.selection import Selection
from ais_ray.core.smap import Smap

ListFor = Callable[[str], Fetch]  # prefix -> page source of the listing under it


async def select(sel: Selection, list_for: ListFor | None) -> AsyncIterator[list[str]]:
    """Every name of the selection, lazily, in lists: a template or list PLACE_CHUNK names at a
    time, a prefix selection page by page as `list_for(prefix)` lists it."""
    if not sel.is_listing:
        it = sel.iter()
        while chunk := list(islice(it, PLACE_CHUNK)):
            yield chunk
        return
    if list_for is None:
        raise AisError(f'cannot list "{sel.prefix}": the bucket has no remote to list')
    async for page in pages(list_for(sel.prefix)):
        yield [e.name for e in page.entries]


async def placed(share: Share, bck: Bucket, chunks: AsyncIterator[list[str]]) -> AsyncIterator[tuple[str, str]]:
    """(name, mountpath) of each name in `chunks` this target owns, a chunk placed at once."""
    async for chunk in chunks:
        for n, mp in zip(chunk, share.place(bck, chunk)):
            if mp is not None:
                yield n, mp


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

    def place(self, bck: Bucket, names: list[str]) -> list[str | None]:
        """`mountpath` of each name, placed all at once (`Smap.own_mountpaths`)."""
        smap = self._smap()
        if smap is None:
            raise AisError(f"t[{self.tid}]: no cluster map yet")
        pre = bck.uname_prefix
        out = smap.own_mountpaths(self.tid, [pre + n for n in names])
        for n, mp in zip(names, out):
            if mp is not None and mp not in self.mountpaths:
                raise AisError(f"t[{self.tid}]: the cluster map places {bck}/{n} on {mp}, not served here")
        return out

    def filter(self, bck: Bucket, names: Iterator[str]) -> Iterator[tuple[str, str]]:
        """(name, mountpath) for each own name, placed CHUNK names at a time."""
        while chunk := list(islice(names, CHUNK)):
            for n, mp in zip(chunk, self.place(bck, chunk)):
                if mp is not None:
                    yield n, mp


PLACE_CHUNK = 512  # names of a template or list placed at once by `placed` (on the loop: ~0.5 ms)
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
