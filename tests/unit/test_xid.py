"""Job ids must look like AIStore's (`cmn/cos/uuid.go`) and never collide in practice."""

from __future__ import annotations

import pytest

from ais_ray.core.xid import (
    UUID_ABC,
    gen_download_id,
    gen_rebalance_id,
    gen_uuid,
    is_valid_uuid,
    parse_rebalance_id,
)


def test_gen_uuid_shape() -> None:
    ids = [gen_uuid() for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    for xid in ids:
        assert 9 <= len(xid) <= 11, xid
        assert xid[0].isascii() and xid[0].isalpha(), xid
        assert xid[-1] not in "-_", xid
        assert all(c in UUID_ABC for c in xid), xid
        assert is_valid_uuid(xid), xid
        assert parse_rebalance_id(xid) is None, xid


def test_gen_uuid_uses_whole_alphabet() -> None:
    seen = set("".join(gen_uuid() for _ in range(2000)))
    assert seen == set(UUID_ABC)


@pytest.mark.parametrize("xid", ["cudIYMAqg", "QdwOYMAqg", "c7nsf2UG9", "a-b_c-d_e", "123456789", "x" * 32])
def test_valid_uuids(xid: str) -> None:
    assert is_valid_uuid(xid)


@pytest.mark.parametrize(
    "xid",
    ["", "cudIYMAq", "-cudIYMAqg", "cudIYMAqg_", "cud IYMAqg", "cud.IYMAqg", "cudIYMAqé1", "x" * 33, "dnl-c7nsf2UG9!"],
)
def test_invalid_uuids(xid: str) -> None:
    assert not is_valid_uuid(xid)


def test_download_id() -> None:
    xid = gen_download_id()
    assert xid.startswith("dnl-")
    assert is_valid_uuid(xid[4:])
    assert is_valid_uuid(xid)  # "dnl-" + 9..11 chars is itself alpha-nice


def test_rebalance_ids() -> None:
    assert gen_rebalance_id(0) == "g0"
    assert gen_rebalance_id(17) == "g17"
    assert parse_rebalance_id("g17") == 17
    assert parse_rebalance_id("g") is None
    assert parse_rebalance_id("gabc") is None
    assert parse_rebalance_id("dnl-c7nsf2UG9") is None
    with pytest.raises(ValueError, match="non-negative"):
        gen_rebalance_id(-1)
