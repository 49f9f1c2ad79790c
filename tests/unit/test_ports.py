"""Port choices (no Ray): a test's servers listen where nothing takes ports by itself, and `up`
never gives the API port it was told to another of its own servers."""

from __future__ import annotations

import socket

from ais_ray import deploy
from ais_ray.testing import _proc


def test_test_ports_are_outside_the_ephemeral_range() -> None:
    high = _proc._ephemeral_low()
    ports = {_proc.free_port() for _ in range(200)}
    assert all(_proc.FIXED_PORTS_LOW <= p < high for p in ports), sorted(ports)[:5]
    assert len(ports) > 150  # drawn at random, not one port over and over
    with socket.socket() as s:  # and free: it binds
        s.bind((_proc.LOOPBACK, ports.pop()))


def test_an_internal_port_is_never_one_to_avoid() -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = (int(x) for x in f.read().split())
    allowed = set(range(high - 600, high + 1))  # the kernel's draws fall in `avoid` ~98 % of the time
    avoid = set(range(low, high + 1)) - allowed
    for _ in range(5):
        port = deploy.free_port(avoid)
        assert port in allowed
        with socket.socket() as s:
            s.bind(("", port))
