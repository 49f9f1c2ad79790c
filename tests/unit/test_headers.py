"""Header values every GET builds, made cheaply: they must equal the stdlib's."""

from __future__ import annotations

import email.utils
import json
import random
from dataclasses import asdict, replace

import pytest

from ais_ray.core import headers as H
from ais_ray.core.lom import ObjAttrs


def test_last_modified_equals_formatdate() -> None:
    rnd = random.Random(7)
    for s in [1.0, 59.999, 951782400.5, 1709164800.0, 4102444799.9] + [rnd.uniform(1, 4e9) for _ in range(2000)]:
        assert H.last_modified(s) == email.utils.formatdate(s, usegmt=True), s
    assert H.last_modified(0) == ""


def test_obj_attrs_from_bytes_with_known_fields() -> None:
    a = ObjAttrs(size=3, cksum="ab", version="2", copies=("/a", "/b"), custom={"k": "v"})
    assert ObjAttrs.from_bytes(a.to_bytes()) == a
    assert ObjAttrs.from_bytes(a.to_bytes(), size=10) == ObjAttrs(size=10, cksum="ab", version="2",
                                                                 copies=("/a", "/b"), custom={"k": "v"})


def _every_field_set() -> ObjAttrs:
    return ObjAttrs(size=7, cksum_type="md5", cksum="c0ffee", version="4", atime_ns=11, mtime_ns=12,
                    custom={"k": "v", "ü": "\u00e9\u4e2d"}, src_etag='"e"', src_version="v9", src_size=7, job="j1",
                    copies=("/m1", "/m2"))


def test_with_version_is_replace() -> None:
    a = _every_field_set()
    assert all(getattr(a, f) != getattr(ObjAttrs(size=0), f) for f in ObjAttrs.__dataclass_fields__)  # every field told apart
    assert a.with_version("5") == replace(a, version="5")
    assert ObjAttrs(size=1).with_version("1") == replace(ObjAttrs(size=1), version="1")


def test_the_record_is_json_the_stdlib_reads_both_ways() -> None:
    a = _every_field_set()
    raw = a.to_bytes()
    assert json.loads(raw) == {**{k: v for k, v in asdict(a).items() if k != "copies"}, "copies": ["/m1", "/m2"]}
    assert ObjAttrs.from_bytes(raw) == a
    # what the json module wrote (every non-ASCII character escaped) reads the same
    assert ObjAttrs.from_bytes(json.dumps(json.loads(raw)).encode()) == a
    # a lone surrogate in a custom value: written as JSON's escape, read back as it was
    odd = replace(a, custom={"k": "\ud800x"})
    assert ObjAttrs.from_bytes(odd.to_bytes()) == odd
    with pytest.raises(ValueError):
        ObjAttrs.from_bytes(b'{"size": 1')
