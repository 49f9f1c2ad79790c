"""A job's remote listing that every target walks alike, listed once for all of them.

Every target of a backend download job, and of a prefetch or a copy of a remote prefix, walks
the same remote listing page by page and keeps its own share (HRW). One of them — the job id's
HRW owner among the active targets, the job's *lister* — lists each page once and the others are
handed it (`_TargetActor.remote_page`, `backends/pager.SharedPages`): N targets cost the remote,
and their CPUs, one listing instead of N (AIStore's targets each list the bucket). A lister that
cannot be asked (gone, restarting, its listing failed) costs only the sharing: the asking target
lists the page itself, and a listing error is then its own. Every listing a target makes is
counted (`remote.lst{backend}`, `err.remote`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ais_ray.backends.base import ListPage
from ais_ray.backends.pager import Fetch, SharedPages, backend_fetch
from ais_ray.backends.registry import get_backend
from ais_ray.core import hrw
from ais_ray.core.bmd import RemoteRef
from ais_ray.core.smap import Smap
from ais_ray.stats.counters import Counters

log = logging.getLogger(__name__)


class SharedListings:
    def __init__(self, tid: str, smap: Callable[[], Smap | None], target_handle: Callable[[str], Any],
                 counters: Counters) -> None:
        self.tid = tid
        self._smap = smap
        self._target_handle = target_handle  # another target's actor handle (asked for pages)
        self._counters = counters
        self.pages = SharedPages()  # the pages this target lists for the jobs it is the lister of

    def own(self, src: RemoteRef, prefix: str) -> Fetch:
        """This target's own listing of `src` under `prefix`, page by page, counted."""
        fetch, label = backend_fetch(get_backend(src.bck.provider), src.name, prefix), src.bck.provider.value

        async def counted(token: str) -> ListPage:
            with self._counters.remote_call("remote.lst", label):
                return await fetch(token)

        return counted

    def fetch(self, key: str, src: RemoteRef, prefix: str) -> Fetch:
        """Job `key`'s listing of `src` under `prefix` as this target walks it: each page from the
        job's lister (this target, or another one asked for it), else listed here."""

        async def shared(token: str) -> ListPage:
            lister = self._lister(key)
            if lister == self.tid:
                return await self.page(key, src, prefix, token)
            try:
                # not retried by Ray (targets' calls are, until the actor is back): a lister that is
                # gone is the cue to list here
                return await self._target_handle(lister).remote_page.options(max_task_retries=0).remote(
                    key, src, prefix, token)
            except Exception as exc:
                log.info("%s: page from t[%s] failed (%s); listing it here", key, lister, type(exc).__name__)
                return await self.own(src, prefix)(token)

        return shared

    async def page(self, key: str, src: RemoteRef, prefix: str, token: str) -> ListPage:
        """A page of job `key`'s listing, as its lister: listed once, kept until every target has had it."""
        smap = self._smap()
        walkers = len(smap.targets) if smap is not None else 1
        return await self.pages.page(key, token, self.own(src, prefix), walkers)

    def forget(self, key: str) -> None:
        self.pages.forget(key)

    def _lister(self, key: str) -> str:
        """The target that lists job `key`'s pages for all of them: the key's HRW owner among the
        active targets (this one while it knows no other)."""
        smap = self._smap()
        targets = smap.active_targets() if smap is not None else {}
        return hrw.target_for(key, targets) if targets else self.tid
