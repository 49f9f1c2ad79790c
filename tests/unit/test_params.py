"""The accepted-parameter table (core/params.py) and the listing flag names (core/lsflags.py)."""

from __future__ import annotations

import pytest

from ais_ray.core import lsflags as F
from ais_ray.core.errors import ErrBadRequest, ErrUnsupported
from ais_ray.core.params import REFUSED, ROUTES, check, route_of


@pytest.mark.parametrize("path,route", [
    ("/v1/objects/b/o", "object"), ("/v1/objects/b/a/b/c", "object"), ("/v1/objects/b", "objects"),
    ("/v1/buckets", "buckets"), ("/v1/buckets/", "buckets"), ("/v1/buckets/b", "bucket"),
    ("/v1/cluster", "cluster"), ("/v1/daemon", "daemon"), ("/v1/health", "health"),
    ("/v1/download/abort", "download"), ("/docs", ""), ("/openapi.json", ""), ("/v1/nope", ""),
])
def test_route_of(path: str, route: str) -> None:
    assert route_of(path) == route


def test_accepted_parameters_pass() -> None:
    check("GET", "/v1/objects/b/o", [("provider", "ais"), ("namespace", ""), ("archpath", "x"), ("archregx", ""),
                                     ("latest-ver", "true")])
    check("PUT", "/v1/objects/b/o", [("object_to", "ais/@#/b2/o"), ("latest-ver", "false"), ("synchronize", "false")])
    check("HEAD", "/v1/objects/b/o", [("props", "name,size")])
    check("GET", "/v1/cluster", [("what", "config")])
    check("GET", "/v1/health", [("prr", "true")])
    check("GET", "/docs", [("anything", "x")])  # outside the table


@pytest.mark.parametrize("method,path,key", [
    ("GET", "/v1/objects/b/o", "etl_fqn"),
    # append_type / append_handle / uploadId / partNumber are implemented now (issue 19): their
    # values are checked by core/mpu.py::check_put at both edges (tests/unit/test_mpu.py)
])
def test_known_unsupported_is_refused_naming_it(method: str, path: str, key: str) -> None:
    with pytest.raises(ErrUnsupported, match=f'"{key}"'):
        check(method, path, [("provider", "ais"), (key, "v")])


@pytest.mark.parametrize("method,path,key", [
    ("GET", "/v1/objects/b/o", "object_to"),  # a PUT parameter on GET
    ("HEAD", "/v1/objects/b/o", "archpath"),
    ("GET", "/v1/objects/b/o", "bogus"),
    ("GET", "/v1/buckets/b", "presence"),
    ("DELETE", "/v1/objects/b/o", "props"),
])
def test_unknown_for_route_is_bad_request_naming_it(method: str, path: str, key: str) -> None:
    with pytest.raises(ErrBadRequest, match=f'"{key}"'):
        check(method, path, [(key, "x")])


def test_inline_etl_parameters_accepted_on_get() -> None:
    """Issue 13: GET takes etl_name / etl_args / etl_pipeline (inline transform), PUT too (copy through an ETL)."""
    check("GET", "/v1/objects/b/o", [("etl_name", "upper-etl"), ("etl_args", "x"), ("etl_pipeline", "rev-etl")])
    check("PUT", "/v1/objects/b/o", [("object_to", "ais/@#/b2/o"), ("etl_name", "upper-etl")])
    check("GET", "/v1/etl/upper-etl", [("uuid", "x")])


def test_empty_value_counts_as_absent() -> None:
    check("GET", "/v1/objects/b/o", [("etl_name", "")])


def test_tables_do_not_overlap() -> None:
    for by_method in ROUTES.values():
        for accepted in by_method.values():
            assert not accepted & REFUSED.keys()


def test_lsflags_unsupported_names() -> None:
    assert F.unsupported(F.NO_RECURSION | F.NO_DIRS | F.ARCH_DIR | F.NAME_ONLY | F.CACHED) == []
    assert F.unsupported(F.MISSING | F.DIFF) == ["MISSING", "DIFF"]
    assert F.unsupported(1 << 20) == ["bit 20"]
