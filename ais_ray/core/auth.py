"""Who may do what: token claims, access levels and the rule per request (issue 15 item 10).

Pure: the JWT encoding and signatures live in `auth/tokens.py` (PyJWT); the HTTP edges call
`required_access` and `Claims.require`. Shaped after AIStore's AuthN (`api/authn`): a token
names a user, an expiry, an admin flag, a cluster-wide access level and per-bucket levels.
AIStore's fine-grained access bits are grouped into the three levels its presets name
(`apc.AccessRO`, `AccessRW`, admin):

- `ro`: read objects, list buckets and objects, bucket props and summaries, job status;
- `rw`: also write and delete objects, create/destroy buckets, set props, start/stop jobs;
- `admin`: everything, including cluster membership and configuration.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ais_ray.core.errors import ErrAccessDenied, ErrInvalidValue
from ais_ray.core.names import Bucket, parse_bucket_uri


class Access(enum.IntEnum):
    NONE = 0
    RO = 1
    RW = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Access:
        """`ro`, `rw`, `admin` (or `none`).

        Raises:
            ErrInvalidValue: anything else.
        """
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ErrInvalidValue(f'invalid access "{text}" (expecting ro, rw, admin or none)') from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token says. `buckets` entries override `cluster` for that bucket (canonical name)."""

    user: str
    expires: int  # unix seconds
    admin: bool = False
    cluster: Access = Access.NONE
    buckets: tuple[tuple[str, Access], ...] = ()

    def access(self, bck: Bucket | None) -> Access:
        if self.admin:
            return Access.ADMIN
        if bck is not None:
            for name, acc in self.buckets:
                if name == str(bck):
                    return acc
        return self.cluster

    def require(self, need: Access, bck: Bucket | None = None) -> None:
        """Raises:
            ErrAccessDenied: the token does not allow `need` (on `bck`, or cluster-wide).
        """
        if need is Access.NONE or self.access(bck) >= need:
            return
        where = f"bucket {bck}" if bck is not None else "the cluster"
        raise ErrAccessDenied(f'user "{self.user}" has {self.access(bck)} access to {where}; this request needs {need}')

    def to_wire(self) -> dict[str, Any]:
        return {"sub": self.user, "exp": self.expires, "admin": self.admin, "cluster": str(self.cluster),
                "buckets": {name: str(acc) for name, acc in self.buckets}}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Claims:
        """Raises: ErrInvalidValue (a token with malformed claims)."""
        try:
            buckets = d.get("buckets") or {}
            if not isinstance(buckets, Mapping):
                raise TypeError("buckets")
            return cls(str(d["sub"]), int(d["exp"]), bool(d.get("admin", False)),
                       Access.parse(str(d.get("cluster", "none"))),
                       tuple((str(parse_bucket_uri(str(k))[0]), Access.parse(str(v))) for k, v in buckets.items()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ErrInvalidValue(f"malformed token claims: {exc}") from exc


def parse_grant(text: str) -> tuple[str, Access]:
    """`ais://b=ro` (CLI `--bucket`) → (canonical bucket name, access)."""
    uri, sep, acc = text.rpartition("=")
    if not sep:
        raise ErrInvalidValue(f'invalid bucket grant "{text}" (expecting BUCKET=ro|rw|admin, e.g. ais://b=ro)')
    bck, obj = parse_bucket_uri(uri)
    if obj:
        raise ErrInvalidValue(f'invalid bucket grant "{text}": names an object, not a bucket')
    return str(bck), Access.parse(acc)


# Cluster-level (PUT /v1/cluster) actions that change membership or configuration: admin only.
ADMIN_ACTIONS = frozenset({
    "start-maintenance", "stop-maintenance", "decommission-node", "shutdown-node", "shutdown", "decommission",
    "set-config", "reset-config", "rebalance", "attach-mountpath", "detach-mountpath", "enable-mountpath",
    "disable-mountpath", "set-primary",
})
_BUCKET_LIFECYCLE = frozenset({"create-bck", "destroy-bck", "move-bck"})  # move-bck: creates one, destroys one


def required_access(method: str, path: str, action: str = "", what: str = "") -> tuple[Access, bool]:
    """The access a REST request needs, and whether it is per bucket (the bucket being the
    path's third segment) or cluster-wide. `action` is the JSON body's action, where there is one;
    `what` the `?what=` query of a node or cluster GET.

    `/v1/health` needs nothing (liveness probes); unknown routes need admin.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "v1":
        return Access.ADMIN, False
    route, per_bucket = parts[1], len(parts) >= 3
    read = method in ("GET", "HEAD")
    if route == "health":
        return Access.NONE, False
    if route == "objects":
        if action == "promote":  # reads the targets' own filesystems (AIStore: not part of read-write access)
            return Access.ADMIN, False
        return (Access.RO if read else Access.RW), per_bucket
    if route == "buckets":
        if method == "DELETE" or action in _BUCKET_LIFECYCLE:
            return Access.RW, False  # creating / destroying buckets is cluster-wide (AIStore AceCreateBucket)
        return (Access.RO if read else Access.RW), per_bucket
    if route == "ml":  # GetBatch reads whatever buckets its items name: cluster-wide read
        return (Access.RO if read else Access.ADMIN), False
    if route == "daemon" and what == "log":  # object names, source URLs, tracebacks (`/v1/reverse/...`: admin too)
        return Access.ADMIN, False
    if route in ("daemon", "download"):
        return (Access.RO if read else Access.RW), False
    if route == "cluster":
        if read:
            return Access.RO, False
        return (Access.ADMIN if action in ADMIN_ACTIONS else Access.RW), False
    return Access.ADMIN, False
