"""`ais-ray cluster add-remove-nodes ...`, `start|show rebalance`, `start resilver`, `storage mountpath ...`, `advanced random-node|random-mountpath`
(AIStore's `ais cluster add-remove-nodes`, `ais show rebalance`, `ais storage mountpath`)."""

from __future__ import annotations

import argparse
import asyncio
import random
from typing import Any

from ais_ray.cli.common import CliError, print_json, print_table, run
from ais_ray.client import AisClient
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import ErrNotFound
from ais_ray.core.members import DECOMMISSION, SHUTDOWN, START_MAINTENANCE, STOP_MAINTENANCE
from ais_ray.core.sizes import format_size
from ais_ray.core.xid import parse_rebalance_id

MEMBER_ACTIONS = {"start-maintenance": START_MAINTENANCE, "stop-maintenance": STOP_MAINTENANCE,
                  "decommission": DECOMMISSION, "shutdown": SHUTDOWN}
MOUNTPATH_ACTIONS = {"attach": "attach-mp", "detach": "detach-mp", "enable": "enable-mp", "disable": "disable-mp"}
NOT_RUNNING = "Rebalance is not running or hasn't started yet."


def _node(text: str) -> str:
    """`t[ID]` or `ID`, as the `ais` CLI takes a node."""
    return text.strip().removeprefix("t[").removesuffix("]")


def cmd_member(args: argparse.Namespace) -> int:
    action = MEMBER_ACTIONS[args.verb]
    if action in (DECOMMISSION, SHUTDOWN) and not args.yes:
        raise CliError(f"{args.verb} {args.node}: this takes the node out of the cluster; confirm with -y")
    opts: dict[str, bool] = {"skip_rebalance": bool(args.no_rebalance)}
    if action == DECOMMISSION:
        opts.update(rm_user_data=bool(args.rm_user_data), no_shutdown=bool(args.no_shutdown))

    async def go(c: AisClient) -> int:
        xid = await c.member_action(action, _node(args.node), **opts)
        print(f"{args.verb} {args.node}: started" + (f"; rebalance[{xid}] is moving the objects "
                                                      f"(ais-ray show rebalance {xid})" if xid else ""))
        return 0

    return run(go)


