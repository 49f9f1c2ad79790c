import pytest

from ais_ray.core.errors import ErrBadRequest, ErrRangeNotSatisfiable
from ais_ray.core.ranges import parse_range


@pytest.mark.parametrize(("header", "size", "want"), [
    ("", 10, None),
    ("bytes=0-0", 10, (0, 1)),
    ("bytes=5-100", 10, (5, 5)),
    ("bytes=3-", 10, (3, 7)),
    ("bytes=-4", 10, (6, 4)),
    ("bytes=-40", 10, (0, 10)),
    ("bytes=9-9", 10, (9, 1)),
    ("BYTES=1-2", 10, (1, 2)),
])
def test_ranges(header, size, want):
    assert parse_range(header, size) == want


@pytest.mark.parametrize(("header", "size"), [
    ("bytes=10-", 10), ("bytes=99999-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=0-", 0), ("bytes=-5", 0),
])
def test_not_satisfiable(header, size):
    with pytest.raises(ErrRangeNotSatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize("header", ["bytes", "bytes=", "bytes=a-b", "bytes=5-1", "items=0-1", "bytes=0-1,3-4", "bytes=-", "bytes=1-2-3"])
def test_malformed(header):
    with pytest.raises(ErrBadRequest):
        parse_range(header, 100)
