"""A bucket's redundancy props: n-way mirror and erasure coding (Go `cmn.MirrorConf`, `cmn.ECConf`).

Pure: what the props are, how a `set-bprops` / `create-bck` value changes them, and which changes
are allowed (AIStore's rules and messages, `cmn/config.go` Validate / ValidateAsProps).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from ais_ray.core.errors import ErrBadRequest

MIN_COPIES, MAX_COPIES = 2, 32
MIN_SLICES, MAX_SLICES = 1, 32
EC_ALWAYS_REPLICATE = -1  # objsize_limit: never slice, keep P+1 full replicas
EC_DEFAULT_OBJSIZE_LIMIT = 256 * 1024  # an entirely empty EC section


@dataclass(frozen=True, slots=True)
class MirrorConf:
    enabled: bool = False
    copies: int = 2  # including the main replica

    def to_wire(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "copies": self.copies, "burst_buffer": 0}

    @property
    def n(self) -> int:
        """How many replicas a PUT leaves on the owning target (1: no mirror)."""
        return self.copies if self.enabled else 1

    def validate(self) -> None:
        if self.enabled and not MIN_COPIES <= self.copies <= MAX_COPIES:
            raise ErrBadRequest(f"invalid mirror.copies: {self.copies} (expected value in range [{MIN_COPIES}, {MAX_COPIES}])")


@dataclass(frozen=True, slots=True)
class ECConf:
    enabled: bool = False
    data_slices: int = 2
    parity_slices: int = 2
    objsize_limit: int = EC_DEFAULT_OBJSIZE_LIMIT

    def to_wire(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "data_slices": self.data_slices, "parity_slices": self.parity_slices,
                "objsize_limit": self.objsize_limit, "compression": "never", "bundle_multiplier": 0,
                "burst_buffer": 0, "disk_only": False}

    def sliced(self, size: int) -> bool:
        """Whether an object of `size` bytes is cut into slices (else replicated P+1 times)."""
        if self.objsize_limit == EC_ALWAYS_REPLICATE:
            return False
        return self.objsize_limit == 0 or size >= self.objsize_limit

    @property
    def required_targets(self) -> int:
        if self.objsize_limit == EC_ALWAYS_REPLICATE:
            return self.parity_slices + 1
        return self.data_slices + self.parity_slices + 1  # + 1: the main replica

    def validate(self, target_count: int) -> None:
        if not self.enabled:
            return
        if self.objsize_limit < EC_ALWAYS_REPLICATE:
            raise ErrBadRequest(f"invalid ec.objsize_limit: {self.objsize_limit} (expecting greater or equal -1)")
        for what, v in (("data_slices", self.data_slices), ("parity_slices", self.parity_slices)):
            if not MIN_SLICES <= v <= MAX_SLICES:
                raise ErrBadRequest(f"invalid ec.{what}: {v} (expected value in range [{MIN_SLICES}, {MAX_SLICES}])")
        if self.required_targets > target_count:
            raise ErrBadRequest(f"EC configuration (D = {self.data_slices}, P = {self.parity_slices}) requires at "
                                f"least {self.required_targets} targets (have {target_count})")


_MIRROR_FIELDS = {"enabled": bool, "copies": int}
_EC_FIELDS = {"enabled": bool, "data_slices": int, "parity_slices": int, "objsize_limit": int}
_IGNORED = {"burst_buffer", "compression", "bundle_multiplier", "disk_only"}  # accepted, not implemented


def _typed(section: str, key: str, v: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
    elif isinstance(v, int) and not isinstance(v, bool):
        return v
    elif isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            pass
    raise ErrBadRequest(f"invalid {section}.{key}: {v!r} (expecting {'true or false' if kind is bool else 'an integer'})")


def _merge(section: str, conf: Any, value: Any, fields: Mapping[str, type]) -> Any:
    if not isinstance(value, dict):
        raise ErrBadRequest(f'bucket property "{section}": expecting an object, e.g. {{"enabled": true}}')
    changes = {}
    for k, v in value.items():
        if k in _IGNORED:
            continue
        if k not in fields:
            raise ErrBadRequest(f'unknown bucket property "{section}.{k}" (supported: {", ".join(fields)})')
        changes[k] = _typed(section, k, v, fields[k])
    return replace(conf, **changes)


def merge_mirror(conf: MirrorConf, value: Any) -> MirrorConf:
    """`conf` with a `"mirror": {...}` value applied (copies 0 means 2, as AIStore)."""
    out = _merge("mirror", conf, value, _MIRROR_FIELDS)
    return replace(out, copies=MIN_COPIES) if out.copies == 0 else out


def merge_ec(conf: ECConf, value: Any) -> ECConf:
    """`conf` with an `"ec": {...}` value applied (0 slices mean 2, as AIStore)."""
    out = _merge("ec", conf, value, _EC_FIELDS)
    return replace(out, data_slices=out.data_slices or 2, parity_slices=out.parity_slices or 2)


def check_ec_change(old: ECConf, new: ECConf, *, force: bool) -> None:
    """Once EC is on, only `objsize_limit` may change, and only with `force` (AIStore's rule)."""
    if not old.enabled or old == new:
        return
    if not new.enabled or (old.data_slices, old.parity_slices) != (new.data_slices, new.parity_slices):
        raise ErrBadRequest("once enabled, EC configuration cannot be disabled or changed "
                            f"(D = {old.data_slices}, P = {old.parity_slices}); only ec.objsize_limit may change, with force")
    if not force:
        raise ErrBadRequest("changing ec.objsize_limit of an erasure-coded bucket requires force")


def dotted(props: Mapping[str, str]) -> dict[str, Any]:
    """CLI `mirror.enabled=true mirror.copies=3` -> `{"mirror": {"enabled": "true", "copies": "3"}}`."""
    out: dict[str, Any] = {}
    for key, v in props.items():
        section, sep, sub = key.partition(".")
        if sep:
            out.setdefault(section, {})[sub] = v
        else:
            out[key] = v
    return out
