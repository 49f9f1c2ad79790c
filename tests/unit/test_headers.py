"""Header values every GET builds, made cheaply: they must equal the stdlib's."""

from __future__ import annotations

import email.utils
import random

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
