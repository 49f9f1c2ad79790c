"""Outbound address policy for user-chosen URLs (download links, HTTP buckets), at connect time.

The rule itself is pure (`core/netpolicy.py`); this is where it meets the socket: a connector
that checks every address a host resolves to — literal IPs included — before connecting, on
every new connection, redirect hops included. (The downloader's libcurl transfers check the
same rule in libcurl's socket-open callback, `curlhttp.py`.) The policy comes from `AIS_RAY_DOWNLOAD_DENY`
(set by `ais-ray up --download-deny`), read once per process.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import aiohttp

from ais_ray.core.errors import ErrAccessDenied
from ais_ray.core.netpolicy import NetPolicy

ENV_DENY = "AIS_RAY_DOWNLOAD_DENY"


class ErrSourceRefused(ErrAccessDenied):
    """A download source resolved to an address the cluster's policy refuses (403)."""


@functools.cache
def download_policy() -> NetPolicy:
    """The policy of this process (`AIS_RAY_DOWNLOAD_DENY`, default: `NetPolicy()`)."""
    return NetPolicy.parse(os.environ.get(ENV_DENY))


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that refuses to connect to addresses the policy denies."""

    def __init__(self, policy: NetPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    async def _resolve_host(self, host: str, port: int, traces: Sequence[Any] | None = None) -> list[Any]:
        # aiohttp's own hook point: every connection resolves through here, IP literals too
        hosts = await super()._resolve_host(host, port, traces=traces)
        allowed = [h for h in hosts if self.policy.refuses(h["host"]) is None]
        if not allowed:
            why = self.policy.refuses(hosts[0]["host"]) if hosts else "unresolved"
            raise ErrSourceRefused(refusal(host, why, self.policy))
        return allowed


def refusal(host: str, why: str, policy: NetPolicy) -> str:
    """The message of a refused source: `host` (as the link names it) resolved to a `why` address."""
    return (f'download source "{host}" refused: it resolves to a {why} address '
            f"(policy: deny {policy}; see `ais-ray up --download-deny`)")
