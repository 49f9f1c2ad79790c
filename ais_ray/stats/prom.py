"""Prometheus exposition of the counters, with AIStore's metric names (`stats/common_prom.go`).

`x.n` -> `ais_<subsystem>_x_count`, `x.size` -> `_bytes`, `x.ns.total` -> `_ns_total` (dots
become `_`); const label `node_id`; the variable label of `LABELS` (`bucket`, `backend`). Gauges
(uptime, state flags, disk rates) come as `Gauge`s. Rendered by `prometheus_client` through a
custom collector over one snapshot: no global registry, nothing kept between scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ais_ray.stats.counters import COUNTERS, LABELS, Labeled, split

CONTENT_TYPE = CONTENT_TYPE_LATEST
_SUFFIX = {".n": "_count", ".size": "_bytes", ".ns.total": "_ns_total"}
_HELP = {".n": "count", ".size": "bytes", ".ns.total": "total latency, ns"}


def prom_name(subsystem: str, name: str) -> str:
    """`get.n` -> `ais_target_get_count` (AIStore's names; there is no `_n`)."""
    op, sfx = split(name)
    return f"ais_{subsystem}_{op.replace('.', '_')}{_SUFFIX[sfx]}"


@dataclass
class Gauge:
    """A gauge family: help, its variable label (or ""), value by label value."""

    help: str
    label: str = ""
    values: dict[str, float] = field(default_factory=dict)


class _Snapshot(Collector):
    def __init__(self, subsystem: str, node_id: str, counters: Labeled, gauges: dict[str, Gauge]) -> None:
        self.subsystem, self.node_id, self.counters, self.gauges = subsystem, node_id, counters, gauges

    def collect(self) -> Iterator[Metric]:
        for name in sorted(self.counters):
            op, sfx = split(name)
            full = prom_name(self.subsystem, name)
            # AIStore's names: prometheus_client would append `_total` to a counter named
            # `get_count`, so those are untyped (rate() works the same); `_ns_total` is a counter
            counter = sfx == ".ns.total"
            m = Metric(full.removesuffix("_total") if counter else full, f"{COUNTERS.get(op, op)} ({_HELP[sfx]})",
                       "counter" if counter else "unknown")
            var = LABELS.get(op, "")
            for label, val in sorted(self.counters[name].items()):
                labels = {"node_id": self.node_id}
                if var:
                    labels[var] = label
                m.add_sample(full, labels, val)
            yield m
        for short, g in sorted(self.gauges.items()):
            full = f"ais_{self.subsystem}_{short}"
            m = Metric(full, g.help, "gauge")
            for label, val in sorted(g.values.items()):
                m.add_sample(full, {"node_id": self.node_id, **({g.label: label} if g.label else {})}, val)
            yield m


def render(subsystem: str, node_id: str, counters: Labeled, gauges: dict[str, Gauge]) -> bytes:
    """The Prometheus text exposition of one node's snapshot."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Snapshot(subsystem, node_id, counters, gauges))
    return generate_latest(reg)
