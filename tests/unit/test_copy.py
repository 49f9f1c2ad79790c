"""Copy requests and names (issue 10, pure part): TCBMsg as the SDK sends it, AIStore's rules."""

import pytest

from ais_ray.core.copy import TcbMsg, check_copy_buckets, parse_presence, same_copy
from ais_ray.core.errors import ErrBadRequest, ErrInvalidName
from ais_ray.core.names import Bucket, Provider

SDK_BODY = {"prefix": "a/", "prepend": "", "dry_run": False, "force": False, "latest-ver": False,
            "synchronize": False}  # what aistore 2.0.0's bucket.copy always sends


def test_sdk_body():
    m = TcbMsg.from_wire(SDK_BODY)
    assert m.prefix == "a/" and not m.dry_run and m.num_workers == 0
    assert TcbMsg.from_wire(m.to_wire()) == m
    assert TcbMsg.from_wire({"prefix": "img*"}).prefix == "img"  # trailing * trimmed


@pytest.mark.parametrize("body, words", [
    ({"synchronize": True, "prepend": "x-"}, "incompatible"),
    ({"ext": ["jpg"]}, "ext"),
    ({"num-workers": "4"}, "num-workers"),
    ({"num-workers": -2}, "num-workers"),
    ({"prefix": 5}, "prefix"),
    ({"dry_run": "maybe"}, "boolean"),
])
def test_bad_bodies(body, words):
    with pytest.raises(ErrBadRequest, match=words):
        TcbMsg.from_wire(body)
    with pytest.raises(ErrBadRequest):
        TcbMsg.from_wire([1, 2])  # type: ignore[arg-type]


def test_dst_name_ext_then_prepend():
    m = TcbMsg(prepend="new/", ext={"jpg": "png"})
    assert m.dst_name("a/b.jpg") == "new/a/b.png"
    assert m.dst_name("a/b.jpeg") == "new/a/b.jpeg"
    assert m.dst_name("a.jpg/b") == "new/a.jpg/b"  # a dot in a directory is no extension
    assert TcbMsg().dst_name("x") == "x"
    assert TcbMsg.from_wire({"ext": {".jpg": ".png"}}).dst_name("p.jpg") == "p.png"
    with pytest.raises(ErrInvalidName):
        TcbMsg(prepend="/").dst_name("x")


def test_buckets_and_presence():
    check_copy_buckets(Bucket("a"), Bucket("b"), TcbMsg())
    with pytest.raises(ErrBadRequest, match="onto itself"):
        check_copy_buckets(Bucket("a"), Bucket("a"), TcbMsg())
    check_copy_buckets(Bucket("a"), Bucket("a"), TcbMsg(dry_run=True))
    check_copy_buckets(Bucket("s", Provider.AWS), Bucket("s", Provider.AWS), TcbMsg(latest=True))
    assert parse_presence(None) == 2 and parse_presence("0") == 0
    for bad in ("x", "9", "-1"):
        with pytest.raises(ErrBadRequest):
            parse_presence(bad)
    assert same_copy("abc", 3, "abc", 3) and not same_copy("", 3, "", 3) and not same_copy("a", 3, "a", 4)


def test_copy_spec_survives_its_record():
    """A share's saved record (a restarted target resumes from it) gives back the same spec."""
    from ais_ray.core.names import Namespace
    from ais_ray.core.selection import Selection
    from ais_ray.jobs.copy import KIND_OBJS, CopySpec

    specs = [CopySpec(Bucket("a"), Bucket("b", Provider.AWS), TcbMsg(prefix="p/", sync=True, ext={"jpg": "png"})),
             CopySpec(Bucket("ZDE1", Provider.HT), Bucket("d", ns=Namespace("u", "n")), TcbMsg(num_workers=2),
                      KIND_OBJS, Selection(template="s{00..39}")),
             CopySpec(Bucket("s", Provider.AWS), Bucket("d"), TcbMsg(), KIND_OBJS, Selection(names=("x", "y/z")))]
    for spec in specs:
        assert CopySpec.from_wire(spec.to_wire()) == spec


def test_prune_merge_finds_what_the_source_lost():
    import asyncio

    from ais_ray.jobs.prune import missing

    async def it(xs):
        for x in xs:
            yield x

    async def run(have, source):
        return [n async for n in missing(it(have), it(source))]

    assert asyncio.run(run(["a", "b", "c", "d"], ["b", "d", "e"])) == ["a", "c"]
    assert asyncio.run(run(["a", "b"], [])) == ["a", "b"]
    assert asyncio.run(run([], ["a"])) == []
    assert asyncio.run(run(["x/1", "x/2"], ["x/0", "x/1", "x/2", "x/3"])) == []


def test_ec_cover_starts_after_own_copies_landed():
    """A share of an EC source says "my own objects are done" (the cover's `OWN_DONE`) only once every
    object it walked is copied, never while a send is in flight: a node lost after its walk but
    mid-send would otherwise be counted done, and the objects it was sending adopted by nobody."""
    import asyncio
    import functools
    from types import SimpleNamespace

    from ais_ray.core.xact import XactSnap
    from ais_ray.jobs.batches import Gates
    from ais_ray.jobs.copy import CopyHooks, CopySpec, run_copy
    from ais_ray.jobs.ec_cover import OWN_DONE

    landed: list[str] = []
    seen_at_cover: list[list[str]] = []

    class Mountpath:  # the two calls a copy-bck share makes of a mountpath actor, in-process
        async def _list(self, bck, prefix, after, n, _):  # noqa: ANN001, ANN202
            return [SimpleNamespace(name=f"o{i}", size=1) for i in range(5) if f"o{i}" > after][:n]

        async def _copy(self, name, *rest):  # noqa: ANN001, ANN002, ANN202
            await asyncio.sleep(0.01 * (5 - int(name[1:])))  # still in flight when the walk ends
            landed.append(name)
            return "ok", 1

        async def _batch(self, op, key, workers, args, items):  # noqa: ANN001, ANN202 - `run_batch`, in-process
            assert op == "copy"
            return await self.gates.run(key, workers, [functools.partial(self._copy, *item, *args) for item in items])

        def __init__(self) -> None:
            self.gates = Gates()
            self.list_page = SimpleNamespace(remote=self._list)
            self.run_batch = SimpleNamespace(remote=self._batch)

    async def cover(snap, src, prefix):  # noqa: ANN001, ANN202
        snap.extra[OWN_DONE] = True
        seen_at_cover.append(sorted(landed))
        return
        yield

    src, dst = Bucket("src", Provider.AIS), Bucket("dst", Provider.AIS)
    spec = CopySpec(src, dst, TcbMsg.from_wire({}))
    hooks = CopyHooks(share=None, mountpaths={"/mp1": Mountpath()}, list_for=None,  # type: ignore[arg-type]
                      src_names=None, cover=cover)  # type: ignore[arg-type]
    snap = XactSnap("x1", "copy-bck")
    asyncio.run(run_copy(spec, hooks, snap))
    assert seen_at_cover == [[f"o{i}" for i in range(5)]] and snap.stats.objs == 5
