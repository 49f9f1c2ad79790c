"""The proxy's registry of download jobs (Go `ais/prxdl.go`): start, status, list, abort, remove.

A job is persisted before it is broadcast, so it survives a proxy restart; each target keeps
its own share's progress. A finished job's merged status is cached (and persisted) so it
stays listable, cheaply, until removed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ais_ray.actors.proxy_xact import gather
from ais_ray.core.dload import DlSpec, TargetDlStatus, merge_status, spec_from_json, spec_to_json
from ais_ray.core.errors import AisError, ErrBadRequest, ErrJobNotFound, ErrJobRunning
from ais_ray.fs.store import write_file_atomic

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    spec: DlSpec
    aborted: bool = False
    final: dict[str, Any] | None = None  # merged status once every target finished

    def to_json(self) -> dict[str, Any]:
        return {"spec": spec_to_json(self.spec), "aborted": self.aborted, "final": self.final}


class ProxyDownloads:
    def __init__(self, state_dir: str, targets: Callable[[], dict[str, Any]]) -> None:
        self.dir = os.path.join(state_dir, "download")
        os.makedirs(self.dir, exist_ok=True)
        self._targets = targets  # tid -> handle, of the current Smap
        self.jobs: dict[str, _Entry] = {}
        for fname in sorted(os.listdir(self.dir)):
            if not fname.endswith(".json"):
                continue
            path = os.path.join(self.dir, fname)
            try:
                with open(path) as f:
                    d = json.load(f)
                self.jobs[d["spec"]["id"]] = _Entry(spec_from_json(d["spec"]), d["aborted"], d["final"])
            except Exception as exc:  # one bad record must never stop a restart: set it aside, go on
                log.error("download job record %s is unreadable (%r); moved to %s.bad", fname, exc, fname)
                try:
                    os.replace(path, path + ".bad")
                except OSError:
                    pass

    async def _persist(self, e: _Entry) -> None:
        await asyncio.to_thread(write_file_atomic, os.path.join(self.dir, f"{e.spec.id}.json"),
                                json.dumps(e.to_json()).encode())

    def _get(self, job_id: str) -> _Entry:
        e = self.jobs.get(job_id)
        if e is None:
            raise ErrJobNotFound(job_id)
        return e

    async def _broadcast(self, method: str, *args: Any) -> list[Any]:
        return list((await gather(self._targets(), method, *args, strict=True)).values())

    async def start(self, spec: DlSpec) -> str:
        e = self.jobs[spec.id] = _Entry(spec)
        await self._persist(e)
        try:
            await self._broadcast("dl_start", spec)
        except AisError:
            await self.abort(spec.id)
            raise
        return spec.id

    async def join(self, tid: str, handle: Any) -> list[str]:
        """A target joined: start its share of every download still running; the ids started.

        Its share walks the whole item sequence and keeps what it owns by HRW in the current
        Smap; the old targets' shares already leave those items to it (`jobs/selection.py`).
        """
        started = []
        for job_id, e in list(self.jobs.items()):
            if e.aborted or e.final is not None:
                continue
            if not (await self.status(job_id, only_active=True))["finished_time"].startswith("0001"):
                continue
            try:
                await handle.dl_start.remote(e.spec)
                started.append(job_id)
            except Exception as exc:
                log.error("download %s: starting the share of new target %s: %r", job_id, tid, exc)
        return started

    async def status(self, job_id: str, *, only_active: bool = False) -> dict[str, Any]:
        e = self._get(job_id)
        if e.final is None:
            # a running job's poll for counts (`only_active`, what a progress bar asks every fraction
            # of a second) does not carry the targets' last 1,000 finished tasks each; the full
            # status is asked once, when the job is seen finished, to be kept as its final
            parts: list[TargetDlStatus] = await self._broadcast("dl_status", job_id, only_active)
            merged = merge_status(e.spec, parts, aborted=e.aborted, only_active=only_active)
            if only_active and not merged["finished_time"].startswith("0001"):
                parts = await self._broadcast("dl_status", job_id, False)
                merged = merge_status(e.spec, parts, aborted=e.aborted, only_active=False)
            if not merged["finished_time"].startswith("0001"):
                e.final = merged
                await self._persist(e)
        else:
            merged = e.final
        if only_active:
            return {k: v for k, v in merged.items() if k not in ("finished_tasks", "download_errors")}
        return merged

    async def list(self, regex: str = "", *, only_active: bool = False) -> list[dict[str, Any]]:
        try:
            rx = re.compile(regex) if regex else None
        except re.error as exc:
            raise ErrBadRequest(f'invalid regex "{regex}": {exc}') from exc
        out = []
        for job_id, e in list(self.jobs.items()):
            st = await self.status(job_id, only_active=True)
            if rx is None or rx.search(st["description"]):
                if not only_active or st["finished_time"].startswith("0001"):
                    out.append(st)
        # running first, then newest first (Go sorts the same way)
        running = [s for s in out if s["finished_time"].startswith("0001")]
        done = sorted((s for s in out if not s["finished_time"].startswith("0001")), key=lambda s: s["started_time"], reverse=True)
        return running + done

    async def abort(self, job_id: str) -> None:
        e = self._get(job_id)
        if e.final is not None:
            return  # finished already: nothing to stop
        e.aborted = True
        await self._persist(e)
        await self._broadcast("dl_abort", job_id)

    async def remove(self, job_id: str) -> None:
        st = await self.status(job_id, only_active=True)
        if st["finished_time"].startswith("0001") and not st["aborted"]:
            raise ErrJobRunning(job_id)
        await self._broadcast("dl_remove", job_id)
        self.jobs.pop(job_id, None)
        try:
            os.unlink(os.path.join(self.dir, f"{job_id}.json"))
        except FileNotFoundError:
            pass
