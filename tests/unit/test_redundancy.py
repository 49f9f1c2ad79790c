"""Bucket redundancy props: mirror and EC, merged from set-bprops values and validated as AIStore."""

import pytest

from ais_ray.core.bmd import BMD, BucketProps
from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.names import Bucket
from ais_ray.core.redundancy import ECConf, MirrorConf, check_ec_change, dotted, merge_ec, merge_mirror


def test_mirror_merge_and_validate():
    m = merge_mirror(MirrorConf(), {"enabled": "true", "copies": "3"})
    assert m == MirrorConf(True, 3) and m.n == 3
    assert MirrorConf().n == 1
    assert merge_mirror(MirrorConf(), {"enabled": True, "copies": 0}).copies == 2
    for bad in (1, 33):
        with pytest.raises(ErrBadRequest, match=r"invalid mirror.copies: %d \(expected value in range \[2, 32\]\)" % bad):
            merge_mirror(MirrorConf(), {"enabled": True, "copies": bad}).validate()
    MirrorConf(False, 1).validate()  # disabled: not checked, as AIStore
    with pytest.raises(ErrBadRequest, match="mirror.copies"):
        merge_mirror(MirrorConf(), {"copies": "three"})
    with pytest.raises(ErrBadRequest, match='unknown bucket property "mirror.bogus"'):
        merge_mirror(MirrorConf(), {"bogus": 1})
    with pytest.raises(ErrBadRequest, match="expecting an object"):
        merge_mirror(MirrorConf(), [1, 2])


def test_ec_merge_validate_and_targets():
    ec = merge_ec(ECConf(), {"enabled": True, "data_slices": 3, "parity_slices": 1, "objsize_limit": 0})
    assert ec.required_targets == 5 and ec.sliced(1) and ec.sliced(0)
    ec.validate(5)
    with pytest.raises(ErrBadRequest, match=r"EC configuration \(D = 3, P = 1\) requires at least 5 targets \(have 4\)"):
        ec.validate(4)
    rep = merge_ec(ECConf(), {"enabled": True, "parity_slices": 2, "objsize_limit": -1})
    assert rep.required_targets == 3 and not rep.sliced(1 << 30)
    lim = ECConf(True, 2, 2, 1000)
    assert not lim.sliced(999) and lim.sliced(1000)
    with pytest.raises(ErrBadRequest, match="invalid ec.data_slices: 33"):
        ECConf(True, 33, 1, 0).validate(100)
    with pytest.raises(ErrBadRequest, match="invalid ec.objsize_limit: -2"):
        ECConf(True, 2, 2, -2).validate(100)
    ECConf(False, 99, 99, -5).validate(0)  # disabled: nothing to check


def test_ec_cannot_change_once_enabled():
    on = ECConf(True, 3, 1, 0)
    check_ec_change(ECConf(), on, force=False)
    check_ec_change(on, on, force=False)
    with pytest.raises(ErrBadRequest, match="cannot be disabled or changed"):
        check_ec_change(on, ECConf(False, 3, 1, 0), force=True)
    with pytest.raises(ErrBadRequest, match="cannot be disabled or changed"):
        check_ec_change(on, ECConf(True, 2, 1, 0), force=True)
    with pytest.raises(ErrBadRequest, match="requires force"):
        check_ec_change(on, ECConf(True, 3, 1, 4096), force=False)
    check_ec_change(on, ECConf(True, 3, 1, 4096), force=True)


def test_dotted_and_bmd_roundtrip():
    assert dotted({"mirror.enabled": "true", "mirror.copies": "3", "versioning": "x"}) == {
        "mirror": {"enabled": "true", "copies": "3"}, "versioning": "x"}
    props = BucketProps(created=1, bid=2, mirror=MirrorConf(True, 3), ec=ECConf(True, 3, 1, 0))
    bmd = BMD("u", 1).with_bucket(Bucket("b"), props)
    back = BMD.from_wire(bmd.to_wire()).get(Bucket("b"))
    assert back is not None and back.mirror == MirrorConf(True, 3) and back.ec == ECConf(True, 3, 1, 0)
    wire = props.to_wire(Bucket("b"))
    assert wire["mirror"] == {"enabled": True, "copies": 3, "burst_buffer": 0}
    assert wire["ec"]["data_slices"] == 3 and wire["ec"]["objsize_limit"] == 0
    old = {"created": 1, "bid": 2, "versioning": True, "backend_bck": "", "extra": {}}  # a record from before
    assert BMD.from_wire({"uuid": "u", "version": 1, "buckets": {"ais/@#/b/": old}}).get(Bucket("b")).mirror == MirrorConf()
