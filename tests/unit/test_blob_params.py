"""Blob downloader rules: AIStore's chunk and worker resolution, the chunk plan, the resume manifest."""

from __future__ import annotations

import pytest

from ais_ray.core.blob import (
    DEFAULT_CHUNK,
    MAX_CHUNK,
    MIN_CHUNK,
    SERIAL,
    BlobParams,
    ChunkManifest,
    auto_workers,
    chunk_note,
    blob_threshold,
    chunk_dir_name,
    chunk_dir_prefix,
    chunk_span,
    plan_chunks,
    resolve_blob_params,
    source_identity,
)
from ais_ray.core.errors import ErrBadRequest, ErrInvalidSize, ErrInvalidValue
from ais_ray.core.sizes import GIB, KIB, MIB

GB1 = GIB


def resolve(chunk: str | int | None = None, workers: str | int | None = None, *, size: int = GB1,
            mpaths: int = 1) -> BlobParams:
    return resolve_blob_params(chunk, workers, size=size, n_mountpaths=mpaths)


def test_defaults_follow_the_seed() -> None:
    p = resolve()
    assert p == BlobParams(chunk_size=2 * MIB, workers=4, latest=False)
    assert DEFAULT_CHUNK == 2 * MIB and MIN_CHUNK == 32 * KIB and MAX_CHUNK == 16 * MIB
    assert resolve_blob_params(None, None, size=GB1, n_mountpaths=1, latest=True).latest


