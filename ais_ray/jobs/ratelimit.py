"""A token bucket in bytes per second: how `limits.bytes_per_hour` is enforced."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`take(n)` waits until `n` bytes fit under the rate; a burst of one second is allowed.

    Go's downloader throttles per minute (`ext/dload/throttler.go`); a per-second bucket
    keeps the same average with far less burstiness for small jobs.
    """

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)
        self.capacity = max(self.rate, 64 * 1024)
        self._tokens = self.capacity
        self._t = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._t) * self.rate)
                self._t = now
                # a chunk bigger than the bucket waits for a full bucket, then goes (debt)
                if self._tokens >= min(n, self.capacity):
                    self._tokens -= n
                    return
                await asyncio.sleep((min(n, self.capacity) - self._tokens) / self.rate)
