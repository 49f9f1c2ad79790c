"""The one write pipeline: bytes (streamed or ready) -> work file -> checksum, fsync, metadata -> rename.

Every writer goes through here, keyed by its `Owt` (`core/owt.py`); the owt's policy decides
the version (next local one, or the source's kept), whether the source's identity and the job
id are recorded, and which counter the write adds to. The commit itself (rename under the
store's lock) is `MountpathStore.commit`; a crash before it leaves only a work file, removed
at the next start (`MountpathStore.cleanup_work`).

Async functions run on the mountpath's I/O loop; the blocking parts go to threads, one hop per
WRITE_BATCH bytes. An object of up to WRITE_BATCH bytes (plus its last chunk) is written, checksummed, fsynced and
committed in ONE thread call (`write_bytes`); when it needs no fsync of its own (a group commit,
a cluster without fsync) that call is queued to the mountpath's writer thread (`fs/writer.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt, policy
from ais_ray.fs.store import MountpathStore, ObjWriter

Precondition = Callable[[ObjAttrs | None], None]  # a conditional write's test (`MountpathStore.commit`)
WRITE_BATCH = 1 << 20  # gather network chunks into ~1 MiB writes: one thread hop per MiB
KEEP_MIN = 16 << 10  # a `bytes` chunk of at least this is written as it came, not copied (`Gathered`)


@dataclass(frozen=True, slots=True)
class Source:
    """The identity of the bytes' source (remote object or link): ETag, version, size."""

    etag: str = ""
    version: str = ""
    size: int = -1


# Write-through (`OwtPolicy.write_through`): given the finished work file (path, size), send it
# to the remote and return the remote's identity of what it stored.
WriteThrough = Callable[[str, int], Awaitable[Source]]


