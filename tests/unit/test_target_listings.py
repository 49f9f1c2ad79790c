"""Who lists a job's remote pages (`actors/target_listings.py`): the job id's HRW owner among the
active targets lists, the others ask it, and list for themselves when it cannot answer — for a
backend download (`TargetDownloads._list_remote`) as for a prefetch or a copy of a prefix."""

from __future__ import annotations

import asyncio
from typing import Any

from ais_ray.actors.target_dl import TargetDownloads
from ais_ray.actors.target_listings import SharedListings
from ais_ray.backends.base import ListPage, RemoteObj
from ais_ray.core import hrw
from ais_ray.core.bmd import RemoteRef
from ais_ray.core.dload import DlKind, DlSpec
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.smap import MountpathInfo, Smap, Snode
from ais_ray.stats.counters import Counters

SRC = RemoteRef(Bucket("src", Provider.AWS), "src")


def _smap(tids: list[str]) -> Smap:
    nodes = {t: Snode(t, "target", f"http://{t}", 0, (MountpathInfo(f"/{t}/a", ""),)) for t in tids}
    return Smap("u", 1, Snode("p", "proxy", "http://p", 0), nodes)


class _Lister:
    """Another target's handle as `SharedListings.fetch` calls it: `remote_page.options(...).remote(...)`."""

    def __init__(self, answer: ListPage | Exception) -> None:
        self.answer, self.asked = answer, []
        self.remote_page = self

    def options(self, **opts: Any) -> _Lister:
        assert opts == {"max_task_retries": 0}  # a gone lister must fail the call, not be waited for
        return self

    def remote(self, key: str, src: RemoteRef, prefix: str, token: str) -> Any:
        self.asked.append((key, src, prefix, token))

        async def answer() -> ListPage:
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        return answer()


def _listings(lister: _Lister, tids: tuple[str, ...] = ("t1", "t2")) -> tuple[SharedListings, list[str]]:
    smap = _smap(list(tids))
    ls = SharedListings("t1", lambda: smap, lambda tid: lister, Counters())
    own: list[str] = []

    def fetch(src: RemoteRef, prefix: str) -> Any:
        async def page(token: str) -> ListPage:
            own.append(token)
            return ListPage([RemoteObj("mine", 1)], "")
        return page

    ls.own = fetch  # type: ignore[method-assign]  # this target's own listing, without a backend
    return ls, own


def _key(lister: str) -> str:
    """A job id whose pages `lister` lists."""
    targets = _smap(["t1", "t2"]).active_targets()
    return next(f"job-{i}" for i in range(1000) if hrw.target_for(f"job-{i}", targets) == lister)


def test_pages_come_from_the_jobs_lister() -> None:
    lister = _Lister(ListPage([RemoteObj("theirs", 1)], ""))
    ls, own = _listings(lister)

    async def main() -> None:
        key = _key("t2")
        page = await ls.fetch(key, SRC, "p/")("")
        assert [e.name for e in page.entries] == ["theirs"] and lister.asked == [(key, SRC, "p/", "")] and own == []
        page = await ls.fetch(_key("t1"), SRC, "p/")("tok")  # this target is the lister: lists itself
        assert [e.name for e in page.entries] == ["mine"] and own == ["tok"] and len(lister.asked) == 1

    asyncio.run(main())


def test_the_lister_lists_each_page_once_for_every_target() -> None:
    ls, own = _listings(_Lister(RuntimeError("not asked")), ("t1", "t2", "t3"))

    async def main() -> None:
        targets = _smap(["t1", "t2", "t3"]).active_targets()
        key = next(f"j{i}" for i in range(1000) if hrw.target_for(f"j{i}", targets) == "t1")
        for _ in range(3):  # this target's walk, and the two others asking it (`remote_page`)
            await ls.page(key, SRC, "", "")
        assert own == [""]
        await ls.page(key, SRC, "", "")  # all three had it: dropped, a fourth ask lists again
        assert own == ["", ""]

    asyncio.run(main())


def test_a_lister_that_cannot_answer_costs_only_the_sharing() -> None:
    lister = _Lister(RuntimeError("actor died"))
    ls, own = _listings(lister)

    async def main() -> None:
        page = await ls.fetch(_key("t2"), SRC, "")("tok")
        assert [e.name for e in page.entries] == ["mine"] and len(lister.asked) == 1 and own == ["tok"]

    asyncio.run(main())


def test_a_backend_download_walks_the_shared_listing() -> None:
    lister = _Lister(ListPage([RemoteObj("theirs", 1)], ""))
    ls, own = _listings(lister)
    smap = _smap(["t1", "t2"])
    d = TargetDownloads("t1", {}, [], lambda: smap, None, ls)  # type: ignore[arg-type]
    spec = DlSpec(_key("t2"), DlKind.BACKEND, Bucket("dst"), src=Bucket("src", Provider.AWS), prefix="p/")

    async def main() -> None:
        page = await d._list_remote(spec, "")  # noqa: SLF001
        assert [e.name for e in page.entries] == ["theirs"] and lister.asked == [(spec.id, SRC, "p/", "")]

    asyncio.run(main())
