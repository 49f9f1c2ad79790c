"""One selection: names | template | prefix, lazily; the one remote pager over a plain async page source, and\nits pages shared by several walkers."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from itertools import islice

import pytest

from ais_ray.backends.base import ListPage, RemoteObj
from ais_ray.backends.pager import SharedPages, names, pages
from ais_ray.core.errors import AisError, ErrBadRequest, ErrInvalidName, ErrInvalidTemplate
from ais_ray.core.names import Bucket
from ais_ray.core.selection import Selection
from ais_ray.core.smap import MountpathInfo, Smap, Snode
from ais_ray.jobs.selection import Share, placed, select, share_batches


def test_ten_million_name_template_is_lazy() -> None:
    sel = Selection.from_msg({"template": "shard-{0000000..9999999}.tar"})
    assert sel.count() == 10_000_000 and not sel.is_listing
    tracemalloc.start()
    t0 = time.monotonic()
    it = sel.iter()
    first = next(it)
    tail = next(sel.iter(9_999_998))
    assert list(islice(sel.iter(9_999_998), 5)) == ["shard-9999998.tar", "shard-9999999.tar"]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (first, tail) == ("shard-0000000.tar", "shard-9999998.tar")
    assert peak < 1 << 20, peak  # no list of names
    assert time.monotonic() - t0 < 1.0


def test_names_and_prefix() -> None:
    sel = Selection.from_msg({"objnames": ["a", "b/c", "d"]})
    assert sel.count() == 3 and list(sel.iter(1)) == ["b/c", "d"]
    for value in ({"template": "logs/"}, {"template": "logs/*"}):
        sel = Selection.from_msg(value)
        assert sel.is_listing and sel.prefix == "logs/" and sel.count() == -1
    assert Selection.from_msg({}) == Selection()  # the whole bucket
    with pytest.raises(ValueError):
        Selection(prefix="x").iter()


def test_bad_selections_are_400() -> None:
    with pytest.raises(ErrBadRequest):
        Selection.from_msg({}, listing=False)
    with pytest.raises(ErrInvalidTemplate):
        Selection.from_msg({"template": "logs/"}, listing=False)
    with pytest.raises(ErrBadRequest):
        Selection.from_msg({"objnames": 5})
    with pytest.raises(ErrInvalidName):
        Selection.from_msg({"objnames": ["ok", "../x"]})
    with pytest.raises(ErrInvalidName):
        Selection.from_msg({"template": "x" * 1100 + "{0..9}"})


def _source(all_names: list[str], page_size: int, calls: list[str]) -> Callable[[str], Awaitable[ListPage]]:
    """A plain page source: token = index of the page's first name."""

    async def fetch(token: str) -> ListPage:
        calls.append(token)
        i = int(token or 0)
        nxt = i + page_size
        return ListPage([RemoteObj(n, 1) for n in all_names[i:nxt]], str(nxt) if nxt < len(all_names) else "")

    return fetch


def test_pager_pages_and_resumes_from_a_token() -> None:
    all_names = [f"o{i:03d}" for i in range(25)]

    async def main() -> None:
        calls: list[str] = []
        got = [p async for p in pages(_source(all_names, 10, calls))]
        assert [len(p.entries) for p in got] == [10, 10, 5] and calls == ["", "10", "20"]
        assert [n async for n in names(_source(all_names, 10, []), "20")] == all_names[20:]
        chunks = [c async for c in select(Selection(prefix="o"), lambda prefix: _source(all_names, 7, []))]
        assert [len(c) for c in chunks] == [7, 7, 7, 4]  # a listing page by page
        assert [n for c in chunks for n in c] == all_names
        assert [c async for c in select(Selection(names=("x", "y")), None)] == [["x", "y"]]
        tpl = [c async for c in select(Selection(template="n-{0000..1199}"), None)]
        assert [len(c) for c in tpl] == [512, 512, 176]

    asyncio.run(main())


def test_pager_asks_the_next_page_while_the_walker_is_busy() -> None:
    """The next page is asked as soon as a page is in (one request at a time still); a walker
    that stops early leaves no request running, and a page asked ahead that fails is nobody's error."""
    all_names = [f"o{i:03d}" for i in range(30)]

    async def main() -> None:
        calls: list[str] = []
        fetch = _source(all_names, 10, calls)
        seen = []
        async for page in pages(fetch):
            await asyncio.sleep(0.01)  # busy with this page: the next one is asked meanwhile
            seen.append((page.entries[0].name, list(calls)))
        assert seen == [("o000", ["", "10"]), ("o010", ["", "10", "20"]), ("o020", ["", "10", "20"])]

        started, cancelled = [], []

        async def slow(token: str) -> ListPage:
            started.append(token)
            if token:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    cancelled.append(token)
                    raise
            return ListPage([RemoteObj("x", 1)], "next")

        walk = pages(slow)
        assert (await walk.__anext__()).next_token == "next"
        await asyncio.sleep(0)
        await walk.aclose()  # the walker stops: the page asked ahead is dropped
        await asyncio.sleep(0)
        assert started == ["", "next"] and cancelled == ["next"]

        async def broken_after_first(token: str) -> ListPage:
            if token:
                raise RuntimeError("listing failed")
            return ListPage([RemoteObj("x", 1)], "next")

        lost: list[dict] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: lost.append(ctx))
        walk = pages(broken_after_first)
        await walk.__anext__()
        await asyncio.sleep(0.01)  # the page ahead has failed by now
        await walk.aclose()
        gc.collect()
        await asyncio.sleep(0)
        assert not lost  # its error was taken, not logged as never retrieved
        with pytest.raises(RuntimeError):  # a walker that goes on gets it
            async for _ in pages(broken_after_first):
                pass

    asyncio.run(main())


