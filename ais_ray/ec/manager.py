"""EC on one mountpath: encode an object it holds and send the slices; rebuild a lost main; delete.

Runs on the mountpath actor's I/O loop (the data server's handlers and the `ec-encode` job call
it). The owner of an object (HRW rank 0) is the only encoder: it reads its main replica one
segment at a time, codes it (`ec/codec.py`, in a thread) and streams fragment i of every
segment to holder i over HTTP (`ec/peers.py`), all holders at once, at most `QUEUE` fragments
queued per holder — bounded memory whatever the object's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import replace
from typing import Any, BinaryIO, Protocol

from ais_ray.core.bmd import BMD
from ais_ray.core.ec import Metafile, Placement, new_meta, newest, outdated, place, reachable, restore_plan
from ais_ray.core.errors import AisError, ErrBadRequest, ErrNoTarget, ErrObjNotFound
from ais_ray.core.lom import ObjAttrs
from ais_ray.core.names import Bucket
from ais_ray.core.owt import Owt, policy
from ais_ray.core.redundancy import ECConf
from ais_ray.core.smap import Smap
from ais_ray.ec.codec import Codec, codec, decode_to, encode_segments
from ais_ray.ec.peers import READ_CHUNK, ErrPeer, Peers, url_of
from ais_ray.ec.slices import ECSlices
from ais_ray.fs.store import MountpathStore, ObjWriter

log = logging.getLogger(__name__)
QUEUE = 2  # fragments (or 1 MiB chunks) queued per holder

# how `encode` treats an object already encoded
PUT = "put"  # a new write: always a new generation
ENCODE = "encode"  # ec-encode: skip what is encoded for the current placement
RECOVER = "recover"  # ec-encode --recover: also re-send what holders lack
MOVED = "moved"  # rebalanced here: re-encode for the new placement unless the slices already fit it


class ErrNewestLost(ErrObjNotFound):
    """The main replica is lost and the holders keep only older data: nothing is brought back
    (not the older bytes), and no neighbor's copy is taken either — it can only be older."""

    def __init__(self, bck: object, name: str) -> None:
        AisError.__init__(self, f'object "{bck}/{name}" is lost: its newest version was not erasure-coded yet '
                                f'(too few targets) and an older one is not brought back in its place')


class Meta(Protocol):
    """The node's current Smap and BMD (the mountpath's `NodeMeta`)."""

    smap: Smap | None
    bmd: BMD