@pytest.mark.parametrize(("chunk", "expected"), [
    (None, 2 * MIB), (0, 2 * MIB), ("0", 2 * MIB),  # 0 = system default (Go `setChunkSize`)
    ("1mb", 1_000_000), ("1MiB", MIB), ("4MiB", 4 * MIB), ("128k", 128_000), ("128KiB", 128 * KIB),
    ("1048576", MIB), (1048576, MIB), ("1.5MiB", 3 * MIB // 2), ("32KiB", 32 * KIB), ("16MiB", 16 * MIB),
])
def test_chunk_sizes_use_aistore_units(chunk: str | int | None, expected: int) -> None:
    assert resolve(chunk).chunk_size == expected


@pytest.mark.parametrize(("chunk", "expected"), [
    ("1", MIN_CHUNK), (1, MIN_CHUNK), ("1k", MIN_CHUNK), ("32767", MIN_CHUNK),
    ("16777217", MAX_CHUNK), ("17MiB", MAX_CHUNK), ("1GiB", MAX_CHUNK), ("1t", MAX_CHUNK),
])
def test_out_of_range_chunk_sizes_are_clamped_as_go_does(chunk: str | int, expected: int) -> None:
    assert resolve(chunk).chunk_size == expected


@pytest.mark.parametrize("chunk", ["", "  ", "abc", "-1", -1, "1.2.3", "4XB", "mb", "1e999", "99999999999999999999999",
                                   True, "0x10"])
def test_invalid_chunk_sizes_name_the_field(chunk: str | int) -> None:
    with pytest.raises(ErrInvalidSize) as info:
        resolve(chunk)
    assert info.value.message.startswith(f'invalid blob chunk size "{chunk}": ')
    assert isinstance(info.value, ErrBadRequest) and info.value.status == 400


@pytest.mark.parametrize(("workers", "expected"), [
    ("-1", SERIAL), (-1, SERIAL), ("1", 1), ("+5", 5), ("16", 16), (16, 16), ("128", 128), ("00007", 7),
])
def test_explicit_workers(workers: str | int, expected: int) -> None:
    assert resolve(workers=workers, size=64 * GIB).workers == expected


@pytest.mark.parametrize("workers", ["-2", "129", "200", 129, -5, "abc", "", " 4", "4 ", "1.5", "0x10", "1_0",
                                     "٣", True, "9999999"])
def test_invalid_workers_name_the_field(workers: str | int) -> None:
    with pytest.raises(ErrInvalidValue) as info:
        resolve(workers=workers)
    assert info.value.message.startswith(f'invalid blob workers "{workers}": ')
    assert info.value.status == 400


def test_both_invalid_reports_the_chunk_first() -> None:
    with pytest.raises(ErrInvalidSize):
        resolve("x", "x")


@pytest.mark.parametrize(("size", "mpaths", "expected"), [
    (8 * MIB, 1, 4),  # the seed's default of 4 (issue 17.3: Go's size rule gave 1)
    (300 * MIB, 1, 4),  # Go: ceil(300 / 256) = 2; never below the seed's 4
    (256 * MIB, 4, 4),
    (GIB, 1, 4),  # 4 per mountpath
    (2 * GIB, 4, 8),  # Go's example: the size cap binds
    (8 * GIB, 8, 32),  # the hard cap
    (16 * GIB, 16, 32),
    (GIB, 0, 4),  # no mountpath count: one
])
def test_auto_workers(size: int, mpaths: int, expected: int) -> None:
    assert auto_workers(size, mpaths) == expected
    assert resolve(workers=0, size=size, mpaths=mpaths).workers == expected
    assert resolve(workers="0", size=size, mpaths=mpaths).workers == expected
    assert resolve(workers=None, size=size, mpaths=mpaths).workers == expected


def test_out_of_range_chunk_is_named_with_what_is_used() -> None:
    assert chunk_note(64 * 1000 * 1000) == "chunk size 61.04MiB is outside 32.00KiB..16.00MiB: using 16.00MiB"
    assert chunk_note(16 * 1000) == "chunk size 15.62KiB is outside 32.00KiB..16.00MiB: using 32.00KiB"
    assert chunk_note(4 * MIB) == "" and chunk_note(0) == ""


def test_small_objects_are_read_serially() -> None:
    assert resolve(workers=16, size=0).workers == SERIAL
    assert resolve(workers=16, size=2 * MIB).workers == SERIAL  # one chunk: Go runs it inline
    assert resolve("1MiB", 16, size=MIB + 1).workers == 2  # two chunks: no more than two readers
    assert resolve(workers=-1, size=64 * GIB).serial


def test_explicit_workers_are_not_capped_by_object_size() -> None:
    # Go caps every request at one worker per 256 MiB; here only auto is, and explicit counts are
    # capped by the number of chunks (a worker with nothing to read is useless).
    assert resolve(workers=16, size=256 * MIB).workers == 16
    assert resolve("1MiB", 128, size=3 * MIB).workers == 3


def test_serial_property() -> None:
    assert BlobParams(MIB, SERIAL).serial and BlobParams(MIB, 1).serial and not BlobParams(MIB, 2).serial


def test_size_must_be_known() -> None:
    with pytest.raises(ErrBadRequest, match="size"):
        resolve(size=-1)


@pytest.mark.parametrize("size", [0, 1, MIB - 1, MIB, MIB + 1, 37 * MIB + 12345])
def test_plan_covers_the_object_exactly(size: int) -> None:
    plan = plan_chunks(size, MIB)
    assert sum(n for _, n in plan) == size
    assert all(0 < n <= MIB for _, n in plan)
    assert [off for off, _ in plan] == [i * MIB for i in range(len(plan))]
    assert plan == [chunk_span(i, size, MIB) for i in range(len(plan))]
    assert len(plan) == -(-size // MIB)


def test_plan_rejects_empty_chunks() -> None:
    with pytest.raises(ErrBadRequest):
        plan_chunks(10, 0)


@pytest.mark.parametrize(("given", "expected"), [(0, 0), (-1, 0), (1, MIB), (MIB - 1, MIB), (5 * MIB, 5 * MIB)])
def test_prefetch_threshold_has_a_floor(given: int, expected: int) -> None:
    assert blob_threshold(given) == expected


def test_manifest_round_trip_and_bytes() -> None:
    m = ChunkManifest(size=10 * MIB + 5, chunk_size=MIB, identity="etag\n\n5\n0.0", low=3, done=(5, 10))
    back = ChunkManifest.from_bytes(m.to_bytes())
    assert back == m
    assert m.done_bytes() == 3 * MIB + MIB + 5  # chunks 0-2, chunk 5, and the 5-byte tail (chunk 10)
    full = ChunkManifest(size=10, chunk_size=MIN_CHUNK, identity="x", low=1)
    assert full.done_bytes() == 10


@pytest.mark.parametrize("raw", [
    b"", b"{", b"[]", b'{"v":1}', b'{"v":2,"size":10,"chunk":32768,"src":"x","low":0,"done":[]}',
    b'{"v":1,"size":-1,"chunk":32768,"src":"x","low":0,"done":[]}',
    b'{"v":1,"size":10,"chunk":1,"src":"x","low":0,"done":[]}',  # chunk below the minimum
    b'{"v":1,"size":10,"chunk":32768,"src":"x","low":2,"done":[]}',  # low beyond the last chunk
    b'{"v":1,"size":100000,"chunk":32768,"src":"x","low":1,"done":[1]}',  # done must be above low
    b'{"v":1,"size":100000,"chunk":32768,"src":"x","low":1,"done":[4]}',  # no chunk 4
    b'{"v":1,"size":"a","chunk":32768,"src":"x","low":0,"done":[]}',
])
def test_unusable_manifests_mean_start_over(raw: bytes) -> None:
    assert ChunkManifest.from_bytes(raw) is None


def test_chunk_dirs_change_with_the_source() -> None:
    uname = "aws/@#/b/big.tar"
    a = chunk_dir_name(uname, source_identity("e1", "", 100, 0.0))
    b = chunk_dir_name(uname, source_identity("e2", "", 100, 0.0))
    c = chunk_dir_name(uname, source_identity("e1", "v2", 100, 0.0))
    assert len({a, b, c}) == 3
    assert all(x.startswith(chunk_dir_prefix(uname)) for x in (a, b, c))
    assert not a.startswith(chunk_dir_prefix("aws/@#/b/other.tar"))
    assert source_identity("", "", 100, 0.0) == ""  # size alone pins nothing: not resumable
    assert source_identity("", "", 100, 1700000000.0) != ""
