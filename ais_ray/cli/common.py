"""What every CLI command shares: the endpoint, running a coroutine, errors, tables."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from ais_ray.auth.gate import ENV_TOKEN
from ais_ray.client import AisClient
from ais_ray.core.blob import chunk_note
from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import AisError, ErrInvalidDuration
from ais_ray.core.sizes import parse_size

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"


class CliError(Exception):
    """A failure to report as one `error: ...` line (exit code 1)."""


def default_data_dir() -> str:
    return os.environ.get("AIS_RAY_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "ais-ray")


def endpoint() -> str:
    """`AIS_ENDPOINT`, else the endpoint of the cluster running from `AIS_RAY_DATA_DIR` if that is
    set, else of the running cluster `ais-ray up` started (or was pointed at) last, else of the one
    running from the default data dir, else :8080 (`down` stops the same one)."""
    env = os.environ.get("AIS_ENDPOINT")
    if env:
        return env if "://" in env else f"http://{env}"
    from ais_ray.cli.daemon import last_data_dir, running

    named = os.environ.get("AIS_RAY_DATA_DIR")
    for data_dir in ((named,) if named else (last_data_dir(), default_data_dir())):
        st = running(data_dir) if data_dir else None
        if st and st.get("endpoint"):
            return str(st["endpoint"])
    return DEFAULT_ENDPOINT


def selection_value(args: argparse.Namespace, prefix: str) -> tuple[dict[str, Any], str]:
    """`--list a,b` | `--template T` | a prefix as the ListRange body multi-object jobs take
    (prefetch, copy): `objnames` or `template` (a prefix is a template without a range, as
    AIStore's CLI sends it), and how to name the selection; empty for a whole bucket."""
    if args.list:
        names = [n.strip() for n in args.list.split(",") if n.strip()]
        return {"objnames": names}, f"{len(names)} objects"
    if args.template:
        return {"template": args.template}, f'"{args.template}"'
    if prefix:
        return {"template": prefix}, f'prefix "{prefix}"'
    if getattr(args, "template", None) == "":  # set and empty: every object (ais's `--template ""`)
        return {"template": ""}, "every object"
    return {}, ""


def refresh_interval(text: str, most: tuple[float, str] = (60.0, "1m")) -> float:
    """`--refresh DUR` in seconds (0.0: not given), from 100ms up to `most` (seconds, as written)."""
    if not text:
        return 0.0
    try:
        interval = parse_duration(text)
    except ErrInvalidDuration as exc:
        raise CliError(f"--refresh: {exc.message}") from exc
    if not 0.1 <= interval <= most[0]:
        raise CliError(f"--refresh: expecting 100ms..{most[1]}")
    return interval


def run(fn: Callable[[AisClient], Awaitable[int | None]]) -> int:
    """Run `fn` with a connected client; turn failures into one line on stderr and exit 1."""
    ep = endpoint()

    async def main() -> int | None:
        async with AisClient(ep, token=os.environ.get(ENV_TOKEN) or None) as c:
            return await fn(c)

    try:
        return asyncio.run(main()) or 0
    except aiohttp.ClientConnectorError as exc:
        raise CliError(f"cannot reach ais-ray at {ep} ({exc.os_error.strerror if exc.os_error else exc}); "
                       "is the cluster up? (`ais-ray up`, or set AIS_ENDPOINT)") from exc
    except aiohttp.ClientError as exc:
        raise CliError(f"{ep}: {type(exc).__name__}: {exc}") from exc
    except AisError as exc:
        raise CliError(exc.message) from exc


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, no_headers: bool = False,
                out: Any = None) -> None:
    out = out or sys.stdout
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = [] if no_headers else [headers]
    for row in (lines + cells):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def blob_chunk_arg(text: str) -> int | None:
    """`--chunk-size` in bytes (None: the default); out of range, say what will be used instead."""
    chunk = parse_size(text) if text else None
    note = chunk_note(chunk or 0)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return chunk


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    pass
