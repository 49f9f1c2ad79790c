"""What the blob engine tests share: a per-test httpsrc directory, a temp mountpath, download helpers.

Each test module declares its `src` and `store` fixtures over `fresh_src` and `temp_store`
(`conftest.py` stays as it is).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import xxhash

from ais_ray.backends.http import HttpBackend
from ais_ray.core.blob import BlobParams, ChunkManifest
from ais_ray.core.lom import CT_CHUNK, CT_WORK
from ais_ray.core.names import Bucket, parse_bucket_uri
from ais_ray.fs.store import MountpathStore
from ais_ray.jobs.blob import BlobDownload, url_reader
from ais_ray.testing.httpsrc import Faults, HttpSrc

T = TypeVar("T")
BCK: Bucket = parse_bucket_uri("s3://blobs")[0]


class Src:
    """The session's httpsrc with a directory of this test's own; faults and counters reset."""

    def __init__(self, server: HttpSrc) -> None:
        self.server = server
        self.dir = f"blob-{uuid.uuid4().hex[:8]}"
        self.root = Path(server.files.root) / self.dir

    def put(self, name: str, size: int) -> bytes:
        data = os.urandom(size)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data

    def path(self, name: str) -> str:
        return f"{self.dir}/{name}"

    def url(self, name: str) -> str:
        return f"{self.server.url}/{self.path(name)}"

    def requests(self, name: str) -> int:
        return self.server.stats.requests[self.path(name)]


def fresh_src(httpsrc: HttpSrc) -> Iterator[Src]:
    """For a test module's `src` fixture: the session's httpsrc, clean before and after."""
    httpsrc.faults = Faults()
    httpsrc.reset()
    yield Src(httpsrc)
    httpsrc.faults = Faults()


def temp_store(tmp_path: Path) -> MountpathStore:
    return MountpathStore(str(tmp_path / "mp"), fsync=False)


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def blob(store: MountpathStore, src: Src, name: str, params: BlobParams, *, http: HttpBackend,
               obj_name: str | None = None, **kw: Any) -> BlobDownload:
    obj = await http.head_url(src.url(name))
    src.server.reset()  # count only the download's requests
    return BlobDownload(store, BCK, obj_name or name, obj, url_reader(http, src.url(name), obj.size), params, **kw)


async def fetch(store: MountpathStore, src: Src, name: str, params: BlobParams, **kw: Any) -> BlobDownload:
    http = HttpBackend(retries=0)  # the engine's own retries, not the backend's, are under test
    try:
        bd = await blob(store, src, name, params, http=http, **kw)
        await bd.run()
        return bd
    finally:
        await http.aclose()


def stored(store: MountpathStore, name: str) -> bytes:
    f, attrs = store.open(BCK, name)
    with f:
        data = f.read()
    assert attrs.cksum == xxhash.xxh64(data, seed=0).hexdigest() and attrs.size == len(data)
    return data


def leftovers(store: MountpathStore) -> tuple[list[str], list[str]]:
    return sorted(os.listdir(os.path.join(store.path, CT_WORK))), sorted(os.listdir(os.path.join(store.path, CT_CHUNK)))


def manifest_of(store: MountpathStore) -> ChunkManifest:
    (only,) = leftovers(store)[1]
    m = ChunkManifest.from_bytes(Path(store.path, CT_CHUNK, only, "manifest.json").read_bytes())
    assert m is not None
    return m

