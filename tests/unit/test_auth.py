"""Tokens, grants and the access rule per request (issue 15 item 10)."""

import time

import pytest

from ais_ray.auth.tokens import bearer, issue_token, sign_grant, verify_grant, verify_token
from ais_ray.core.auth import Access, Claims, parse_grant, required_access
from ais_ray.core.errors import ErrAccessDenied, ErrInvalidValue, ErrUnauthorized
from ais_ray.core.names import Bucket, Provider

SECRET = "s" * 40


def claims(**kw):
    return Claims(**{"user": "ann", "expires": int(time.time()) + 3600, **kw})


def test_token_round_trip_and_failures():
    c = claims(cluster=Access.RO, buckets=(("ais://b", Access.RW), ("s3://x", Access.NONE)))
    tok = issue_token(SECRET, c)
    assert verify_token(SECRET, tok) == c
    with pytest.raises(ErrUnauthorized, match="invalid"):
        verify_token("other-secret-" * 3, tok)
    with pytest.raises(ErrUnauthorized, match="expired"):
        verify_token(SECRET, issue_token(SECRET, claims(expires=int(time.time()) - 60)))
    with pytest.raises(ErrUnauthorized):
        verify_token(SECRET, "not.a.jwt")
    # a redirect grant is not a user token, and the other way round
    grant = sign_grant(SECRET, "ann", "GET", "/v1/objects/b/o", Access.RO)
    with pytest.raises(ErrUnauthorized):
        verify_token(SECRET, grant)
    with pytest.raises(ErrUnauthorized):
        verify_grant(SECRET, tok, "GET", "/v1/objects/b/o")


def test_grant_is_bound_to_method_and_path():
    g = sign_grant(SECRET, "ann", "PUT", "/v1/objects/b/a%20b", Access.RW)
    assert verify_grant(SECRET, g, "PUT", "/v1/objects/b/a%20b").access is Access.RW
    with pytest.raises(ErrAccessDenied):
        verify_grant(SECRET, g, "DELETE", "/v1/objects/b/a%20b")
    with pytest.raises(ErrAccessDenied):
        verify_grant(SECRET, g, "PUT", "/v1/objects/b/other")
    with pytest.raises(ErrUnauthorized, match="expired"):
        verify_grant(SECRET, sign_grant(SECRET, "ann", "GET", "/p", Access.RO, ttl=-60), "GET", "/p")


def test_access_levels():
    c = claims(cluster=Access.RO, buckets=(("ais://b", Access.RW),))
    c.require(Access.RW, Bucket("b"))
    c.require(Access.RO, Bucket("other"))
    with pytest.raises(ErrAccessDenied, match='"ann" has ro access to bucket ais://other'):
        c.require(Access.RW, Bucket("other"))
    with pytest.raises(ErrAccessDenied):
        c.require(Access.ADMIN)
    claims(admin=True).require(Access.ADMIN)
    claims().require(Access.NONE)
    assert claims(buckets=(("s3://x", Access.RO),)).access(Bucket("x", Provider.AWS)) is Access.RO


@pytest.mark.parametrize("method, path, action, want", [
    ("GET", "/v1/health", "", (Access.NONE, False)),
    ("GET", "/v1/objects/b/o", "", (Access.RO, True)),
    ("HEAD", "/v1/objects/b/o", "", (Access.RO, True)),
    ("PUT", "/v1/objects/b/o", "", (Access.RW, True)),
    ("POST", "/v1/objects/b", "blob-download", (Access.RW, True)),
    ("POST", "/v1/objects/b", "promote", (Access.ADMIN, False)),  # reads the targets' filesystems
    ("DELETE", "/v1/objects/b/o", "", (Access.RW, True)),
    ("GET", "/v1/buckets", "", (Access.RO, False)),
    ("GET", "/v1/buckets/b", "", (Access.RO, True)),
    ("POST", "/v1/buckets/b", "create-bck", (Access.RW, False)),
    ("POST", "/v1/buckets/b", "prefetch-listrange", (Access.RW, True)),
    ("DELETE", "/v1/buckets/b", "", (Access.RW, False)),
    ("POST", "/v1/download", "", (Access.RW, False)),
    ("GET", "/v1/cluster", "", (Access.RO, False)),
    ("PUT", "/v1/cluster", "stop", (Access.RW, False)),
    ("PUT", "/v1/cluster", "start-maintenance", (Access.ADMIN, False)),
    ("GET", "/v2/whatever", "", (Access.ADMIN, False)),
])
def test_required_access(method, path, action, want):
    assert required_access(method, path, action) == want


def test_parse_grant_and_bearer():
    assert parse_grant("s3://x=ro") == ("s3://x", Access.RO)
    assert parse_grant("b=rw") == ("ais://b", Access.RW)
    for bad in ("ais://b", "ais://b=superuser", "ais://b/o=ro"):
        with pytest.raises(ErrInvalidValue):
            parse_grant(bad)
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer(None) is None and bearer("Basic xyz") is None and bearer("Bearer ") is None


def test_a_node_log_needs_admin_on_either_route():
    assert required_access("GET", "/v1/daemon", "", "log") == (Access.ADMIN, False)
    assert required_access("GET", "/v1/daemon", "", "smap") == (Access.RO, False)
    assert required_access("GET", "/v1/reverse/daemon", "", "log") == (Access.ADMIN, False)
