"""Who lists a backend download job's pages (`actors/target_dl.py`): the job id's HRW owner among
the active targets lists, the others ask it, and list for themselves when it cannot answer."""

from __future__ import annotations

import asyncio
from typing import Any

from ais_ray.actors.target_dl import TargetDownloads
from ais_ray.backends.base import ListPage, RemoteObj
from ais_ray.core import hrw
from ais_ray.core.dload import DlKind, DlSpec
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.smap import MountpathInfo, Smap, Snode
from ais_ray.stats.counters import Counters


def _smap(tids: list[str]) -> Smap:
    nodes = {t: Snode(t, "target", f"http://{t}", 0, (MountpathInfo(f"/{t}/a", ""),)) for t in tids}
    return Smap("u", 1, Snode("p", "proxy", "http://p", 0), nodes)


class _Lister:
    """Another target's handle as `_list_remote` calls it: `dl_page.options(...).remote(spec, token)`."""

    def __init__(self, answer: ListPage | Exception) -> None:
        self.answer, self.asked = answer, []
        self.dl_page = self

    def options(self, **opts: Any) -> _Lister:
        assert opts == {"max_task_retries": 0}  # a gone lister must fail the call, not be waited for
        return self

    def remote(self, spec: DlSpec, token: str) -> Any:
        self.asked.append(token)

        async def answer() -> ListPage:
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        return answer()


def _downloads(lister: _Lister) -> tuple[TargetDownloads, list[str]]:
    smap = _smap(["t1", "t2"])
    d = TargetDownloads("t1", {}, [], lambda: smap, None, target_handle=lambda tid: lister,  # type: ignore[arg-type]
                        counters=Counters())
    own: list[str] = []

    def fetch(spec: DlSpec) -> Any:
        async def page(token: str) -> ListPage:
            own.append(token)
            return ListPage([RemoteObj("mine", 1)], "")
        return page

    d._fetch = fetch  # type: ignore[method-assign]  # noqa: SLF001 - this target's own listing, without a backend
    return d, own


def _job(lister: str) -> DlSpec:
    """A backend job whose pages `lister` lists."""
    targets = _smap(["t1", "t2"]).active_targets()
    jid = next(f"dnl-{i}" for i in range(1000) if hrw.target_for(f"dnl-{i}", targets) == lister)
    return DlSpec(jid, DlKind.BACKEND, Bucket("dst"), src=Bucket("src", Provider.AWS))


def test_pages_come_from_the_jobs_lister() -> None:
    lister = _Lister(ListPage([RemoteObj("theirs", 1)], ""))
    d, own = _downloads(lister)

    async def main() -> None:
        page = await d._list_remote(_job("t2"), "")  # noqa: SLF001
        assert [e.name for e in page.entries] == ["theirs"] and lister.asked == [""] and own == []
        page = await d._list_remote(_job("t1"), "tok")  # noqa: SLF001 - this target is the lister: lists itself
        assert [e.name for e in page.entries] == ["mine"] and own == ["tok"] and lister.asked == [""]

    asyncio.run(main())


def test_a_lister_that_cannot_answer_costs_only_the_sharing() -> None:
    lister = _Lister(RuntimeError("actor died"))
    d, own = _downloads(lister)

    async def main() -> None:
        page = await d._list_remote(_job("t2"), "tok")  # noqa: SLF001
        assert [e.name for e in page.entries] == ["mine"] and lister.asked == ["tok"] and own == ["tok"]

    asyncio.run(main())
