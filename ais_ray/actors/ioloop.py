"""A private asyncio loop on its own thread: the data path of an actor.

Ray runs an async actor's methods on one loop; giving the HTTP data server and the job
workers a loop of their own keeps control calls (keepalive, stats, metadata updates)
answering in milliseconds while gigabytes move, and lets a restarted actor bring its
server up from the synchronous `__init__`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


class IoLoop:
    def __init__(self, name: str) -> None:
        # Not `new_event_loop()`: Ray installs uvloop's policy in its workers, and uvloop has no
        # `loop.sendfile`, so every GET would copy the object through user space (measured:
        # 0.51 vs 0.18 ms of CPU per MiB served, see benchmarks/README.md).
        self.loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Block the calling thread (never this loop's) until `coro` finishes."""
        return self.submit(coro).result(timeout)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on this loop from another loop."""
        return await asyncio.wrap_future(self.submit(coro))
