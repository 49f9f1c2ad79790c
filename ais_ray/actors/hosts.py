"""Which servers are on this machine: their files are readable here (`target_reads`, GetBatch)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def local_hosts() -> frozenset[str]:
    """The addresses by which this machine's own servers are reached."""
    hosts = {"127.0.0.1", "localhost", "::1"}
    try:
        import ray

        if ray.is_initialized():
            hosts.add(ray.util.get_node_ip_address())
    except Exception:  # noqa: BLE001 - outside Ray: the loopback names only
        pass
    try:
        hosts.add(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    return frozenset(hosts)


def is_local(url: str, hosts: frozenset[str]) -> bool:
    """Whether a data server's URL is on this machine (its mountpath's files are readable here)."""
    return (urlsplit(url).hostname or "") in hosts
