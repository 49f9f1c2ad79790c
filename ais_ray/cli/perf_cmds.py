"""`ais-ray show performance` and `ais-ray show prometheus-config`.

`show performance [counters|throughput|latency|capacity|disk] [TARGET] [--refresh 2s --count 10]`:
one `GET /v1/cluster?what=node_stats` per sample (every target's node_status); throughput and
latency are the change between two samples `--refresh` apart (AIStore's counters are cumulative).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from ais_ray.cli.common import CliError, print_json, print_table, refresh_interval, run
from ais_ray.client import AisClient
from ais_ray.stats.views import VIEWS, capacity_table, counters_table, disk_table, latency_table, throughput_table

DEFAULT_RATE_INTERVAL = 1.0  # throughput/latency without --refresh: two samples this far apart


async def node_stats(c: AisClient, target: str) -> dict[str, Any]:
    stats = json.loads((await c.request("GET", "cluster", params={"what": "node_stats"}))[2])
    if target:
        if target not in stats:
            raise CliError(f'target "{target}" not found (targets: {", ".join(sorted(stats))})')
        stats = {target: stats[target]}
    return stats


def _view_and_target(args: argparse.Namespace) -> tuple[str, str]:
    view, target = args.view or "counters", args.target or ""
    if view not in VIEWS:  # `show performance t1`: a target, default view
        if target:
            raise CliError(f'invalid view "{view}" (expecting one of: {", ".join(VIEWS)})')
        view, target = "counters", view
    return view, target


def cmd_show_performance(args: argparse.Namespace) -> int:
    view, target = _view_and_target(args)
    interval = refresh_interval(args.refresh)
    count = args.count or (1 if not args.refresh else 0)  # --refresh without --count: until Ctrl-C

    async def go(c: AisClient) -> int:
        rated = view in ("throughput", "latency")
        prev, t_prev = (await node_stats(c, target), time.monotonic()) if rated else ({}, 0.0)
        shown = 0
        while True:
            if rated:
                await asyncio.sleep(interval or DEFAULT_RATE_INTERVAL)
            cur, t_cur = await node_stats(c, target), time.monotonic()
            if args.json:
                print_json(cur)
            else:
                if shown:
                    print()
                if count != 1:
                    print(time.strftime("%H:%M:%S"))
                if view == "throughput":
                    headers, rows = throughput_table(prev, cur, t_cur - t_prev)
                elif view == "latency":
                    headers, rows = latency_table(prev, cur)
                elif view == "capacity":
                    headers, rows = capacity_table(cur)
                elif view == "disk":
                    headers, rows = disk_table(cur)
                else:
                    headers, rows = counters_table(cur)
                print_table(headers, rows, no_headers=args.no_headers)
                sys.stdout.flush()
            shown += 1
            if count and shown >= count:
                return 0
            prev, t_prev = cur, t_cur
            if not rated:
                await asyncio.sleep(interval)

    try:
        return run(go)
    except KeyboardInterrupt:
        return 0


def file_sd(smap: dict[str, Any], proxy_endpoint: str) -> list[dict[str, Any]]:
    """Prometheus file_sd targets: every target's URL (its `/metrics`) and the API's, with labels."""
    out = []
    for tid, t in sorted(smap.get("tmap", {}).items()):
        url = t["public_net"]["direct_url"]
        out.append({"targets": [urlsplit(url).netloc], "labels": {"ais_node": tid, "ais_role": "target"}})
    out.append({"targets": [urlsplit(proxy_endpoint).netloc], "labels": {"ais_node": "primary", "ais_role": "proxy"}})
    return out


def cmd_show_prometheus_config(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        print(json.dumps(file_sd(await c.smap(), c.endpoint), indent=2))
        return 0

    return run(go)


def dashboard_hint(url: str) -> list[str]:
    """How to reach the Ray dashboard `ais-ray up --dashboard` started (Ray 2.60: token auth on by default).

    The dashboard answers 401 without the cluster's token: a browser asks for it once (kept in the
    `ray-authentication-token` cookie), scripts send `Authorization: Bearer <token>`.
    """
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    return [f"  Ray dashboard: {url}  (actors ais-proxy, ais-target-<tid>, ais-mp-<tid>-<disk>; logs; metrics)",
            f"  it asks for Ray's token (Ray 2.60 token auth): `{ray_cli} get-auth-token` prints it ({TOKEN_FILE});",
            f'  scripts: curl -H "Authorization: Bearer $({ray_cli} get-auth-token 2>/dev/null)" {url}/api/v0/actors']


TOKEN_FILE = "~/.ray/auth_token"
