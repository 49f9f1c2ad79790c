"""Shell completion of what the running cluster holds (argcomplete): bucket names where a command
takes a BUCKET, node ids where it takes a TARGET / NODE_ID. Asked only on a TAB, bounded by a
short timeout; a cluster that does not answer completes nothing (never an error in the shell)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from ais_ray.client import AisClient
from ais_ray.core.names import Bucket, Provider

TIMEOUT = 3.0
BUCKET_DESTS = frozenset({"uri", "bucket", "buckets", "src", "dst", "destination", "dest"})


def _ask(fn: Callable[[AisClient], Any]) -> Any:
    from ais_ray.cli.common import endpoint

    async def go() -> Any:
        async with AisClient(endpoint()) as c:
            return await asyncio.wait_for(fn(c), TIMEOUT)

    try:
        return asyncio.run(go())
    except Exception:  # a cluster that is down or slow: nothing to offer
        return None


def buckets(prefix: str, **_: Any) -> list[str]:
    """`ais://name` for each bucket of the cluster (cloud ones as they are named, `s3://b`)."""
    found = _ask(lambda c: c.list_buckets()) or []
    names = [str(Bucket(b["name"], Provider.parse(b.get("provider", "ais")))) for b in found if b.get("name")]
    return [n for n in names if n.startswith(prefix)]


def nodes(prefix: str, **_: Any) -> list[str]:
    """The ids of the cluster's targets (and its proxy)."""
    smap = _ask(lambda c: c.smap()) or {}
    ids = sorted({*smap.get("tmap", {}), *smap.get("pmap", {})})
    return [i for i in ids if i.startswith(prefix)]


def attach(parser: argparse.ArgumentParser) -> None:
    """Give every positional BUCKET and node argument of the command tree its completer."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                attach(sub)
            continue
        if action.option_strings or getattr(action, "completer", None) is not None:
            continue
        meta = str(action.metavar or action.dest).upper()
        if action.dest in ("node", "target", "node_id") or meta in ("TARGET", "NODE_ID", "NODE"):
            action.completer = nodes  # type: ignore[attr-defined]
        elif action.dest in BUCKET_DESTS or meta.startswith("BUCKET") or meta.startswith("SRC") \
                or meta.startswith("DST"):
            action.completer = buckets  # type: ignore[attr-defined]
