"""Node statistics: declared counters with AIStore's names (`stats/common.go`, `stats/target_stats.go`)."""

from ais_ray.stats.counters import COUNTERS, Counters

__all__ = ["COUNTERS", "Counters"]
