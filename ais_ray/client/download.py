"""`AisClient.download`: the Internet downloader (`/v1/download`), which the official SDK lacks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ais_ray.client.http import Http
from ais_ray.core.errors import ErrTimeout


class DownloadApi:
    """The downloader (`/v1/download`), which the official SDK does not cover."""

    def __init__(self, client: Http) -> None:
        self.c = client

    async def start(self, body: dict[str, Any]) -> str:
        """Start a job from a `dload.Body`-shaped dict (type, bucket, link / objects / template ...)."""
        _, _, raw = await self.c.request("POST", "download", json_body=body)
        return str(json.loads(raw)["id"])

    async def status(self, job_id: str, *, only_active: bool = False) -> dict[str, Any]:
        body = {"id": job_id, "only_active_tasks": only_active}
        return json.loads((await self.c.request("GET", "download", json_body=body))[2])

    async def list(self, regex: str = "") -> list[dict[str, Any]]:
        return json.loads((await self.c.request("GET", "download", json_body={"regex": regex}))[2])

    async def abort(self, job_id: str) -> None:
        await self.c.request("DELETE", "download/abort", json_body={"id": job_id})

    async def remove(self, job_id: str) -> None:
        await self.c.request("DELETE", "download/remove", json_body={"id": job_id})

    async def wait(self, job_id: str, *, timeout: float | None = None, interval: float = 0.5) -> dict[str, Any]:
        """Poll until the job finishes (or is aborted and stopped); return its final status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while True:
            st = await self.status(job_id)
            if is_finished(st):
                return st
            if deadline is not None and loop.time() > deadline:
                raise ErrTimeout(f'download "{job_id}" did not finish within {timeout:g}s')
            await asyncio.sleep(interval)


def is_finished(st: dict[str, Any]) -> bool:
    """Go `dload.StatusResp.JobFinished`: a non-zero finish time."""
    return not str(st.get("finished_time", "")).startswith("0001")
