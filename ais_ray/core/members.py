"""Cluster membership requests (ais-wire-2 §3.1): `PUT /v1/cluster` with an `ActValRmNode` value.

Pure parsing and validation; the proxy (`actors/proxy_members.py`) carries them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ais_ray.core.errors import ErrBadRequest

START_MAINTENANCE = "start-maintenance"
STOP_MAINTENANCE = "stop-maintenance"
DECOMMISSION = "decommission-node"
SHUTDOWN = "shutdown-node"
ACTIONS = (START_MAINTENANCE, STOP_MAINTENANCE, DECOMMISSION, SHUTDOWN)


@dataclass(frozen=True, slots=True)
class RmNode:
    """Go `apc.ActValRmNode`: which target, and how it leaves (or comes back)."""

    sid: str
    skip_rebalance: bool = False
    rm_user_data: bool = False  # decommission: also delete the node's objects
    no_shutdown: bool = False  # decommission: keep the node's process running
    keep_initial_config: bool = False

    @classmethod
    def from_wire(cls, action: str, value: Any) -> RmNode:
        """Raises ErrBadRequest: unknown action, not an object, no `sid`, `sid` with `sids`, or
        a batch of several nodes (one membership change at a time)."""
        if action not in ACTIONS:
            raise ErrBadRequest(f'invalid membership action "{action}" (expecting one of {", ".join(ACTIONS)})')
        if not isinstance(value, Mapping):
            raise ErrBadRequest(f'{action}: expecting ActValRmNode {{"sid": ...}}')
        sid = value.get("sid") or ""
        sids = [s for s in (value.get("sids") or []) if s]
        if sid and sids:
            raise ErrBadRequest(f'{action}: "sid" and "sids" are mutually exclusive')
        if len(sids) > 1:
            raise ErrBadRequest(f"{action}: one node at a time (got {len(sids)}: {', '.join(map(str, sids))})")
        sid = sid or (sids[0] if sids else "")
        if not isinstance(sid, str) or not sid:
            raise ErrBadRequest(f'{action}: expecting "sid" (the target id)')
        flags = {k: value.get(k, False) for k in ("skip_rebalance", "rm_user_data", "no_shutdown", "keep_initial_config")}
        bad = [k for k, v in flags.items() if not isinstance(v, bool)]
        if bad:
            raise ErrBadRequest(f'{action}: "{bad[0]}" must be true or false')
        return cls(sid.removeprefix("t[").removesuffix("]"), **flags)