def test_shared_pages_list_each_page_once_for_all_walkers() -> None:
    all_names = [f"o{i:03d}" for i in range(25)]

    async def main() -> None:
        calls: list[str] = []
        shared = SharedPages()
        fetch = _source(all_names, 10, calls)

        async def walk() -> list[str]:
            return [n async for n in names(lambda token: shared.page("job", token, fetch, walkers=3))]

        got = await asyncio.gather(walk(), walk(), walk())  # three targets, one listing
        assert got == [all_names] * 3 and calls == ["", "10", "20"]
        assert not shared._by_key["job"]  # noqa: SLF001 - every page dropped once all three had it
        # a fourth walk (a repass) lists again
        assert await walk() == all_names and calls == ["", "10", "20"] * 2
        shared.forget("job")
        assert "job" not in shared._by_key  # noqa: SLF001

    asyncio.run(main())


def test_shared_pages_bounds_and_errors() -> None:
    async def main() -> None:
        calls: list[str] = []
        shared = SharedPages(keep=2, listings=2)
        fetch = _source([f"o{i}" for i in range(50)], 10, calls)
        for token in ("", "10", "20"):  # one walker of two: nothing is dropped as had by all
            await shared.page("a", token, fetch, walkers=2)
        assert list(shared._by_key["a"]) == ["10", "20"]  # noqa: SLF001 - at most `keep` pages
        await shared.page("a", "", fetch, walkers=2)  # fell too far behind: listed again
        assert calls == ["", "10", "20", ""]
        await shared.page("b", "", fetch, walkers=2)
        await shared.page("c", "", fetch, walkers=2)
        assert list(shared._by_key) == ["b", "c"]  # noqa: SLF001 - at most `listings` listings

        fails = [RuntimeError("listing failed")]

        async def flaky(token: str) -> ListPage:
            await asyncio.sleep(0.01)
            if fails:
                raise fails.pop()
            return ListPage([RemoteObj("x", 1)], "")

        # both waiters get the error; it is not kept: the next ask lists anew
        res = await asyncio.gather(*(shared.page("d", "", flaky, walkers=2) for _ in range(2)), return_exceptions=True)
        assert [type(r) for r in res] == [RuntimeError, RuntimeError]
        assert (await shared.page("d", "", flaky, walkers=2)).entries[0].name == "x"

        # a waiter cancelled does not cancel the listing the others wait for
        slow_calls: list[str] = []

        async def slow(token: str) -> ListPage:
            slow_calls.append(token)
            await asyncio.sleep(0.05)
            return ListPage([RemoteObj("y", 1)], "")

        first = asyncio.ensure_future(shared.page("e", "", slow, walkers=2))
        second = asyncio.ensure_future(shared.page("e", "", slow, walkers=2))
        await asyncio.sleep(0.01)
        first.cancel()
        assert (await second).entries[0].name == "y" and slow_calls == [""]

    asyncio.run(main())


def _smap(tids: list[str]) -> Smap:
    nodes = {t: Snode(t, "target", f"http://{t}", 0, (MountpathInfo(f"/{t}/a", ""), MountpathInfo(f"/{t}/b", "")))
             for t in tids}
    return Smap("u", 1, Snode("p", "proxy", "http://p", 0), nodes)


async def each_of(share: Share, bck: Bucket, sel: Selection) -> list[tuple[str, str]]:
    return [p async for p in placed(share, bck, select(sel, None))]


def test_share_reads_the_current_smap() -> None:
    bck = Bucket("b")
    current = {"smap": _smap(["t1", "t2"])}
    shares = {t: Share(t, lambda: current["smap"], [f"/{t}/a", f"/{t}/b"]) for t in ("t1", "t2", "t3")}
    sel = Selection(template="n-{000..999}")
    own = {t: dict(s.filter(bck, sel.iter())) for t, s in shares.items()}
    assert len(own["t1"]) + len(own["t2"]) == 1000 and not own["t3"] and own["t1"].keys().isdisjoint(own["t2"])
    current["smap"] = _smap(["t1", "t2", "t3"])  # a target joins: the same Share sees it at once
    assert 0 < len(dict(shares["t3"].filter(bck, sel.iter()))) < 1000

    async def batches() -> list[tuple[str, list[str]]]:
        return [b async for b in share_batches(shares["t1"], bck, sel.iter(), 50)]

    got = asyncio.run(batches())
    assert all(len(b) <= 50 and mp.startswith("/t1/") for mp, b in got)
    assert sorted(n for _, b in got for n in b) == sorted(dict(shares["t1"].filter(bck, sel.iter())))

    async def each(t: str) -> list[tuple[str, str]]:
        return [p async for p in placed(shares[t], bck, select(sel, None))]

    # a job's walk: every name placed once, on the mountpath `Share.mountpath` gives it one by one
    placed_all = {t: asyncio.run(each(t)) for t in shares}
    assert sorted(n for pairs in placed_all.values() for n, _ in pairs) == sorted(sel.iter())
    for t, pairs in placed_all.items():
        assert all(shares[t].mountpath(bck, n) == mp for n, mp in pairs)
    with pytest.raises(AisError, match="not served here"):  # the map places names on a disk this target lacks
        asyncio.run(each_of(Share("t1", lambda: current["smap"], ["/t1/a"]), bck, sel))