class ECManager:
    def __init__(self, tid: str, store: MountpathStore, meta: Meta) -> None:
        self.tid = tid
        self.store = store
        self.slices = ECSlices(store)
        self.peers = Peers()
        self._meta = meta
        self._locks: dict[str, asyncio.Lock] = {}
        self._bg: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        for t in list(self._bg):
            t.cancel()
        await self.peers.close()

    def conf(self, bck: Bucket) -> ECConf | None:
        props = self._meta.bmd.get(bck)
        return props.ec if props is not None and props.ec.enabled else None

    def _smap(self) -> Smap:
        smap = self._meta.smap
        if smap is None:
            raise AisError("no cluster map yet")
        return smap

    @contextlib.asynccontextmanager
    async def _held(self, key: str) -> AsyncIterator[None]:
        """One encode (or metadata change) of a name at a time; the lock is dropped when unused."""
        lk = self._locks.get(key)
        if lk is None:
            lk = self._locks[key] = asyncio.Lock()
        try:
            async with lk:
                yield
        finally:
            if not lk.locked() and self._locks.get(key) is lk:
                del self._locks[key]

    # ---- encode ---------------------------------------------------------------------------------
    async def encode(self, bck: Bucket, name: str, mode: str = PUT, conf: ECConf | None = None) -> str:
        """Encode the object held here and send its slices or replicas: "ok", or "skipped" (not EC,
        not the owner, or already encoded). One encode per name at a time."""
        conf = conf or self.conf(bck)
        if conf is None:
            return "skipped"
        async with self._held(bck.uname(name)):
            return await self._encode(bck, name, mode, conf)

    async def _encode(self, bck: Bucket, name: str, mode: str, conf: ECConf) -> str:
        smap = self._smap()
        f, attrs = await asyncio.to_thread(self.store.open, bck, name)
        try:
            try:
                plan = place(smap, bck.uname(name), conf, attrs.size)
            except ErrNoTarget:
                if mode == PUT:
                    await self._unprotected(bck, name, attrs, conf)
                elif mode == MOVED:  # too few targets to re-encode: still, the main is here now
                    await self._main_here(bck, name, await asyncio.to_thread(self.slices.load_meta, bck, name))
                raise
            if plan.main != self.tid:
                return "skipped"  # not the owner: a misplaced object is the rebalance's
            old = local = await asyncio.to_thread(self.slices.load_meta, bck, name)
            if old is None and mode == MOVED:  # moved here: the generation goes on from the holders' metafiles
                old = await self._newest_elsewhere(smap, bck, name)
            current = old is not None and old.generation > 0 and old.obj_cksum == attrs.cksum and \
                old.obj_version == attrs.version and dict(old.nodes) == plan.nodes() and \
                (old.data_slices, old.parity_slices) == (conf.data_slices, conf.parity_slices)
            holders = plan.holders
            if current and mode != PUT:
                assert old is not None
                if mode in (ENCODE, MOVED):  # the slices are current: the main here keeps their metafile
                    await self._main_here(bck, name, local, old)
                    return "skipped"
                holders = tuple(await self._missing(smap, bck, name, old))
                if not holders:
                    return "skipped"
                meta = old
            else:
                c = codec(conf.data_slices, conf.parity_slices) if plan.sliced else None
                meta = new_meta(plan, conf, attrs, (old.generation if old else 0) + 1, c.ec_type if c else "")
            await self._send(f, attrs.size, bck, name, meta, holders, smap)
            if meta is not old:
                await self._save_main(bck, name, local, meta)
                await self._drop_outdated(smap, bck, name, old, meta)
            self.store.stats.add("ec.encode", attrs.size)
            return "ok"
        finally:
            f.close()

    async def _main_here(self, bck: Bucket, name: str, local: Metafile | None, old: Metafile | None = None) -> None:
        """The main moved here (or is here): this target's metafile must say so. A metafile of the
        full replica (or slice) it held for the previous owner hid the object — from listings, jobs
        and the rebalances after, so a decommission of this node destroyed it as a mere replica."""
        base = old or local
        if base is None or (local is not None and local.slice_id == 0 and not local.is_copy):
            return  # no metafile (a plain object here), or already the main's
        main = replace(base, slice_id=0, is_copy=False, slice_cksum="", replica_node=self.tid)
        await self._save_main(bck, name, local, main)

    async def _unprotected(self, bck: Bucket, name: str, attrs: ObjAttrs, conf: ECConf) -> None:
        """A new write that cannot be encoded (too few targets in placement: one in maintenance):
        its main's metafile still records it as the newest data, with no holders, so a restore
        after losing it refuses the older slices and replicas the holders keep
        (`ErrNewestLost`) instead of bringing back older bytes; `ec-encode --recover` (or the
        rebalance when the target returns) encodes it later."""
        local = await asyncio.to_thread(self.slices.load_meta, bck, name)
        meta = new_meta(Placement(self.tid, ()), conf, attrs, (local.generation if local else 0) + 1, "")
        await self._save_main(bck, name, local, meta)

    async def _save_main(self, bck: Bucket, name: str, local: Metafile | None, meta: Metafile) -> None:
        """The main's metafile `meta` here, over `local`: a holder become the owner drops its slice."""
        if local is not None and local.slice_id > 0:
            await asyncio.to_thread(self.slices.delete, bck, name, main=True)
        await asyncio.to_thread(self.slices.save_meta, bck, name, meta)

    async def _drop_outdated(self, smap: Smap, bck: Bucket, name: str, old: Metafile | None, meta: Metafile) -> None:
        """After the new generation is stored everywhere (never before: the old slices are the last
        good copy until then), drop what the holders the placement moved out still keep. An
        unreachable one keeps its stale slice: of an older generation than `meta`, so never
        preferred by a restore (`core/ec.py::restore_plan` takes the newest)."""
        gone = [t for t in outdated(old, meta, self.tid) if reachable(smap, t)]
        if gone:
            await asyncio.gather(*(self.peers.delete(url_of(smap, t, bck, name), bck) for t in gone))
            self.store.stats.add("ec.stale.del", len(gone))

    async def _newest_elsewhere(self, smap: Smap, bck: Bucket, name: str) -> Metafile | None:
        """The newest metafile the other reachable targets hold for the object (None: none)."""
        others = [t for t in smap.targets if t != self.tid and reachable(smap, t)]
        got = await asyncio.gather(*(self.peers.meta(url_of(smap, t, bck, name), bck) for t in others))
        return max((m for m in got if m is not None), key=lambda m: m.recency, default=None)

    async def _missing(self, smap: Smap, bck: Bucket, name: str, meta: Metafile) -> list[tuple[str, int]]:
        """The holders of `meta` whose slice is missing, corrupt or of other data (`Metafile.recency`),
        or whose metafile missed a change of the object's custom metadata (`set_meta`)."""
        holders = [(t, s) for t, s in meta.nodes.items() if t != self.tid and t in smap.targets]
        got = await asyncio.gather(*(self.peers.meta(url_of(smap, t, bck, name), bck, verify=True) for t, _ in holders))
        return [h for h, m in zip(holders, got)
                if m is None or m.recency != meta.recency or m.lom.get("custom") != meta.lom.get("custom")]

    async def _send(self, f: BinaryIO, size: int, bck: Bucket, name: str, meta: Metafile,
                    holders: Iterable[tuple[str, int]], smap: Smap) -> None:
        holders = list(holders)
        c = codec(meta.data_slices, meta.parity_slices, meta.ec_type) if meta.ec_type else None
        queues = {t: asyncio.Queue[bytes | None](QUEUE) for t, _ in holders}

        async def produce() -> None:
            await asyncio.to_thread(f.seek, 0)
            if c is not None:
                segs = encode_segments(f, size, c)
                while (frags := await asyncio.to_thread(next, segs, None)) is not None:
                    for t, sid in holders:
                        await queues[t].put(frags[sid - 1])
            else:
                while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
                    for t, _ in holders:
                        await queues[t].put(chunk)
            for q in queues.values():
                await q.put(None)

        async def body(q: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
            while (chunk := await q.get()) is not None:
                yield chunk

        length = c.slice_size(size) if c is not None else size
        work = [produce()] + [self.peers.put(url_of(smap, t, bck, name), bck, meta.for_holder(sid, is_copy=sid == 0),
                                             length if sid else size, body(queues[t])) for t, sid in holders]
        await all_or_nothing(work)

    # ---- the object's metadata changed ---------------------------------------------------------
    async def set_meta(self, bck: Bucket, name: str, attrs: ObjAttrs) -> None:
        """The main held here took new metadata `attrs` (a PATCH of its custom metadata: same bytes,
        checksum and version): its metafile and every holder's take it too, so a restore brings the
        object back as it is now, not as it was encoded. A holder that cannot be reached keeps the
        old metadata until `ec-encode --recover` re-sends its slice (`_missing`); raised, after the
        others were sent, as an ErrPeer."""
        async with self._held(bck.uname(name)):
            local = await asyncio.to_thread(self.slices.load_meta, bck, name)
            if local is None or local.slice_id != 0 or local.is_copy or local.obj_cksum != attrs.cksum:
                return  # not encoded here (yet): the encode to come records `attrs`
            meta = replace(local, lom=json.loads(attrs.to_bytes()))
            await asyncio.to_thread(self.slices.save_meta, bck, name, meta)
            smap = self._smap()
            holders = [(t, s) for t, s in meta.nodes.items() if t != self.tid and t in smap.targets]
            res = await asyncio.gather(*(self.peers.set_meta(url_of(smap, t, bck, name), bck,
                                                             meta.for_holder(s, is_copy=s == 0))
                                         for t, s in holders), return_exceptions=True)
        failed = [f"{t}: {r}" for (t, _), r in zip(holders, res) if isinstance(r, BaseException)]
        if failed:
            raise ErrPeer(f"{bck}/{name}: new metadata not taken by {len(failed)} holder(s): {'; '.join(failed)}")

    def take_meta(self, bck: Bucket, name: str, meta: Metafile) -> None:
        """A holder's side of `set_meta` (blocking): its metafile — and its full replica, if it holds
        one — take `meta.lom`, when both describe the same data (ErrBadRequest: other data)."""
        local = self.slices.load_meta(bck, name)
        if local is None:
            raise ErrObjNotFound(bck, name)
        if local.recency != meta.recency or local.obj_cksum != meta.obj_cksum or not (local.slice_id or local.is_copy):
            raise ErrBadRequest(f"{bck}/{name}: this holder's metafile describes other data "
                                f"(generation {local.generation}, not {meta.generation})")
        self.slices.save_meta(bck, name, replace(local, lom=meta.lom))
        if local.slice_id == 0:  # a full replica: its file carries the metadata too
            self.store.set_attrs(bck, name, meta.attrs())
    async def restore(self, bck: Bucket, name: str) -> ObjAttrs:
        """Rebuild the missing main replica held here from the other targets' replicas or slices,
        then re-send whatever slices are missing (in the background). ErrObjNotFound: cannot."""
        return await self.store.locks.once(bck.uname(name), lambda: self._restore(bck, name))

    async def _restore(self, bck: Bucket, name: str) -> ObjAttrs:
        try:  # restored by a writer that held the name before us
            return await asyncio.to_thread(self.store.load, bck, name)
        except ErrObjNotFound:
            pass
        local = await asyncio.to_thread(self.slices.load_meta, bck, name)
        floor = local.recency if local is not None and local.slice_id == 0 and not local.is_copy else (0, 0)
        w, m0, replica = await self._rebuild(bck, name, self_too=False)
        if m0.recency < floor:
            await asyncio.to_thread(w.abort)
            log.warning("%s/%s: its newest version (generation %d) is lost; the holders keep only older data",
                        bck, name, local.generation if local else 0)
            raise ErrNewestLost(bck, name)
        if local is not None and local.recency == m0.recency and local.obj_cksum == m0.obj_cksum:
            m0 = replace(m0, lom=local.lom)  # the main's own metafile has its latest metadata (`set_meta`)
        attrs = m0.attrs()
        await asyncio.to_thread(self.store.commit, w, bck, name, attrs, bump_version=False)
        self.store.stats.add(policy(Owt.EC_RESTORE).counter, attrs.size)
        main = replace(m0, slice_id=0, is_copy=False, slice_cksum="", replica_node=self.tid)
        await asyncio.to_thread(self.slices.save_meta, bck, name, main)
        log.info("%s/%s: main replica restored from %s", bck, name, "a replica" if replica else "slices")
        self._spawn(self.encode(bck, name, RECOVER))
        return attrs

    async def degraded(self, bck: Bucket, name: str) -> tuple[BinaryIO, ObjAttrs]:
        """The object of an offline owner, rebuilt here for one read and not kept (the owner's
        main stays the object: nothing to reconcile when its node returns). An open file of a
        work file already removed, and the object's metadata. ErrObjNotFound: cannot."""
        w, m0, _ = await self._rebuild(bck, name, self_too=True)
        try:
            f = await asyncio.to_thread(open, w.path, "rb")
        finally:
            await asyncio.to_thread(w.abort)
        self.store.stats.add("ec.degraded", m0.obj_size)
        return f, m0.attrs()

    async def _rebuild(self, bck: Bucket, name: str, *, self_too: bool) -> tuple[ObjWriter, Metafile, str]:
        """The object decoded (or fetched whole) into a verified work file from the slices and
        replicas of the reachable targets (`self_too`: this one's as well, when it is not the
        owner); (work file, newest metafile, the tid whose replica was used or "")."""
        smap = self._smap()
        uname = bck.uname(name)
        others = [t for t in smap.targets if (self_too or t != self.tid) and reachable(smap, t)
                  and smap.targets[t].ranked_mountpaths(uname)]
        got = await asyncio.gather(*(self.peers.meta(url_of(smap, t, bck, name), bck) for t in others))
        metas = {t: m for t, m in zip(others, got) if m is not None}
        plan = restore_plan(metas)
        if plan is None:
            raise ErrObjNotFound(bck, name)
        m0 = next(iter(newest(metas).values()))
        if plan.replica:
            w, _ = await self.peers.fetch(url_of(smap, plan.replica, bck, name), bck, self.store)
        else:
            w = await self._decode(smap, bck, name, m0, list(plan.slices))
        return w, m0, plan.replica

    async def _decode(self, smap: Smap, bck: Bucket, name: str, m0: Metafile,
                      candidates: list[tuple[str, int]]) -> ObjWriter:
        """Fetch D slices in parallel (replacing any that fail) and decode them into a work file
        verified against the object's checksum."""
        c = codec(m0.data_slices, m0.parity_slices, m0.ec_type)
        got: dict[int, ObjWriter] = {}
        try:
            while len(got) < c.data and candidates:
                take, candidates = candidates[: c.data - len(got)], candidates[c.data - len(got):]
                res = await asyncio.gather(*(self.peers.fetch(url_of(smap, t, bck, name), bck, self.store)
                                             for t, _ in take), return_exceptions=True)
                for (t, sid), r in zip(take, res):
                    if isinstance(r, BaseException):
                        log.warning("%s/%s: slice %d on %s unusable: %s", bck, name, sid, t, r)
                    else:
                        got[sid - 1] = r[0]
            if len(got) < c.data:
                raise ErrObjNotFound(bck, name)
            return await asyncio.to_thread(_decode_files, self.store, {i: w.path for i, w in got.items()}, m0, c)
        finally:
            for w in got.values():
                await asyncio.to_thread(w.abort)

    # ---- the main moved away ----------------------------------------------------------------------
    def moved_away(self, bck: Bucket, name: str, attrs: ObjAttrs) -> bool:
        """The main held here moved to its HRW owner (a rebalance): this target's metafile still
        describes that main — a holder that had rebuilt and kept it (a lost owner's object, restored
        here on a GET) — so it becomes again what the current placement has this target hold: its
        slice (the `%ec` file is still here), or its full replica (True: keep the `%ob` file); nothing
        (metafile dropped). Blocking. A metafile of a slice or replica (the new owner's re-encode
        already sent one) is left alone."""
        meta = self.slices.load_meta(bck, name)
        conf = self.conf(bck)
        if meta is None or conf is None or meta.slice_id != 0 or meta.is_copy:
            return False
        try:
            plan = place(self._smap(), bck.uname(name), conf, attrs.size)
        except AisError:  # too few targets to place it, no map yet
            return False
        sid = dict(plan.holders).get(self.tid)
        if sid == 0:
            self.slices.save_meta(bck, name, replace(meta, is_copy=True, replica_node=plan.main, slice_cksum=attrs.cksum))
            return True
        if sid is not None and meta.nodes.get(self.tid) == sid and (cksum := self.slices.slice_cksum(bck, name)):
            self.slices.save_meta(bck, name, replace(meta, slice_id=sid, replica_node=plan.main, slice_cksum=cksum))
            return False
        self.slices.delete(bck, name, main=True)  # a holder whose slice is gone: `ec-encode --recover` sends it
        return False

    # ---- a lost target's objects ----------------------------------------------------------------
    def adopted(self, bck: Bucket, prefix: str, lost: str) -> list[tuple[str, int]]:
        """(name, size) of the objects under `prefix` whose main lived on target `lost` and whose
        HRW owner is now this target (found by the metafiles held here: the new owner ranked right
        after `lost`, so it holds a slice or replica). Blocking: a walk of this mountpath's `%mt`."""
        smap = self._smap()
        return [(name, m.obj_size) for name, m in self.slices.metas(bck, prefix)
                if m.replica_node == lost and smap.owner(bck.uname(name)).daemon_id == self.tid]

    # ---- delete ---------------------------------------------------------------------------------
    async def delete(self, bck: Bucket, name: str) -> None:
        """Drop the object's slices and replicas everywhere and its metafile here."""
        smap = self._smap()
        meta = await asyncio.to_thread(self.slices.load_meta, bck, name)
        tids = [t for t in (meta.nodes if meta is not None else smap.targets) if t != self.tid and t in smap.targets]
        await asyncio.gather(*(self.peers.delete(url_of(smap, t, bck, name), bck) for t in tids))
        await asyncio.to_thread(self.slices.delete, bck, name, main=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception as exc:  # the main is back; missing slices wait for `ec-encode --recover`
                log.warning("EC re-send after restore failed: %r", exc)

        t = asyncio.get_running_loop().create_task(run())
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)


def _decode_files(store: MountpathStore, paths: dict[int, str], m0: Metafile, c: Codec) -> ObjWriter:
    out = store.new_writer()
    files = {i: open(p, "rb") for i, p in paths.items()}  # noqa: SIM115 - closed below
    try:
        decode_to(files, m0.obj_size, c, out.write)
        cksum = out.finish()
        if m0.obj_cksum and cksum != m0.obj_cksum:
            raise AisError(f"EC rebuild does not match the object's checksum ({cksum} != {m0.obj_cksum})")
        return out
    except BaseException:
        out.abort()
        raise
    finally:
        for f in files.values():
            f.close()


async def all_or_nothing(work: list[Awaitable[Any]]) -> None:
    """Run `work` concurrently; the first failure cancels the rest and is raised."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