def cmd_start_rebalance(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        print(f"Started global rebalance. To monitor the progress, run 'ais-ray show rebalance'. Job ID: {await c.rebalance_start()}")
        return 0

    return run(go)


def cmd_start_resilver(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        xid = await c.resilver_start(_node(args.node))
        print(f"Started resilver on t[{_node(args.node)}]. To monitor the progress, run 'ais-ray show job {xid}'. Job ID: {xid}")
        return 0

    return run(go)


def _reb_rows(parts: dict[str, list[dict[str, Any]]], xid: str) -> list[list[Any]]:
    rows = []
    for tid, snaps in sorted(parts.items()):
        for s in snaps:
            if xid and s["id"] != xid:
                continue
            st = s["stats"]
            state = "Aborted" if s["aborted"] else ("Running" if s["end-time"].startswith("0001") else
                                                    ("Failed" if s.get("err") else "Finished"))
            rows.append([s["id"], tid, st["out-objs"], format_size(int(st["out-bytes"])), st["in-objs"],
                         format_size(int(st["in-bytes"])), _hms(s["start-time"]), _hms(s["end-time"]), state])
    return rows


def _hms(ts: str) -> str:
    return "-" if not ts or ts.startswith("0001") else ts[11:19]


def _latest(parts: dict[str, list[dict[str, Any]]]) -> str:
    ids = {s["id"] for snaps in parts.values() for s in snaps}
    return max(ids, key=lambda i: int(i[1:]) if i[1:].isdigit() else -1, default="")


def cmd_show_rebalance(args: argparse.Namespace) -> int:
    """`REB ID NODE TX OBJECTS TX BYTES RX OBJECTS RX BYTES START END STATE` (ais-wire-2 §3.3)."""
    refresh = parse_duration(args.refresh) if args.refresh else 0.0

    async def once(c: AisClient) -> bool:
        try:
            parts = await c.xact_query(xid=args.id, kind="rebalance")
        except ErrNotFound:
            parts = {}
        xid = args.id or ("" if args.all else _latest(parts))
        if args.json:
            print_json(parts)
            return False
        rows = _reb_rows(parts, xid)
        if not rows:
            print(NOT_RUNNING)
            return False
        print_table(["REB ID", "NODE", "TX OBJECTS", "TX BYTES", "RX OBJECTS", "RX BYTES", "START", "END", "STATE"],
                    rows, no_headers=args.no_headers)
        return any(r[-1] == "Running" for r in rows)

    async def go(c: AisClient) -> int:
        n = 0
        while await once(c) and refresh and (not args.count or n + 1 < args.count):
            n += 1
            await asyncio.sleep(refresh)
            print()
        return 0

    return run(go)


def cmd_mountpath(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        if args.verb == "show":
            mps = await c.mountpaths(_node(args.node) if args.node else "")
            if args.json:
                print_json(mps)
                return 0
            rows = [[tid, p, state] for tid, m in sorted(mps.items())
                    for state, key in (("available", "available"), ("detaching", "waiting_dd"), ("disabled", "disabled"))
                    for p in m.get(key) or []]
            print_table(["TARGET", "MOUNTPATH", "STATE"], rows)
            return 0
        if not args.path:
            raise CliError(f"mountpath {args.verb}: expecting TARGET and MOUNTPATH")
        xid = await c.mountpath_action(_node(args.node), MOUNTPATH_ACTIONS[args.verb], args.path,
                                       no_resilver=bool(args.no_resilver), label=args.label or "")
        job = f"; {'resilver' if parse_rebalance_id(xid) is None else 'rebalance'}[{xid}] started. To wait for it, run " \
              f"'ais-ray wait {xid}'" if xid else ""
        print(f"{args.verb} {args.path} on t[{_node(args.node)}]: done{job}")
        return 0

    return run(go)


def cmd_random_node(args: argparse.Namespace) -> int:
    """`ais advanced random-node`: a random target of the cluster map (AIStore's scripts pick the
    node they take away so)."""
    async def go(c: AisClient) -> int:
        tmap = (await c.smap()).get("tmap") or {}
        if not tmap:
            raise CliError("the cluster has no targets")
        print(random.choice(sorted(tmap)))
        return 0

    return run(go)


def cmd_random_mountpath(args: argparse.Namespace) -> int:
    """`ais advanced random-mountpath NODE`: a mountpath of that target (AIStore: the first of its
    capacity table, sorted here), to detach in a failure drill."""
    async def go(c: AisClient) -> int:
        tid = _node(args.node)
        t = ((await c.smap()).get("tmap") or {}).get(tid)
        if t is None:
            raise CliError(f'node "{args.node}" is not a target of the cluster')
        paths = sorted(m["path"] for m in t.get("mountpaths", ()) if m.get("enabled", True))
        if not paths:
            raise CliError(f"target {tid} has no enabled mountpath")
        print(paths[0])
        return 0

    return run(go)


def add_commands(sub: argparse._SubParsersAction, start_sub: argparse._SubParsersAction,
                 show_sub: argparse._SubParsersAction, storage_sub: argparse._SubParsersAction,
                 cmd: Any) -> argparse._SubParsersAction:
    """Register the commands under `ais-ray`, `start`, `show` and `storage` (`cmd` is main's `_cmd`); the
    `cluster` group's subcommands, for the others it holds (`download-logs`: cli/log_cmds.py)."""
    cluster = sub.add_parser("cluster", help="cluster membership: add-remove-nodes; download-logs")
    csub = cluster.add_subparsers(dest="group", required=True, metavar="{add-remove-nodes,download-logs}")
    arn = csub.add_parser("add-remove-nodes", help="maintenance, decommission, shutdown of a target")
    asub = arn.add_subparsers(dest="verb", required=True, metavar="{" + ",".join(MEMBER_ACTIONS) + "}")
    for verb in MEMBER_ACTIONS:
        p = cmd(asub, verb, cmd_member, f"{verb} a target (its objects move by a rebalance unless --no-rebalance)",
                f"ais-ray cluster add-remove-nodes {verb} t2" + (" -y" if verb in ("decommission", "shutdown") else ""))
        p.add_argument("node", metavar="NODE")
        p.add_argument("--no-rebalance", action="store_true", help="do not move objects (reads use get-from-neighbor)")
        p.add_argument("--yes", "-y", action="store_true", help="do not ask")
        if verb == "decommission":
            p.add_argument("--rm-user-data", action="store_true", help="also delete the node's objects")
            p.add_argument("--no-shutdown", action="store_true", help="keep the node's processes running")

    adv = sub.add_parser("advanced", help="helpers for scripts: random-node, random-mountpath")
    advsub = adv.add_subparsers(dest="verb", required=True, metavar="{random-node,random-mountpath}")
    cmd(advsub, "random-node", cmd_random_node, "print a random target id", "node=$(ais-ray advanced random-node)")
    p = cmd(advsub, "random-mountpath", cmd_random_mountpath, "print a mountpath of a target",
            "ais-ray storage mountpath detach t1 $(ais-ray advanced random-mountpath t1)")
    p.add_argument("node", metavar="TARGET")

    cmd(start_sub, "rebalance", cmd_start_rebalance, "global rebalance: every object to its HRW target",
        "ais-ray start rebalance")
    p = cmd(start_sub, "resilver", cmd_start_resilver, "resilver one target: every object to its HRW mountpath",
            "ais-ray start resilver t1")
    p.add_argument("node", metavar="TARGET")

    p = cmd(show_sub, "rebalance", cmd_show_rebalance, "global rebalance: objects and bytes sent and received per node", """
ais-ray show rebalance
ais-ray show rebalance g12 --refresh 1s""")
    p.add_argument("id", nargs="?", default="", metavar="[REB ID]")
    p.add_argument("--all", action="store_true", help="every rebalance, not just the latest")
    p.add_argument("--refresh", default="", help="redraw at this interval while running, e.g. 1s")
    p.add_argument("--count", type=int, default=0, help="with --refresh: at most this many times")
    p.add_argument("--no-headers", "-H", action="store_true")
    p.add_argument("--json", action="store_true")

    mp = storage_sub.add_parser("mountpath", help="show, attach, detach, enable, disable mountpaths")
    msub = mp.add_subparsers(dest="verb", required=True, metavar="{show," + ",".join(MOUNTPATH_ACTIONS) + "}")
    p = cmd(msub, "show", cmd_mountpath, "mountpaths of every target (or one)", "ais-ray storage mountpath show")
    p.add_argument("node", nargs="?", default="", metavar="[TARGET]")
    p.add_argument("--json", action="store_true")
    p.set_defaults(path="", no_resilver=False, label="")
    for verb in MOUNTPATH_ACTIONS:
        p = cmd(msub, verb, cmd_mountpath, f"{verb} a mountpath of a target (then resilver unless --no-resilver)",
                f"ais-ray storage mountpath {verb} t1 /data/disk2")
        p.add_argument("node", metavar="TARGET")
        p.add_argument("path", metavar="MOUNTPATH")
        p.add_argument("--no-resilver", action="store_true")
        p.add_argument("--label", default="", help=argparse.SUPPRESS if verb != "attach" else "mountpath label")
    return csub
