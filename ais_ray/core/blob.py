"""Blob downloader rules (pure): chunk size, number of workers, the chunk plan, the resume manifest.

A blob download reads one large remote object as fixed-size chunks with N concurrent range
readers. The rules mirror AIStore: chunk bounds and `TuneBlobDlWorkers` in Go
`xact/xs/blob_download.go`, header parsing in `api/apc/blob.go` (`BlobMsg.FromHeader`). The
default chunk is the seed's 2 MiB (Go uses 4 MiB).

Choosing chunk and workers
--------------------------
Clouds cap each connection, so one stream is slow however fast the link is. With R = one
connection's rate, L = its first-byte latency, and the machine's own limit C (about 1 GiB/s
for one Python process on 2 cores), the measured model (`shared/ref/test-backends.md`) is

    throughput ≈ min(C, workers × chunk / (L + chunk / R))

so:

- **workers ≈ target / R.** Each worker adds about R: at R = 20 MiB/s, 8 workers give
  ~160 MiB/s and 16 give ~320 MiB/s (measured: 7.9× and 15.2× one stream). Past C more
  workers only add memory.
- **chunk ≫ R × L.** Each request pays L once; a chunk of k × R × L keeps a worker busy
  k / (k + 1) of the time. At R = 100 MiB/s and L = 30 ms (R × L = 3 MiB), 2 MiB chunks reach
  40 % of R and 16 MiB chunks 84 %: raise the chunk before the workers. With no latency
  (L ≈ 0) the chunk hardly matters and the 2 MiB default is right.
- **Memory** is about 2 × workers × chunk per blob (the engine's read-ahead window), e.g. 128 MiB
  for 16 × 4 MiB: prefer more workers over bigger chunks when L is small.
- **Small objects**: below ~256 MiB a plain GET is as fast (AIStore's measurement), which is
  why auto mode gives one worker per 256 MiB.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ais_ray.core.errors import ErrBadRequest, ErrInvalidSize, ErrInvalidValue
from ais_ray.core.sizes import KIB, MIB, format_size, parse_size

if TYPE_CHECKING:
    from ais_ray.core.bmd import RemoteRef
    from ais_ray.core.names import Bucket

DEFAULT_CHUNK = 2 * MIB  # the seed's default; Go dfltChunkSize is 4 MiB
MIN_CHUNK = 32 * KIB  # Go minChunkSize = memsys.DefaultBufSize
MAX_CHUNK = 16 * MIB  # Go maxChunkSize
SERIAL = -1  # Go NwpNone: one reader, no workers
AUTO = 0  # Go NwpDflt: resolve from mountpaths and object size
MAX_WORKERS = 128  # header bound (Go `apc/blob.go`: "expecting (-1..128) range")
WORKERS_PER_MOUNTPATH = 4  # Go nwpMultSSD: media type is not detected here, SSD is assumed
MAX_AUTO_WORKERS = 32  # Go blobMaxWorkers
DEFAULT_WORKERS = 4  # seed 001: "default number of workers 4" (Go would give one reader below 256 MiB)
BYTES_PER_WORKER = 256 * MIB  # Go blobMinBytesPerWorker: auto gives one worker per 256 MiB
DEFAULT_CHUNK_READ_TIMEOUT = 60.0  # seconds; Go dfltChunkReadTimeout
MIN_BLOB_THRESHOLD = MIB  # Go minBlobDlPrefetch: a prefetch threshold is raised to this

_WORKERS = re.compile(r"[+-]?[0-9]{1,6}")  # Go strconv.ParseInt(s, 10, 16): sign and digits only


@dataclass(frozen=True, slots=True)
class BlobParams:
    """The resolved tunables of one blob download.

    `workers` is SERIAL (-1) or at least 1. With `workers` <= 1 the engine reads one sequential
    stream; ranges only pay off with two or more concurrent readers. `latest` (Go `LatestVer`)
    is for the caller, which decides whether to download at all; the engine does not read it.
    """

    chunk_size: int = DEFAULT_CHUNK
    workers: int = WORKERS_PER_MOUNTPATH
    latest: bool = False

    @property
    def serial(self) -> bool:
        return self.workers <= 1


def parse_blob_chunk(chunk: str | int | None) -> int:
    """The requested chunk size in bytes, 0 when not given (the `ais-blob-chunk` header).

    Strings use AIStore's units: "1mb" is 10^6, "1MiB" 2^20 (Go `cos.ParseSize(s, "")`).

    Raises:
        ErrInvalidSize: empty, unparsable, negative or beyond int64, naming the field.
    """
    if chunk is None:
        return 0
    try:
        return parse_size(chunk)
    except ErrInvalidSize as exc:
        raise ErrInvalidSize(f'invalid blob chunk size "{chunk}": expecting bytes or a size like '
                             f'"4mb", "1MiB", "128k" ({exc.message})') from exc


def parse_blob_workers(workers: str | int | None) -> int:
    """The requested number of workers: -1 serial, 0 auto, 1..128 (the `ais-blob-workers` header).

    Raises:
        ErrInvalidValue: not an integer, or out of -1..128 (Go rejects, it does not clamp).
    """
    if workers is None:
        return AUTO
    if isinstance(workers, bool):
        raise ErrInvalidValue(f'invalid blob workers "{workers}": expecting an integer in -1..{MAX_WORKERS}')
    if isinstance(workers, str):
        if not _WORKERS.fullmatch(workers):
            raise ErrInvalidValue(f'invalid blob workers "{workers}": expecting an integer in -1..{MAX_WORKERS}')
        n = int(workers)
    else:
        n = int(workers)
    if not SERIAL <= n <= MAX_WORKERS:
        raise ErrInvalidValue(f'invalid blob workers "{workers}": expecting -1 (serial), 0 (auto) '
                              f'or 1..{MAX_WORKERS}')
    return n


def chunk_note(requested: int) -> str:
    """What to tell a user whose chunk size is out of range ("" when it is used as given)."""
    used = clamp_chunk(requested)
    if requested == 0 or used == requested:
        return ""
    return (f"chunk size {format_size(requested)} is outside {format_size(MIN_CHUNK)}..{format_size(MAX_CHUNK)}: "
            f"using {format_size(used)}")


def clamp_chunk(requested: int) -> int:
    """0 means the default; anything else is clamped into [32 KiB, 16 MiB] (Go `setChunkSize`)."""
    if requested == 0:
        return DEFAULT_CHUNK
    return min(MAX_CHUNK, max(MIN_CHUNK, requested))


def auto_workers(size: int, n_mountpaths: int) -> int:
    """The seed's default of 4 readers, more for very large objects as Go `TuneBlobDlWorkers` (without
    load throttling) gives: max(4, min(4 × mountpaths, ⌈size / 256 MiB⌉, 32)). An 8 MiB object on a
    slow per-connection source takes half the time with 2+ readers, so no size floor pulls it to 1."""
    by_size = -(-size // BYTES_PER_WORKER)
    return max(DEFAULT_WORKERS, min(WORKERS_PER_MOUNTPATH * max(1, n_mountpaths), by_size, MAX_AUTO_WORKERS))


def resolve_blob_params(chunk: str | int | None, workers: str | int | None, *, size: int,
                        n_mountpaths: int, latest: bool = False) -> BlobParams:
    """Turn what the user sent (headers, job message, CLI flags) into the tunables to run with.

    - chunk: None or 0 = 2 MiB; out-of-range values are clamped to [32 KiB, 16 MiB] as Go does.
    - workers: None or 0 = auto (`auto_workers`); -1 = serial; 1..128 explicit.
    - An object of at most one chunk is read serially (Go: "single-part: run inline").
    - Explicit workers are honoured up to the number of chunks. Go also caps them by size
      (one per 256 MiB) and by CPUs + 4; both only fit goroutines that copy on the CPU, while
      here a worker is a network stream, and 16 workers on a 256 MiB object at 20 MiB/s per
      connection are 15× faster than one (measured), which is what a user who asks for 16 wants.

    Raises:
        ErrInvalidSize: bad chunk size.
        ErrInvalidValue: bad number of workers.
        ErrBadRequest: negative object size (a blob download needs the size up front).
    """
    chunk_size = clamp_chunk(parse_blob_chunk(chunk))
    n = parse_blob_workers(workers)
    if size < 0:
        raise ErrBadRequest(f"blob download needs the object's size (got {size})")
    if n == SERIAL or size <= chunk_size:
        return BlobParams(chunk_size, SERIAL, latest)
    if n == AUTO:
        n = auto_workers(size, n_mountpaths)
    return BlobParams(chunk_size, max(1, min(n, chunk_count(size, chunk_size))), latest)


def blob_threshold(threshold: int) -> int:
    """A prefetch `blob-threshold`: 0 = never use the blob downloader, else at least 1 MiB (Go prefetch.go)."""
    return 0 if threshold <= 0 else max(threshold, MIN_BLOB_THRESHOLD)


def chunk_count(size: int, chunk: int) -> int:
    return -(-size // chunk)


def chunk_span(idx: int, size: int, chunk: int) -> tuple[int, int]:
    """(offset, length) of chunk `idx`; the last one may be shorter."""
    off = idx * chunk
    return off, min(chunk, size - off)


def plan_chunks(size: int, chunk: int) -> list[tuple[int, int]]:
    """Every chunk as (offset, length); empty for an empty object.

    For inspection and tests: the engine computes spans one at a time (`chunk_span`), since
    a 1 TiB object at 32 KiB chunks would be 33 million tuples.
    """
    if chunk <= 0:
        raise ErrBadRequest(f"invalid chunk size {chunk}")
    return [chunk_span(i, size, chunk) for i in range(chunk_count(size, chunk))]


# ---- resume: where a partial download lives and what it has -------------------------------------

def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def chunk_dir_prefix(uname: str) -> str:
    """The part of a chunk directory's name shared by every download of one object."""
    return _digest(uname) + "."


