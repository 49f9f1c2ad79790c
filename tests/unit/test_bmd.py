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
