"""Cluster membership, rebalance / resilver and mountpaths (ais-wire-2 §3): the requests behind
`ais-ray cluster add-remove-nodes`, `start|show|wait|stop rebalance`, `start resilver`, `storage mountpath`."""

from __future__ import annotations

import json
from typing import Any

from ais_ray.client.http import Http
from ais_ray.core import headers as H


class ClusterApi(Http):
    async def rebalance_start(self) -> str:
        """A global rebalance (as the SDK's `client.job(job_kind="rebalance").start()` sends it); its id `g<N>`."""
        _, _, raw = await self.request("PUT", "cluster", json_body={"action": "start", "value": {"ID": "", "Kind": "rebalance"}})
        return raw.decode()

    async def resilver_start(self, tid: str) -> str:
        body = {"action": "start", "value": {"ID": "", "Kind": "resilver", "DaemonID": tid}}
        return (await self.request("PUT", "cluster", json_body=body))[2].decode()

    async def member_action(self, action: str, sid: str, **opts: bool) -> str:
        """start-maintenance | stop-maintenance | decommission-node | shutdown-node with ActValRmNode;
        the id of the rebalance it started, or ""."""
        _, _, raw = await self.request("PUT", "cluster", json_body={"action": action, "value": {"sid": sid, **opts}})
        return raw.decode()

    async def mountpaths(self, tid: str = "") -> dict[str, Any]:
        """`{tid: {"available": [...], "waiting_dd": [...], "disabled": [...]}}`: all targets, or one."""
        if tid:
            raw = (await self.request("GET", "reverse/daemon", params={H.Q_WHAT: "mountpaths"},
                                      headers={H.NODE_ID: tid}))[2]
            return {tid: json.loads(raw)}
        return dict(json.loads((await self.request("GET", "cluster", params={H.Q_WHAT: "mountpaths"}))[2]))

    async def mountpath_action(self, tid: str, action: str, path: str, *, no_resilver: bool = False,
                               label: str = "") -> str:
        """attach-mp (PUT), enable-mp / disable-mp (POST), detach-mp (DELETE) on target `tid`; the id
        of the resilver it started (or of the rebalance, when `tid` lost its last mountpath), or ""."""
        method = {"attach-mp": "PUT", "detach-mp": "DELETE"}.get(action, "POST")
        params = {k: v for k, v in (("dntres", "true" if no_resilver else ""), ("mountpath_label", label)) if v}
        body = (await self.request(method, "reverse/daemon/mountpaths", json_body={"action": action, "value": path},
                                   params=params, headers={H.NODE_ID: tid}))[2]
        return body.decode(errors="replace").strip()

    async def node_log(self, node: str, *, severity: str = "", offset: int = 0, all_logs: bool = False) -> bytes:
        """A node's log (`ais log`): its current file from byte `offset`, or with `all_logs` a TAR.GZ of
        every file; `severity` info (default) or error (warnings and errors only)."""
        params = {k: v for k, v in (("severity", severity), ("offset", str(offset) if offset else ""),
                                    ("all", "true" if all_logs else "")) if v}
        return (await self.request("GET", "reverse/daemon", params={H.Q_WHAT: "log", **params},
                                   headers={H.NODE_ID: node}))[2]