class Gathered:
    """Chunks of a body gathered for one write (`ObjWriter.writev`), not joined into one buffer:
    a `bytes` chunk of KEEP_MIN or more is kept as it came (immutable: its source cannot reuse
    it); a smaller one, or a buffer its source may fill again, is copied onto the last part, so
    a body of many tiny chunks costs its bytes and a few parts, not an object per chunk. A PUT's
    MiB joined with `+=` was a fifth of a data server's GIL-held time (`benchmarks/README.md`)."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes | bytearray] = []
        self.size = 0

    def add(self, chunk: bytes | bytearray | memoryview) -> None:
        if type(chunk) is bytes and len(chunk) >= KEEP_MIN:
            self.parts.append(chunk)
        elif self.parts and type(self.parts[-1]) is bytearray:
            self.parts[-1] += chunk
        else:
            self.parts.append(bytearray(chunk))
        self.size += len(chunk)

    def take(self) -> list[bytes | bytearray]:
        """The parts gathered so far (for one write); this starts empty again."""
        parts, self.parts, self.size = self.parts, [], 0
        return parts


def new_attrs(owt: Owt, size: int, cksum: str, *, src: Source | None = None, job: str = "",
              through: bool = False, custom: Mapping[str, str] | None = None) -> ObjAttrs:
    """The metadata a write of `owt` stores. A bumped version starts at "1": the store's commit
    sets the next one when an object is there (`MountpathStore.commit`).

    `through`: `src` is the remote's copy written through: as a cached copy of it, the object
    has the remote's version and identity.
    """
    p = policy(owt)
    now = time.time_ns()
    bump = p.bump_version and not through
    version = "1" if bump else src.version if src is not None else ""
    if src is not None and (p.source_identity or through):  # recorded as its source
        return ObjAttrs(size=size, cksum=cksum, atime_ns=now, mtime_ns=now, job=job if p.job else "", version=version,
                        src_etag=src.etag, src_version=src.version, src_size=size if src.size < 0 else src.size,
                        custom=custom or {})
    return ObjAttrs(size=size, cksum=cksum, atime_ns=now, mtime_ns=now, job=job if p.job else "", version=version,
                    custom=custom or {})


def bumps_version(owt: Owt, *, through: bool = False) -> bool:
    return policy(owt).bump_version and not through


def commit(store: MountpathStore, w: ObjWriter, bck: Bucket, name: str, owt: Owt, cksum: str, *,
           src: Source | None = None, job: str = "", through: bool = False, keep: ObjAttrs | None = None,
           new: bool = False, custom: Mapping[str, str] | None = None, precondition: Precondition | None = None,
           version: str = "") -> ObjAttrs:
    """Blocking. A finished work file becomes the object `bck/name` (aborted if the rename fails).

    `version`: a copy's source version, kept as the copy's (AIStore's copy keeps version and
    custom metadata; "": the next version here, as any write). Not for a copy written through to
    a remote: that one has the remote's version.

    `keep`: the object's metadata as its previous holder stored it (an object moving, owt
    rebalance): the bytes must match its size and checksum, it is stored as is, and an object
    already here wins unless the moving one was written later (`mtime_ns`): one written here
    after the move began stays; an older copy on a node that comes back (its objects overwritten
    on their interim owners while it was away) is replaced, not kept over the newer write.
    """
    if keep is not None:
        if (keep.cksum and keep.cksum != cksum) or keep.size != w.size:
            w.abort()
            raise ErrBadRequest(f'"{bck}/{name}": checksum mismatch (got {cksum}/{w.size} bytes, '
                                f'sent {keep.cksum}/{keep.size} bytes)')
        mine = replace(keep, cksum=cksum, copies=())  # replicas are the new holder's business
        out = store.commit(w, bck, name, mine, bump_version=False, unless_newer=True)
        store.stats.add(policy(owt).counter, w.size)
        if out is mine and store.replicas is not None:  # stored (not an existing newer one): mirror it here
            out = store.replicas.after_commit(bck, name, out)
        return out
    attrs = new_attrs(owt, w.size, cksum, src=src, job=job, through=through, custom=custom)
    kept = bool(version) and owt is Owt.COPY and not through
    if kept:
        attrs = replace(attrs, version=version)
    out = store.commit(w, bck, name, attrs, bump_version=bumps_version(owt, through=through) and not kept, new=new,
                       precondition=precondition, gate=policy(owt).new_content)
    store.stats.add(policy(owt).counter, out.size, label=str(bck))
    if store.replicas is not None:  # a mirrored bucket: the replicas are part of the commit (put-copies)
        out = store.replicas.after_commit(bck, name, out)
    if store.on_commit is not None and policy(owt).redundancy:  # an EC bucket: its slices (every owt lands here)
        store.on_commit(bck, name)
    return out


def write_bytes(store: MountpathStore, bck: Bucket, name: str,
                data: bytes | bytearray | memoryview | list[bytes] | list[bytes | bytearray],
                owt: Owt, *, src: Source | None = None, job: str = "", fsync: bool = True, new: bool = False,
                keep: ObjAttrs | None = None, custom: Mapping[str, str] | None = None, version: str = "") -> ObjAttrs:
    """Blocking. A small object in one call: work file, checksum, fsync (`fsync=False`: the
    caller's group commit makes it durable), metadata, rename. `data`: the bytes, or a list of
    chunks (written as one); `new`: the caller found no object of this name (`MountpathStore.commit`);
    `keep`: an object moving here, its metadata at its previous holder; `custom`, `version`: a
    copy's (see `commit`)."""
    try:
        return _write_small(store, bck, name, data, owt, src=src, job=job, fsync=fsync, new=new, keep=keep,
                            custom=custom, version=version)
    except BaseException:
        store.stats.add("err.put")
        raise


def _write_small(store: MountpathStore, bck: Bucket, name: str,
                 data: bytes | bytearray | memoryview | list[bytes] | list[bytes | bytearray],
                 owt: Owt, *, src: Source | None, job: str, keep: ObjAttrs | None = None, fsync: bool = True,
                 new: bool = False, custom: Mapping[str, str] | None = None,
                 precondition: Precondition | None = None, version: str = "") -> ObjAttrs:
    w = store.new_writer(fsync=fsync)
    try:
        if isinstance(data, list):
            w.writev(data)
        else:
            w.write(data)
        return commit(store, w, bck, name, owt, w.finish(), src=src, job=job, keep=keep, new=new, custom=custom,
                      precondition=precondition, version=version)
    except BaseException:
        w.abort()
        raise


async def write_stream(store: MountpathStore, bck: Bucket, name: str, chunks: AsyncIterable[bytes], owt: Owt, *,
                       src: Source | None = None, job: str = "", expect_size: int = -1,
                       on_chunk: Callable[[bytes], Awaitable[None] | None] | None = None,
                       write_through: WriteThrough | None = None, keep: ObjAttrs | None = None,
                       fsync: bool = True, custom: Mapping[str, str] | None = None,
                       precondition: Precondition | None = None, version: str = "") -> ObjAttrs:
    """Stream `chunks` into `bck/name` and commit it; return the committed metadata.

    `fsync=False`: the object is committed without its own fsync — the caller makes a whole
    batch durable at once (`MountpathStore.sync_fs`, a group commit) before it reports any of it.

    `keep`: the metadata an object moving here (owt rebalance) had at its previous holder (see `commit`).
    `custom`: the object's custom metadata (an S3 PUT's Content-Type and `x-amz-meta-*`).
    `version`: a copy's source version, kept (see `commit`).
    `precondition`: a conditional write's test of the object there, at the commit (`MountpathStore.commit`).

    `expect_size` >= 0: fewer or more bytes is an error and nothing is stored. `on_chunk` sees
    every chunk as it arrives (a client being served while the object is stored; a rate limit).
    `write_through` (a bucket with a remote side, owts with write-through) runs on the finished
    work file before the commit: the remote has the object before this disk does.
    """
    if write_through is not None and not policy(owt).write_through:
        raise ValueError(f"{owt.value} writes are not written through")
    w: ObjWriter | None = None
    buf = Gathered()
    size = 0
    try:
        async for chunk in chunks:
            if on_chunk is not None:
                r = on_chunk(chunk)
                if r is not None:
                    await r
            if buf.size >= WRITE_BATCH:  # more is coming: write what is gathered (a body of WRITE_BATCH
                if w is None:            # or a little more stays on the one-call path below)
                    w = await asyncio.to_thread(store.new_writer, fsync=fsync)
                await asyncio.to_thread(w.writev, buf.take())
            buf.add(chunk)
            size += len(chunk)
        if expect_size >= 0 and size != expect_size:
            raise ErrBadRequest(f'"{bck}/{name}": got {size} bytes of {expect_size}')
        if w is None and write_through is None:  # the small-object fast path: one thread call
            return await _small_writes(store, bck, fsync)(_write_small, store, bck, name, buf.take(), owt, src=src,
                                                          job=job, keep=keep, fsync=fsync, custom=custom,
                                                          precondition=precondition, version=version)
        if w is None:
            w = await asyncio.to_thread(store.new_writer, fsync=fsync)
        cksum = await asyncio.to_thread(_finish, w, buf.take())
        if write_through is not None:
            src = await write_through(w.path, w.size)
        return await asyncio.to_thread(commit, store, w, bck, name, owt, cksum, src=src, job=job,
                                       through=write_through is not None, keep=keep, custom=custom,
                                       precondition=precondition, version=version)
    except BaseException:
        store.stats.add("err.put")
        if w is not None:
            await asyncio.to_thread(w.abort)
        raise


def _small_writes(store: MountpathStore, bck: Bucket, fsync: bool) -> Callable[..., Awaitable[ObjAttrs]]:
    """Where a small object's one blocking call runs: queued to the mountpath's writer thread
    (`fs/writer.py`), unless the call waits on the disk itself — its own fsync, or the replicas
    of a mirrored bucket, written and synced in the same call — which keeps a thread of its own
    (behind one thread, every such write would wait for those queued before it)."""
    return store.writer.run if queued_writes(store, bck, fsync) else asyncio.to_thread


def queued_writes(store: MountpathStore, bck: Bucket, fsync: bool) -> bool:
    """Whether a small object's one blocking call goes to the writer thread (`_small_writes`)."""
    return not ((fsync and store.fsync) or (store.replicas is not None and store.replicas.copies_of(bck) > 1))


def _finish(w: ObjWriter, tail: list[bytes | bytearray]) -> str:
    if tail:
        w.writev(tail)
    return w.finish()


async def fill(w: ObjWriter, chunks: AsyncIterable[bytes], *, expect_size: int = -1) -> str:
    """Stream `chunks` into the work file `w` in WRITE_BATCH writes, finish it; its checksum.

    For bytes that are not an object commit (EC slices and replicas received from the owner,
    fetched for a rebuild: `ec/`); the caller aborts `w` on error."""
    buf = Gathered()
    async for chunk in chunks:
        buf.add(chunk)
        if buf.size >= WRITE_BATCH:
            await asyncio.to_thread(w.writev, buf.take())
    if expect_size >= 0 and w.size + buf.size != expect_size:
        raise ErrBadRequest(f"got {w.size + buf.size} bytes of {expect_size}")
    return await asyncio.to_thread(_finish, w, buf.take())
