"""S3 (moto, versioned), GCS (fake-gcs-server) and Azure (azurite) through one Backend interface."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from ais_ray.backends import Backend, ListPage
from ais_ray.backends.base import MAX_CHUNK, PART_SIZE, READ_CHUNK, RemoteObj, open_object
from ais_ray.core.errors import (
    ErrBackend,
    ErrBadRequest,
    ErrObjNotFound,
    ErrRangeNotSatisfiable,
    ErrRemoteBckNotFound,
)
from tests.integration.backends.conftest import Remote, Run

ODD = 3 * READ_CHUNK + 12345  # several chunks and a ragged tail


def uniq(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


async def read_all(b: Backend, bucket: str, name: str, rng: tuple[int, int] | None = None) -> bytes:
    return await collect(b.read(bucket, name, rng))


def test_head_object(remote: Remote, arun: Run) -> None:
    data = os.urandom(1000)
    name = uniq("head/")
    remote.seed(name, data)
    assert isinstance(remote.backend, Backend)
    obj = arun(remote.backend.head_object(remote.bucket, name))
    assert (obj.name, obj.size) == (name, 1000)
    assert obj.etag and obj.last_modified > time.time() - 600
    assert obj.md5 == hashlib.md5(data).hexdigest()
    assert bool(obj.version) == remote.versioned
    arun(remote.backend.head_bucket(remote.bucket))


def test_list_pages_and_prefix(remote: Remote, arun: Run) -> None:
    prefix = uniq("list-") + "/"
    names = [f"{prefix}{i:02d}" for i in range(5)]
    for n in names:
        remote.seed(n, n.encode())
    remote.seed(prefix.rstrip("/") + "-sibling", b"x")  # shares the text, not the prefix

    pages: list[ListPage] = []
    token = ""
    while True:
        page = arun(remote.backend.list_objects(remote.bucket, prefix, token=token, page_size=2))
        pages.append(page)
        token = page.next_token
        if not token:
            break
    assert [len(p.entries) for p in pages] == [2, 2, 1]
    listed = [e for p in pages for e in p.entries]
    assert [e.name for e in listed] == names
    assert all(e.size == len(e.name) and e.etag for e in listed)
    assert arun(remote.backend.list_objects(remote.bucket, uniq("none-"))).entries == []


def test_read_full_streams_in_chunks(remote: Remote, arun: Run) -> None:
    data = os.urandom(MAX_CHUNK + ODD)
    name = uniq("full/")
    remote.seed(name, data)

    b = remote.backend

    async def chunks() -> list[bytes]:
        return [c async for c in b.read(remote.bucket, name)]

    got = arun(chunks())
    assert b"".join(got) == data
    assert len(got) > 1 and max(map(len, got)) <= MAX_CHUNK


@pytest.mark.parametrize("rng", [(0, 1), (ODD - 1, 1), (1, 7), (READ_CHUNK - 3, READ_CHUNK + 7),
                                 (12345, ODD - 12345), (0, ODD), (100, 0)])
def test_read_range(remote: Remote, arun: Run, rng: tuple[int, int], ranged_obj: tuple[str, bytes]) -> None:
    name, data = ranged_obj
    off, n = rng
    assert arun(read_all(remote.backend, remote.bucket, name, rng)) == data[off : off + n]


@pytest.fixture(scope="module")
def ranged_obj(remote: Remote) -> tuple[str, bytes]:
    data = os.urandom(ODD)
    name = uniq("range/")
    remote.seed(name, data)
    return name, data


def test_read_past_end_and_empty(remote: Remote, arun: Run) -> None:
    name = uniq("empty/")
    remote.seed(name, b"")
    assert arun(read_all(remote.backend, remote.bucket, name)) == b""
    assert arun(remote.backend.head_object(remote.bucket, name)).size == 0
    small = uniq("small/")
    remote.seed(small, b"0123456789")
    with pytest.raises(ErrRangeNotSatisfiable):
        arun(read_all(remote.backend, remote.bucket, small, (10, 5)))
    with pytest.raises(ErrRangeNotSatisfiable):
        arun(read_all(remote.backend, remote.bucket, name, (0, 1)))


def test_put_and_read_back(remote: Remote, arun: Run) -> None:
    b = remote.backend
    small = uniq("put/")
    obj = arun(b.put_object(remote.bucket, small, b"hello", size=5))
    assert obj.size == 5 and obj.etag
    assert arun(read_all(b, remote.bucket, small)) == b"hello"

    big = os.urandom(2 * PART_SIZE + 777)  # three parts: multipart / resumable / block list

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 3 << 20):
            yield big[i : i + (3 << 20)]

    name = uniq("put-big/")
    obj = arun(b.put_object(remote.bucket, name, stream()))
    assert obj.size == len(big) and obj.etag
    head = arun(b.head_object(remote.bucket, name))
    assert (head.size, head.etag) == (len(big), obj.etag)
    assert arun(read_all(b, remote.bucket, name)) == big
    assert arun(read_all(b, remote.bucket, name, (PART_SIZE - 1, 2))) == big[PART_SIZE - 1 : PART_SIZE + 1]


def test_put_size_mismatch_writes_nothing(remote: Remote, arun: Run) -> None:
    name = uniq("mismatch/")
    with pytest.raises(ErrBadRequest):
        arun(remote.backend.put_object(remote.bucket, name, b"abc", size=4))
    with pytest.raises(ErrObjNotFound):
        arun(remote.backend.head_object(remote.bucket, name))


def test_delete(remote: Remote, arun: Run) -> None:
    name = uniq("del/")
    remote.seed(name, b"x")
    arun(remote.backend.delete_object(remote.bucket, name))
    with pytest.raises(ErrObjNotFound):
        arun(remote.backend.head_object(remote.bucket, name))
    arun(remote.backend.delete_object(remote.bucket, name))  # idempotent


def test_missing_object(remote: Remote, arun: Run) -> None:
    want = f'object "{remote.scheme}://{remote.bucket}/no/such" does not exist'
    with pytest.raises(ErrObjNotFound) as head:
        arun(remote.backend.head_object(remote.bucket, "no/such"))
    assert str(head.value) == want
    with pytest.raises(ErrObjNotFound) as read:
        arun(read_all(remote.backend, remote.bucket, "no/such"))
    assert str(read.value) == want


def test_open_object_describes_what_it_streams(remote: Remote, arun: Run) -> None:
    """One GET (S3, Azure; HTTP has its own test) or HEAD + GET (GCS): what a HEAD gives, with the body."""
    data = os.urandom(ODD)
    name = uniq("open/")
    remote.seed(name, data)
    backend = remote.backend

    async def go(obj_name: str) -> tuple[RemoteObj, bytes]:
        async with open_object(backend, remote.bucket, obj_name) as (meta, body):
            return meta, await collect(body)

    meta, got = arun(go(name))
    head = arun(backend.head_object(remote.bucket, name))
    assert got == data
    assert (meta.name, meta.size, meta.etag, meta.version) == (name, ODD, head.etag, head.version)
    assert meta.md5 == head.md5 and bool(meta.version) == remote.versioned
    with pytest.raises(ErrObjNotFound, match=f"{remote.scheme}://{remote.bucket}/no/such"):
        arun(go("no/such"))


def test_missing_bucket(remote: Remote, arun: Run) -> None:
    want = f'bucket "{remote.scheme}://no-such-bucket-{remote.scheme}" does not exist'
    bucket = f"no-such-bucket-{remote.scheme}"
    for call in (remote.backend.head_bucket(bucket), remote.backend.list_objects(bucket)):
        with pytest.raises(ErrRemoteBckNotFound) as exc:
            arun(call)
        assert str(exc.value) == want


def test_unreachable_endpoint_fails_fast(remote: Remote, arun: Run) -> None:
    b = remote.unreachable()
    for call in (b.head_object(remote.bucket, "o"), read_all(b, remote.bucket, "o"), b.list_objects(remote.bucket)):
        t0 = time.monotonic()
        with pytest.raises(ErrBackend) as exc:
            arun(call)
        assert time.monotonic() - t0 < 5
        assert "127.0.0.1:" in str(exc.value)


def test_changed_object_has_new_etag_and_version(remote: Remote, arun: Run) -> None:
    name = uniq("changed/")
    b = remote.backend
    first = arun(b.put_object(remote.bucket, name, b"version one"))
    before = arun(b.head_object(remote.bucket, name))
    time.sleep(0.01)
    second = arun(b.put_object(remote.bucket, name, b"version two!"))
    after = arun(b.head_object(remote.bucket, name))
    assert before.etag == first.etag and after.etag == second.etag
    assert after.etag != before.etag and after.size == 12
    if remote.versioned:
        assert before.version and after.version and before.version != after.version
        assert (first.version, second.version) == (before.version, after.version)