def source_identity(etag: str, version: str, size: int, last_modified: float) -> str:
    """What pins the remote bytes a partial download holds; "" when nothing does.

    ETag or version (S3 VersionId, GCS generation) pin them; Last-Modified does for servers
    that send neither. Size alone does not: a rewritten object of the same size would resume
    from stale chunks.
    """
    if not (etag or version or last_modified):
        return ""
    return f"{etag}\n{version}\n{size}\n{last_modified!r}"


def chunk_dir_name(uname: str, identity: str) -> str:
    """`<digest of the object>.<digest of the source identity>`: a changed source gets a new name."""
    return chunk_dir_prefix(uname) + _digest(identity)


@dataclass(frozen=True, slots=True)
class ChunkManifest:
    """Which chunks of a partial download are on disk: all below `low`, plus `done` above it.

    Chunks finish nearly in order, so this stays a few numbers long at any object size.
    """

    size: int
    chunk_size: int
    identity: str
    low: int = 0
    done: tuple[int, ...] = field(default_factory=tuple)

    def to_bytes(self) -> bytes:
        return json.dumps({"v": 1, "size": self.size, "chunk": self.chunk_size, "src": self.identity,
                           "low": self.low, "done": list(self.done)}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChunkManifest | None:
        """None for anything unreadable or inconsistent: the download then starts over."""
        try:
            d: dict[str, Any] = json.loads(raw)
            m = cls(int(d["size"]), int(d["chunk"]), str(d["src"]), int(d["low"]),
                    tuple(int(i) for i in d["done"]))
        except (ValueError, KeyError, TypeError):
            return None
        n = chunk_count(m.size, m.chunk_size) if m.chunk_size > 0 else -1
        if d.get("v") != 1 or m.size < 0 or not MIN_CHUNK <= m.chunk_size <= MAX_CHUNK or not 0 <= m.low <= n:
            return None
        if any(not m.low < i < n for i in m.done):
            return None
        return m

    def done_bytes(self) -> int:
        prefix = min(self.low * self.chunk_size, self.size)
        return prefix + sum(chunk_span(i, self.size, self.chunk_size)[1] for i in self.done)


def blob_source(bck: Bucket, ref: RemoteRef | None) -> RemoteRef:
    """The remote a blob download of `bck` reads (`bmd.remote_of`); 400 for a plain ais bucket."""
    if ref is None:
        raise ErrBadRequest(f"blob download reads remote objects; {bck} is an ais bucket without a backend")
    return ref
