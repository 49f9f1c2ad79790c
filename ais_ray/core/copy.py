"""Copy bucket / copy objects: the request (`TCBMsg`) and the pure decisions of a copy.

Mirrors AIStore `api/apc/tcbtco.go` (TCBMsg, TCOMsg: flat JSON keys as the SDK sends them) and
the proxy's rules in `ais/proxy.go::_bckpost` (ais-wire-2 §1.1–1.2). The job that does the
copying lives in `jobs/`; here: what the request means, which name an object gets at the
destination, and whether a destination object already is the source's copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ais_ray.core.errors import ErrBadRequest, ErrInvalidValue
from ais_ray.core.headers import TRUE_WORDS, is_true
from ais_ray.core.names import Bucket, validate_obj_name

# `presence` query values (Go apc.Flt*): which source objects a copy sees
PRESENCE_EXISTS = 0  # in the cluster or only remote (`--all`)
PRESENCE_EXISTS_NO_PROPS = 1
PRESENCE_PRESENT = 2  # default: what is in the cluster (for a remote source: cached)
PRESENCE_PRESENT_NO_PROPS = 3
PRESENCE_IN_CLUSTER = 4

# what became of one object of a copy
COPIED = "ok"
SKIPPED = "skipped"  # the destination already held the same bytes


def _flag(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in TRUE_WORDS | {"false", "0", "no", "n", "off", ""}:
        return is_true(v)
    if isinstance(v, int):
        return v != 0
    raise ErrInvalidValue(f"expecting a boolean, got {v!r}")


@dataclass(frozen=True, slots=True)
class TcbMsg:
    """What to copy and how (Go `apc.TCBMsg`)."""

    prefix: str = ""
    prepend: str = ""
    dry_run: bool = False
    force: bool = False
    latest: bool = False
    sync: bool = False
    non_recurs: bool = False
    ext: Mapping[str, str] = field(default_factory=dict)
    num_workers: int = 0
    coer: bool = False

    @classmethod
    def from_wire(cls, d: Mapping[str, Any] | None) -> TcbMsg:
        """Raises:
            ErrBadRequest: wrong types, or `synchronize` with `prepend`.
        """
        d = d or {}
        if not isinstance(d, Mapping):
            raise ErrBadRequest(f"copy: expecting a JSON object as the action's value, got {type(d).__name__}")
        try:
            ext = d.get("ext") or {}
            if not isinstance(ext, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ext.items()):
                raise ErrInvalidValue('"ext" must map extensions to extensions, e.g. {"jpg": "png"}')
            workers = d.get("num-workers", 0) or 0
            if isinstance(workers, bool) or not isinstance(workers, int) or workers < -1:
                raise ErrInvalidValue(f'"num-workers" must be -1, 0 or a positive number, got {workers!r}')
            for key in ("prefix", "prepend"):
                if not isinstance(d.get(key, "") or "", str):
                    raise ErrInvalidValue(f'"{key}" must be a string')
            msg = cls(prefix=(d.get("prefix") or "").rstrip("*"), prepend=d.get("prepend") or "",
                      dry_run=_flag(d.get("dry_run", False)), force=_flag(d.get("force", False)),
                      latest=_flag(d.get("latest-ver", False)), sync=_flag(d.get("synchronize", False)),
                      non_recurs=_flag(d.get("non-recurs", False)),
                      ext={k.lstrip("."): v.lstrip(".") for k, v in ext.items()},
                      num_workers=workers, coer=_flag(d.get("coer", False)))
        except ErrInvalidValue as exc:
            raise ErrBadRequest(f"copy: {exc.message}") from exc
        if msg.sync and msg.prepend:
            raise ErrBadRequest(f'prepend option ("{msg.prepend}") is incompatible with the request to synchronize buckets')
        return msg

    def to_wire(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "prepend": self.prepend, "dry_run": self.dry_run, "force": self.force,
                "latest-ver": self.latest, "synchronize": self.sync, "non-recurs": self.non_recurs,
                "ext": dict(self.ext), "num-workers": self.num_workers, "coer": self.coer}

    @property
    def flags_text(self) -> str:
        """`latest,sync,non-recurs` as AIStore's ctlmsg shows them."""
        return ",".join(n for n, on in (("latest", self.latest), ("sync", self.sync),
                                        ("non-recurs", self.non_recurs)) if on)

    def dst_name(self, name: str) -> str:
        """The destination name: extension remap first, then prepend (Go `TCBMsg.ToName`).

        Raises:
            ErrInvalidName: the result is not a valid object name.
        """
        if self.ext:
            head, dot, ext = name.rpartition(".")
            if dot and "/" not in ext and ext in self.ext:
                name = f"{head}.{self.ext[ext]}"
        return validate_obj_name(self.prepend + name) if self.prepend else name


def check_copy_buckets(src: Bucket, dst: Bucket, msg: TcbMsg) -> None:
    """The proxy's rule: an ais bucket never copies onto itself (a remote one may: in-place
    latest/sync). Raises ErrBadRequest."""
    if src == dst and not msg.dry_run and not src.is_remote:
        raise ErrBadRequest(f'cannot copy-bck bucket "{src}" onto itself')


def parse_presence(text: str | None) -> int:
    """`?presence=N` (default 2, present). Raises ErrBadRequest."""
    if text is None or text == "":
        return PRESENCE_PRESENT
    try:
        v = int(text)
    except ValueError:
        raise ErrBadRequest(f'invalid presence "{text}" (expecting 0..5)') from None
    if not 0 <= v <= 5:
        raise ErrBadRequest(f'invalid presence "{text}" (expecting 0..5)')
    return v


def present_only(text: str | None) -> bool:
    """A HEAD's `?presence=`: does only a copy stored in the cluster count (2, 3, 4), not the remote's?"""
    return bool(text) and parse_presence(text) >= PRESENCE_PRESENT


def same_copy(src_cksum: str, src_size: int, dst_cksum: str, dst_size: int) -> bool:
    """A destination object that already is this source's copy (skipped unless latest/sync)."""
    return bool(src_cksum) and src_cksum == dst_cksum and src_size == dst_size


def copy_version(value: str) -> str:
    """A copy's source version (`ais-version` on the PUT that stores it, or in a group of copies),
    kept as the copy's: at most 1,024 printable ASCII characters (an S3 version id fits), else a 400."""
    if len(value) > 1024 or not all(" " < c < "\x7f" for c in value):
        raise ErrBadRequest(f"invalid version of a copy: {value[:64]!r}")
    return value
