"""BMD persistence: a damaged record never stops a node from starting (issue 15 item 1)."""

from ais_ray.core.bmd import BMD, bucket_key
from ais_ray.core.names import Bucket, Namespace, Provider


def test_round_trip():
    bmd = BMD(uuid="u").with_bucket(Bucket("a")).with_bucket(Bucket("b", Provider.AWS, Namespace("x", "y")))
    again = BMD.from_wire(bmd.to_wire())
    assert again == bmd
    assert again.list() == bmd.list()


def test_unparseable_bucket_entries_are_dropped_and_named():
    bmd = BMD(uuid="u").with_bucket(Bucket("good"))
    wire = bmd.to_wire()
    good = wire["buckets"][bucket_key(Bucket("good"))]
    wire["buckets"]["ais/@../..#x/evil/"] = good  # written before namespaces were validated
    wire["buckets"]["zz/@#/b/"] = good  # unknown provider
    wire["buckets"]["ais/@#/c/"] = {"created": "not a number"}  # damaged props
    dropped: list[str] = []
    loaded = BMD.from_wire(wire, dropped=dropped)
    assert loaded.list() == [Bucket("good")]
    assert sorted(dropped) == ["ais/@#/c/", "ais/@../..#x/evil/", "zz/@#/b/"]


def test_move_marks_both_buckets_then_ends_either_way():
    from dataclasses import replace

    import pytest

    from ais_ray.core.errors import ErrBckAlreadyExists, ErrBckNotFound, ErrBusy, ErrUnsupported
    from ais_ray.core.redundancy import MirrorConf

    src, dst = Bucket("src"), Bucket("dst")
    bmd = BMD(uuid="u").with_bucket(src)
    bmd = bmd.with_bucket(src, replace(bmd.must_get(src), mirror=MirrorConf(enabled=True, copies=2)), exist_ok=True)
    moving = bmd.with_move(src, dst, "x1")
    assert moving.version == bmd.version + 1  # one version: the new name and both marks
    m = moving.must_get(src).moving
    assert m is not None and (m.xid, m.src, m.dst) == ("x1", src, dst)
    assert moving.must_get(dst).moving == m and moving.must_get(dst).mirror.copies == 2  # the source's props
    assert moving.moves() == [m]
    assert BMD.from_wire(moving.to_wire()) == moving  # kept across restarts
    for b in (src, dst):
        with pytest.raises(ErrBusy, match=r"move-bck\[x1\]"):
            moving.must_get(b).check_writable(b)
    with pytest.raises(ErrBusy):  # renamed again while it runs
        moving.with_move(src, Bucket("third"), "x2")
    with pytest.raises(ErrBckAlreadyExists):
        bmd.with_bucket(dst).with_move(src, dst, "x3")
    with pytest.raises(ErrBckNotFound):
        bmd.with_move(Bucket("nope"), dst, "x4")
    with pytest.raises(ErrUnsupported):
        bmd.with_bucket(Bucket("s", Provider.AWS)).with_move(Bucket("s", Provider.AWS), dst, "x5")
    with pytest.raises(ErrUnsupported):
        bmd.with_move(src, Bucket("d", Provider.AWS), "x6")

    done = moving.with_move_ended(m, done=True)
    assert src not in done and done.must_get(dst).moving is None and done.moves() == []
    done.must_get(dst).check_writable(dst)
    back = moving.with_move_ended(m, done=False)
    assert dst not in back and back.must_get(src).moving is None and back.must_get(src).mirror.copies == 2
