"""`ais-ray log show|get`, `ais-ray show log`, `ais-ray cluster download-logs`: a node's log, as `ais log`.

Every node keeps its own log (core/nodelog.py); these read it through the API
(`GET /v1/reverse/daemon?what=log`, serve/logs.py):

- `log show NODE [--severity error] [--refresh 2s --count N]`: the current log; with `--refresh`
  what was appended since, every interval (from the byte offset reached, as AIStore's CLI asks);
- `log get NODE [OUT_FILE|OUT_DIR|-] [--all]`: the current log (`--all`: a TAR.GZ of every file,
  rotated ones too) saved as `<node>.INFO` (`.ERROR`; `.tar.gz` added) in a directory, to a file, or to stdout;
- `log get cluster [OUT_DIR]` = `cluster download-logs [OUT_DIR]`: every node's archive.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from ais_ray.cli.common import CliError, refresh_interval, run
from ais_ray.client import AisClient
from ais_ray.core.errors import AisError
from ais_ray.core.nodelog import FILES
from ais_ray.fs.store import write_file_atomic

SEVERITY_HELP = ("info (default: every record) or error (warnings and errors only); i, w, e, warning too")


def _severity(args: argparse.Namespace) -> str:
    sev = (args.severity or "info").strip().lower()
    if not sev or sev[0] not in FILES:
        raise CliError(f'invalid --severity "{args.severity}" (expecting info, warning or error)')
    return sev


def _file_name(node: str, severity: str, archive: bool) -> str:
    return f"{node}.{FILES[severity[0]]}" + (".tar.gz" if archive else "")


def _write_out(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def cmd_log_show(args: argparse.Namespace) -> int:
    severity = _severity(args)
    interval = refresh_interval(args.refresh, (3600.0, "1h"))

    async def go(c: AisClient) -> int:
        offset, shown = 0, 0
        while True:
            try:
                data = await c.node_log(args.node, severity=severity, offset=offset)
            except AisError as exc:
                if offset and "rotated" in exc.message:  # the file we followed was rotated: the new one from its start
                    offset = 0
                    continue
                raise
            _write_out(data)
            offset += len(data)
            shown += 1
            if not interval or (args.count and shown >= args.count):
                return 0
            await asyncio.sleep(interval)

    return run(go)


async def _nodes(c: AisClient) -> list[str]:
    smap = await c.smap()
    return sorted(smap.get("pmap", {})) + sorted(smap.get("tmap", {}))


def cmd_log_get(args: argparse.Namespace) -> int:
    severity = _severity(args)
    everyone = args.node == "cluster"
    archive = args.all or everyone
    out = args.out or "."
    if everyone and out == "-":
        raise CliError("log get cluster: expecting a directory (one archive per node), not '-'")

    async def go(c: AisClient) -> int:
        if not everyone:
            data = await c.node_log(args.node, severity=severity, all_logs=archive)
            if out == "-":
                _write_out(data)
                return 0
            path = os.path.join(out, _file_name(args.node, severity, archive)) if os.path.isdir(out) else out
            write_file_atomic(path, data)
            print(f"saved {args.node}'s {'logs' if archive else 'log'} to {path} ({len(data):,} bytes)")
            return 0
        os.makedirs(out, exist_ok=True)
        failed = 0
        for node in await _nodes(c):  # each node its own archive; one that cannot answer does not stop the rest
            try:
                data = await c.node_log(node, severity=severity, all_logs=True)
            except AisError as exc:
                print(f"error: {node}: {exc.message}", file=sys.stderr)
                failed += 1
                continue
            path = os.path.join(out, _file_name(node, severity, True))
            write_file_atomic(path, data)
            print(f"saved {node}'s logs to {path} ({len(data):,} bytes)")
        return 1 if failed else 0

    return run(go)


def cmd_download_logs(args: argparse.Namespace) -> int:
    args.node, args.all, args.out = "cluster", True, args.out_dir
    return cmd_log_get(args)


def add_commands(sub: argparse._SubParsersAction, show_sub: argparse._SubParsersAction,
                 cluster_sub: argparse._SubParsersAction, cmd: Any) -> None:
    """`log show|get`, `show log` and `cluster download-logs` (`cmd` is main's `_cmd`)."""
    logp = sub.add_parser("log", help="a node's log: show, get")
    lsub = logp.add_subparsers(dest="verb", required=True, metavar="{show,get}")
    show_examples = """
ais-ray log show t1                          # the target's current log: its actor and mountpath workers
ais-ray log show p1 --severity error         # the proxy's warnings and errors
ais-ray log show t2 --refresh 2s             # then what is appended, every 2s (Ctrl-C to stop)"""
    for parent, name in ((lsub, "show"), (show_sub, "log")):
        p = cmd(parent, name, cmd_log_show, "show a node's current log (`--refresh`: follow it)", show_examples)
        p.add_argument("node", metavar="NODE_ID")
        p.add_argument("--severity", default="", help=SEVERITY_HELP)
        p.add_argument("--refresh", default="", help="then show what was appended, every DUR (100ms..1h)")
        p.add_argument("--count", type=int, default=0, help="with --refresh: stop after N reads (default: until Ctrl-C)")
    p = cmd(lsub, "get", cmd_log_get, "save a node's log, all its logs (TAR.GZ), or every node's", """
ais-ray log get t1                           # ./t1.INFO
ais-ray log get t1 /tmp/t1.log               # to that file
ais-ray log get t1 - --severity error | less # to stdout
ais-ray log get t1 /tmp --all                # /tmp/t1.INFO.tar.gz: the rotated files too
ais-ray log get cluster /tmp/logs            # every node's archive (implies --all)""")
    p.add_argument("node", metavar="NODE_ID|cluster")
    p.add_argument("out", nargs="?", default="", metavar="[OUT_FILE|OUT_DIR|-]")
    p.add_argument("--all", action="store_true", help="a TAR.GZ of every log file, the rotated ones too")
    p.add_argument("--severity", default="", help=SEVERITY_HELP)
    p = cmd(cluster_sub, "download-logs", cmd_download_logs, "save every node's log archive (one TAR.GZ per node)", """
ais-ray cluster download-logs /tmp/logs
ais-ray cluster download-logs --severity error""")
    p.add_argument("out_dir", nargs="?", default="", metavar="[OUT_DIR]")
    p.add_argument("--severity", default="", help=SEVERITY_HELP)
