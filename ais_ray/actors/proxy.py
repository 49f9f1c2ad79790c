"""Proxy actor: the primary. Owns the cluster map (Smap), bucket metadata (BMD) and job registry.

Every change is persisted atomically under the proxy's directory and pushed to every target
(which keeps copies on each mountpath) before the change is acknowledged, so a restarted
proxy, or a new one over a lost head disk, loses nothing (AIStore's metasync, `ais/metasync.go`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import replace
from typing import Any

import ray

from ais_ray.actors.proxy_dl import ProxyDownloads
from ais_ray.actors.proxy_etl import ProxyEtlApi, ProxyEtls
from ais_ray.actors.proxy_members import ProxyMembers
from ais_ray.actors.proxy_moves import ProxyMoves
from ais_ray.actors.proxy_nodes import ProxyNodes
from ais_ray.actors.proxy_xact import gather
from ais_ray.actors.target import NAMESPACE, target_actor_name
from ais_ray.backends.registry import get_backend
from ais_ray.core.blob import blob_source
from ais_ray.core.bmd import BMD, HT_ORIGIN, BucketProps, remote_of
from ais_ray.core.copy import PRESENCE_EXISTS, PRESENCE_EXISTS_NO_PROPS, check_copy_buckets
from ais_ray.core.dload import DlSpec
from ais_ray.core.errors import AisError, ErrBadRequest, ErrBckNotFound, ErrJobNotFound, ErrNodeNotFound
from ais_ray.core import nodelog
from ais_ray.core.names import Bucket, Provider
from ais_ray.core.promote import SYNC_MAX as PROMOTE_SYNC_MAX
from ais_ray.core.promote import PromoteArgs
from ais_ray.core.nodes import PRIMARY_ID, JoinPolicy
from ais_ray.core.redundancy import ECConf, check_ec_change
from ais_ray.core.selection import Selection
from ais_ray.core.smap import FLAG_DECOMMISSION, FLAG_MAINTENANCE, FLAG_OFFLINE, Smap, Snode
from ais_ray.core.xact import XactSnap
from ais_ray.core.xact import status as xact_status
from ais_ray.core.xid import gen_uuid
from ais_ray.fs.store import write_file_atomic
from ais_ray.jobs.archive import ArchiveSpec
from ais_ray.jobs.copy import KIND_BCK as COPY_BCK
from ais_ray.jobs.etl import KIND_ETL_BCK as ETL_BCK
from ais_ray.jobs.copy import CopySpec
from ais_ray.jobs.prefetch import PrefetchSpec
from ais_ray.jobs.summary import KIND as SUMMARY
from ais_ray.jobs.summary import summary_wire

log = logging.getLogger(__name__)
PROXY_RESOURCE = "ais_proxy"
KEEPALIVE_INTERVAL = 2.0
KEEPALIVE_TIMEOUT = 5.0


class _ProxyActor(ProxyMembers, ProxyNodes, ProxyMoves, ProxyEtlApi):
    def __init__(self, state_dir: str, cluster_uuid: str, endpoint: str, tids: list[str],
                 join_policy: JoinPolicy | None = None, log_dir: str = "") -> None:
        nodelog.setup(PRIMARY_ID, log_dir, f"{PRIMARY_ID}/proxy")  # the proxy's log: this actor, the front door, the API
        self.log_dir = log_dir
        self.dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        self.tids = list(tids)
        primary = Snode(PRIMARY_ID, "proxy", endpoint)
        self.smap = self._load("smap.json", Smap.from_wire) or Smap(
            uuid=cluster_uuid, version=1, primary=primary, creation_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.smap = self.smap.with_primary(primary)
        self.bmd = self._load("bmd.json", _parse_bmd) or BMD(uuid=cluster_uuid)
        self.deployed = list(tids)  # started by `deploy`: `join` waits for these
        self.tids += [t for t in self.smap.targets if t not in self.tids]  # joined later: kept alive too
        self._init_nodes(state_dir, join_policy)
        self._init_members()
        self._init_moves()
        self._handles: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._keepalive: asyncio.Task[None] | None = None
        self.started = time.time()
        self.downloads = ProxyDownloads(state_dir, self._targets)
        self.etls = ProxyEtls(state_dir, lambda: self.smap)  # ETL registry (actors/proxy_etl.py)
        self._etl_restore: asyncio.Task[None] | None = None

    def _load(self, name: str, parse: Any) -> Any:
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return None
        try:
            with open(path, "rb") as f:
                return parse(json.load(f))
        except Exception as exc:  # a damaged record must not stop the proxy: targets hold copies
            log.error("ignoring unreadable %s: %r", path, exc)
            return None

    def _targets(self) -> dict[str, Any]:
        """tid -> handle, over the current Smap."""
        return {tid: self.target(tid) for tid in self.smap.targets}

    def _reachable(self) -> dict[str, Any]:
        """`_targets` but those lost and out of placement (offline, in maintenance): nothing of theirs
        is waited for (their objects' new owners took their shares over, `jobs/ec_cover.py`)."""
        return {tid: self.target(tid) for tid, s in self.smap.targets.items()
                if not (s.flags & FLAG_OFFLINE and s.in_maint_or_decomm)}

    def target(self, tid: str) -> Any:
        h = self._handles.get(tid)
        if h is None:
            h = self._handles[tid] = ray.get_actor(target_actor_name(tid), namespace=NAMESPACE)
        return h

    # ---- membership ----------------------------------------------------------------------
    async def join(self) -> dict[str, Any]:
        """Wait for every target, adopt the newest BMD any of them holds, publish the Smap; a
        rebalance if placement changed since the map was saved (a target joined or came back)."""
        snodes = await asyncio.gather(*(self.target(tid).snode.remote() for tid in self.deployed))
        copies = await asyncio.gather(*(self.target(tid).stored_bmd.remote() for tid in self.deployed))
        old = self.smap
        async with self._lock:
            smap = self.smap
            for tsi in snodes:
                smap = smap.with_reported_target(tsi)
            bmd = self.bmd
            for copy in copies:  # the head's state dir may be new or lost: the targets remember
                if copy is not None and copy.uuid == bmd.uuid and copy.version > bmd.version:
                    bmd = copy
            await self._commit(smap=smap, bmd=bmd, force=True)
        self._ensure_keepalive()
        self._resume_moves()  # a rename a restart cut short: finished (or rolled back) once its shares end
        if self._etl_restore is None:  # running ETLs' workers back (in the background: pip may take a while)
            self._etl_restore = asyncio.get_running_loop().create_task(self.etls.restore())
        started = self._reb_last
        await self._resume_once()  # a rebalance a restart cut short: started again, it covers this map too
        if self._reb_last == started:
            await self._placement_changed(old, True, "join")  # e.g. a target back after a decommission
        return self.smap.to_wire()

    def _ensure_keepalive(self) -> None:
        if self._keepalive is None or self._keepalive.done():
            self._keepalive = asyncio.get_running_loop().create_task(self._keepalive_loop())

    async def _keepalive_loop(self) -> None:
        """Notice restarted targets (new URLs), unreachable ones and Ray nodes that joined or died."""
        while True:
            await asyncio.sleep(KEEPALIVE_INTERVAL)
            try:
                await self._reconcile_nodes()
            except Exception:
                log.exception("reconcile nodes")
            try:
                await self._keepalive_once()
            except Exception:
                log.exception("keepalive")
            try:
                await self._resume_once()  # a rebalance a restart interrupted (actors/proxy_members.py)
            except Exception:
                log.exception("resume rebalance")
            self._resume_moves()  # a rename of a restarted proxy, or whose finisher failed: watched again

    async def _keepalive_once(self) -> None:
        async def probe(tid: str) -> Snode | None:
            try:
                return await asyncio.wait_for(self.target(tid).snode.remote(), KEEPALIVE_TIMEOUT)
            except (ValueError, asyncio.TimeoutError, ray.exceptions.RayError):  # ValueError: no such actor
                return None

        probed, tids = self.smap, list(self.tids)
        results = await asyncio.gather(*(probe(tid) for tid in tids))
        async with self._lock:
            smap = self.smap.with_probed(probed, dict(zip(tids, results)))
            if smap is not self.smap:
                log.info("smap v%d -> v%d", self.smap.version, smap.version)
                await self._commit(smap=smap)

    async def add_target(self, tid: str, rebalance: bool = True) -> dict[str, Any]:
        """Put a running target actor (back) into the map: a new Smap version, persisted and pushed;
        then a rebalance moves its objects to it (unless `rebalance` is False).

        Raises:
            ErrNodeNotFound: no such target actor is running.
        """
        try:
            tsi = await asyncio.wait_for(self.target(tid).snode.remote(), KEEPALIVE_TIMEOUT)
        except (ValueError, asyncio.TimeoutError, ray.exceptions.RayError):
            self._handles.pop(tid, None)
            raise ErrNodeNotFound(tid) from None
        old = self.smap
        async with self._lock:
            if tid not in self.tids:
                self.tids.append(tid)
            await self._commit(smap=self.smap.with_reported_target(tsi))
        await self._set_left(tid, False)
        await self._placement_changed(old, rebalance, f"add {tid}")
        self.etls.target_joined(tid)  # the running ETLs' workers there too (in the background)
        return self.smap.to_wire()

    async def remove_target(self, tid: str, rebalance: bool = True) -> dict[str, Any]:
        """Take a target out of the map (no new object is placed there); a rebalance, on the
        other targets and on the one that left, moves its objects to their new owners (unless
        `rebalance` is False).

        Raises:
            ErrNodeNotFound: `tid` is not in the map.
        """
        old = self.smap
        async with self._lock:
            if tid not in self.smap.targets:
                raise ErrNodeNotFound(tid)
            await self._set_left(tid, True)  # before the map changes: its node may still advertise it
            smap = self.smap.without_target(tid)
            await self._commit(smap=smap)
            self.tids = [t for t in self.tids if t != tid]
            await self._push(smap, None, [tid])  # the node that left learns it too
        await self._placement_changed(old, rebalance, f"remove {tid}", extra=(tid,))
        await self.etls.target_left(tid)
        return self.smap.to_wire()

    async def set_target_state(self, tid: str, *, maintenance: bool | None = None,
                               decommission: bool | None = None, rebalance: bool = True) -> dict[str, Any]:
        """Start or stop maintenance / decommissioning of a target: placement skips it while set;
        a rebalance moves the objects (unless `rebalance` is False). `member_action` is the
        REST form, one change at a time.

        Raises:
            ErrNodeNotFound: `tid` is not in the map.
        """
        set_f = clear_f = 0
        for flag, on in ((FLAG_MAINTENANCE, maintenance), (FLAG_DECOMMISSION, decommission)):
            if on is not None:
                set_f, clear_f = (set_f | flag, clear_f) if on else (set_f, clear_f | flag)
        old = self.smap
        async with self._lock:
            await self._commit(smap=self.smap.with_target_flags(tid, set_flags=set_f, clear_flags=clear_f))
        await self._placement_changed(old, rebalance, f"t[{tid}] state")
        return self.smap.to_wire()

    async def _commit(self, *, smap: Smap | None = None, bmd: BMD | None = None, force: bool = False) -> None:
        """Persist, push to every reachable target, then publish; caller holds the lock.

        The proxy's own copy changes last: whoever reads it (the API's refresh, a concurrent
        add_remote_bucket) never sees a version the targets do not have yet.
        """
        new_smap = smap if smap is not None and (force or smap is not self.smap) else None
        new_bmd = bmd if bmd is not None and (force or bmd is not self.bmd) else None
        if new_smap is not None:
            await asyncio.to_thread(write_file_atomic, os.path.join(self.dir, "smap.json"), json.dumps(new_smap.to_wire()).encode())
        if new_bmd is not None:
            await asyncio.to_thread(write_file_atomic, os.path.join(self.dir, "bmd.json"), json.dumps(new_bmd.to_wire()).encode())
        smap_out, bmd_out = new_smap or self.smap, new_bmd or self.bmd
        online = [t.daemon_id for t in smap_out.targets.values() if not t.flags & FLAG_OFFLINE]
        await self._push(smap_out, bmd_out, online)
        self.smap, self.bmd = smap_out, bmd_out

    async def _push(self, smap: Smap, bmd: BMD | None, tids: list[str]) -> None:
        """Send the metadata to `tids`; a target that cannot be reached catches up on the next change."""
        async def one(tid: str) -> None:
            await asyncio.wait_for(self.target(tid).update_meta.remote(smap, bmd), KEEPALIVE_TIMEOUT)

        done = await asyncio.gather(*(one(t) for t in tids), return_exceptions=True)
        for tid, res in zip(tids, done):
            if isinstance(res, BaseException):
                log.warning("metasync to %s failed: %r", tid, res)

    # ---- queries ---------------------------------------------------------------------------
    async def get_meta(self, smap_version: int = -1, bmd_version: int = -1) -> tuple[Smap | None, BMD | None]:
        """Smap and BMD, each only if newer than the version the caller holds."""
        self._ensure_keepalive()
        return (self.smap if self.smap.version != smap_version else None,
                self.bmd if self.bmd.version != bmd_version else None)

    async def node_log(self, severity: str = "", offset: int = 0, all_logs: bool = False) -> bytes:
        """AIStore's `what=log` of the proxy: its current log, or with `all_logs` a TAR.GZ of them all."""
        return await asyncio.to_thread(nodelog.answer, self.log_dir, PRIMARY_ID, severity, offset, all_logs)

    async def target_infos(self) -> dict[str, Any]:
        async def one(tid: str) -> Any:
            try:
                return await asyncio.wait_for(self.target(tid).info.remote(), KEEPALIVE_TIMEOUT)
            except (asyncio.TimeoutError, ray.exceptions.RayError) as exc:
                return {"tid": tid, "error": repr(exc)}

        infos = await asyncio.gather(*(one(tid) for tid in self.tids))
        return {"smap": self.smap.to_wire(), "targets": dict(zip(self.tids, infos)), "uptime": time.time() - self.started,
                "proxy": {"pid": os.getpid()}}

    # ---- buckets ---------------------------------------------------------------------------
    async def create_bucket(self, bck: Bucket, props: BucketProps | None = None, *, exist_ok: bool = False) -> BMD:
        async with self._lock:
            if exist_ok and bck in self.bmd:
                return self.bmd
            await self._commit(bmd=self.bmd.with_bucket(bck.validate(), props))
            return self.bmd

    async def remote_buckets(self, provider: Provider) -> list[str]:
        """The cloud's own bucket list (`ls s3 --all`), present in the cluster or not."""
        return await get_backend(provider).list_buckets()

    async def add_remote_bucket(self, bck: Bucket, origin: str = "") -> BMD:
        """A cloud bucket on first access (after checking it exists), or an HTTP bucket for `origin`."""
        if bck in self.bmd:
            return self.bmd
        if bck.provider is Provider.HT:
            if not origin:
                raise ErrBckNotFound(bck)
            props = BucketProps(created=time.time_ns(), extra={HT_ORIGIN: origin})
        else:
            await get_backend(bck.provider).head_bucket(bck.name)
            props = BucketProps(created=time.time_ns())
        async with self._lock:
            if bck not in self.bmd:
                await self._commit(bmd=self.bmd.with_bucket(bck, props))
            return self.bmd

    async def set_bucket_props(self, bck: Bucket, props: BucketProps) -> tuple[BMD, str]:
        """Commit new props; returns the BMD and the id of the job the change starts ("" if none):
        a changed mirror starts make-n-copies on the bucket's existing objects. A new `backend_bck`
        must exist on its remote first (HEAD): a typo is a 404 now, not 502s on every later list and PUT."""
        backend = props.backend_bck
        if backend is not None and backend != self.bmd.must_get(bck).backend_bck:
            await get_backend(backend.provider).head_bucket(backend.name)
        async with self._lock:
            old = self.bmd.must_get(bck)
            old.check_writable(bck)
            await self._commit(bmd=self.bmd.with_bucket(bck, props, exist_ok=True))
        xid = ""
        if old.mirror.n != props.mirror.n:
            xid = await self._mirror_job(bck, props.mirror.n)
        if props.ec.enabled and not old.ec.enabled:  # EC on an existing bucket: encode what it holds (ec-encode)
            xid = await self._ec_start(bck, props.ec, recover=False)
        return self.bmd, xid

    async def mirror_start(self, bck: Bucket, copies: int) -> str:
        """`make-n-copies` (CLI `start mirror B --copies N`): mirror props become N (1: off), then every
        target gives each object N replicas."""
        async with self._lock:
            props = self.bmd.must_get(bck)
            props.check_writable(bck)
            mirror = replace(props.mirror, enabled=copies > 1, copies=copies if copies > 1 else props.mirror.copies)
            mirror.validate()
            if mirror != props.mirror:
                await self._commit(bmd=self.bmd.with_bucket(bck, replace(props, mirror=mirror), exist_ok=True))
        return await self._mirror_job(bck, copies)

    async def _mirror_job(self, bck: Bucket, n: int) -> str:
        xid = gen_uuid()
        await gather(self._targets(), "mirror_start", xid, bck, max(n, 1), strict=True)
        self._remember_xact(xid, "mirror_start", xid, bck, max(n, 1))  # a joined or restarted target's share
        return xid

    async def ec_encode(self, bck: Bucket, data_slices: int, parity_slices: int, recover: bool) -> str:
        """`ec-encode` (ais-wire-2 §4.2): enable EC with D/P on the bucket (AIStore's rules: once
        enabled it cannot change), then encode every object not encoded yet; its xid."""
        async with self._lock:
            props = self.bmd.must_get(bck)
            props.check_writable(bck)
            conf = replace(props.ec, enabled=True, data_slices=data_slices, parity_slices=parity_slices)
            check_ec_change(props.ec, conf, force=False)
            conf.validate(len(self.smap.active_targets()))
            if conf != props.ec:
                await self._commit(bmd=self.bmd.with_bucket(bck, replace(props, ec=conf), exist_ok=True))
        return await self._ec_start(bck, conf, recover=recover)

    async def _ec_start(self, bck: Bucket, conf: ECConf, *, recover: bool) -> str:
        xid = gen_uuid()
        await gather(self._targets(), "ec_encode_start", xid, bck, conf, recover, strict=True)
        self._remember_xact(xid, "ec_encode_start", xid, bck, conf, recover)
        return xid

    async def promote(self, bck: Bucket, args: PromoteArgs) -> str:
        """`promote` (ais-wire-2 §7): files under the promote root into `bck`. Every target (or
        only `args.tid`) looks at the source first; all seeing the same files is a file share:
        each then promotes its own HRW names. The job's id, or "" for at most SYNC_MAX files and
        no file share: promoted before the answer, as AIStore does.

        Raises:
            ErrBadRequest / ErrNotFound: a bad source (from the targets), an unknown `tid`;
            the synchronous promote's first error.
        """
        self.check_writable(bck)
        self.bmd.must_get(bck)
        targets = self._reachable()
        if args.tid:
            if args.tid not in targets:
                raise ErrNodeNotFound(args.tid)
            targets = {args.tid: targets[args.tid]}
        # a target's own error (a bad source) reaches the client with its status (serve/errors.py::unwrap)
        seen = dict(zip(targets, await asyncio.gather(*(h.promote_scan.remote(args) for h in targets.values()))))
        total = sum(n for n, _ in seen.values())
        fshare = not args.not_share and len(seen) > 1 and len(set(seen.values())) == 1 and total > 0
        if not fshare and total <= PROMOTE_SYNC_MAX:
            done = await asyncio.gather(*(targets[tid].promote_now.remote(bck, args) for tid in seen))
            first = next((err for _, errs, err in done if errs), "")
            if first:
                raise ErrBadRequest(f"promote {args.src} => {bck}: {first}")
            return ""
        xid = gen_uuid()
        await gather(targets, "promote_start", xid, bck, args, fshare, strict=True)
        self._remember_xact(xid, "promote_start", xid, bck, args, fshare, only_on=args.tid)
        return xid

    async def destroy_bucket(self, bck: Bucket) -> BMD:
        """The bucket goes, and first every job writing into it (AIStore aborts them): a download
        left running wrote on, and its objects appeared in the next bucket of that name."""
        self.check_writable(bck)
        await self._abort_jobs_into(bck)
        async with self._lock:
            self.check_writable(bck)
            bmd = self.bmd.without_bucket(bck)
            await self._commit(bmd=bmd)
        errs = await asyncio.gather(*(self.target(t).destroy_bucket.remote(bck) for t in self.smap.targets),
                                    return_exceptions=True)
        for e in errs:
            if isinstance(e, BaseException):
                log.warning("destroy %s: %r", bck, e)
        return self.bmd

    async def _abort_jobs_into(self, bck: Bucket) -> None:
        for job_id, e in list(self.downloads.jobs.items()):
            if e.spec.bck == bck and e.final is None and not e.aborted:
                await self.downloads.abort(job_id)
        running = {s.id for part in (await self.xact_query(bck=bck, only_running=True)).values() for s in part}
        for xid in running:
            await asyncio.gather(*(self.target(t).xact_abort.remote(xid, "") for t in self.smap.targets),
                                 return_exceptions=True)

    async def evict_bucket(self, bck: Bucket, keep_md: bool) -> BMD:
        """Drop every cached object of a remote bucket; forget the bucket too unless `keep_md`."""
        await asyncio.gather(*(self.target(t).evict.remote(bck, None) for t in self.smap.targets))
        if not keep_md and bck in self.bmd:
            async with self._lock:
                await self._commit(bmd=self.bmd.without_bucket(bck))
        return self.bmd

    async def copy_start(self, spec: CopySpec, presence: int) -> str:
        """Copy bucket / objects (ais-wire-2 §1.2): check and prepare both buckets, start every target's share.

        A missing ais destination is created with the props of an ais source (not for a dry
        run); a remote destination must exist at the remote. A remote source copied whole
        (`presence` 0/1, CLI `--all`) is iterated by listing, like a selection.
        """
        src, dst, msg = spec.src, spec.dst, spec.msg
        check_copy_buckets(src, dst, msg)
        self.check_writable(src)  # a rename's source goes when it ends; its destination is not filled yet
        self.check_writable(dst)
        if src.is_remote:
            await self.add_remote_bucket(src)
        src_props = self.bmd.must_get(src)
        if dst not in self.bmd and not msg.dry_run:
            if dst.is_remote:
                await self.add_remote_bucket(dst)
            else:
                props = None if src.is_remote else replace(src_props, created=time.time_ns(), bid=self.bmd.version + 1,
                                                           backend_bck=None)
                await self.create_bucket(dst, props, exist_ok=True)
        ref = remote_of(src, src_props)
        if spec.sel is None and ref is not None and presence in (PRESENCE_EXISTS, PRESENCE_EXISTS_NO_PROPS):
            spec = replace(spec, sel=Selection(prefix=msg.prefix))  # the whole remote, not just what is cached
        xid = gen_uuid() if spec.kind in (COPY_BCK, ETL_BCK) else f"tco-{gen_uuid()}"
        await gather(self._targets(), "copy_start", xid, spec, ref, strict=True)
        self._remember_xact(xid, "copy_start", xid, spec, ref)
        if spec.etl:
            self.etls.note_job(xid, spec.etl)
        return xid

    async def archive_start(self, spec: ArchiveSpec) -> str:
        """An `archive` job (`jobs/archive.py`) on the target that owns the shard by HRW; its id.
        A remote source is added on first use; the destination must exist (a remote one at its remote)."""
        if spec.src.is_remote:
            await self.add_remote_bucket(spec.src)
        src_props = self.bmd.must_get(spec.src)
        if spec.dst.is_remote:
            await self.add_remote_bucket(spec.dst)
        self.bmd.must_get(spec.dst)
        self.check_writable(spec.dst)
        self.check_writable(spec.src)  # a rename's source goes when it ends
        owner = self.smap.owner(spec.dst.uname(spec.name))
        xid = gen_uuid()
        ref = remote_of(spec.src, src_props)
        await self.target(owner.daemon_id).archive_start.remote(xid, spec, ref)
        if not spec.append:  # written again from the start if its target restarts (an append might append twice)
            self._remember_xact(xid, "archive_start", xid, spec, ref, only_on=owner.daemon_id)
        return xid

    async def evict_objects(self, bck: Bucket, sel: Selection, delete: bool = False) -> str:
        """Evict (`delete`: delete) list-range: every target its share of the selection (sent as is, never
        expanded)."""
        self.check_writable(bck)
        xid = gen_uuid()
        await asyncio.gather(*(self.target(t).evict_listrange.remote(xid, bck, sel, delete) for t in self.smap.targets))
        return xid

    async def summary_start(self, bck: Bucket, prefix: str, with_remote: bool) -> str:
        """A `summary-bck` job on every target; the bucket's HRW target also lists the remote if asked."""
        ref = remote_of(bck, self.bmd.must_get(bck))
        if ref is None or ref.bck.provider is Provider.HT or not (with_remote or bck.is_remote):
            ref = None
        xid = gen_uuid()
        lister = self.smap.owner(bck.uname("")).daemon_id
        await gather(self._reachable(), "summary_start", xid, bck, prefix, ref, lister, strict=True)
        return xid

    async def summary_result(self, xid: str) -> dict[str, Any] | None:
        """The merged summary once every part ended (re-raising a part's error), None while running."""
        snaps = [s for part in (await self.xact_query(xid, SUMMARY)).values() for s in part]
        if not snaps:
            raise ErrJobNotFound(xid)
        if any(s.running for s in snaps):
            return None
        for s in snaps:
            if s.failure is not None:
                raise s.failure
            if s.err:
                raise AisError(s.err)
        assert snaps[0].bck is not None
        return summary_wire(snaps[0].bck, snaps)

    # ---- xactions ---------------------------------------------------------------------------------
    async def xact_query(self, xid: str = "", kind: str = "", bck: Bucket | None = None,
                         only_running: bool = False) -> dict[str, list[XactSnap]]:
        self._ensure_keepalive()  # a restarted proxy: whoever waits for a job brings its rounds back
        # a rename the proxy has not ended yet runs, whatever its shares say (`_moving_snaps`)
        parts = await gather(self._reachable(), "xact_snaps", xid, kind, bck, only_running and not self.bmd.moves(),
                             strict=False)
        parts = self._moving_snaps(parts)
        if only_running:
            parts = {t: [s for s in p if s.running] for t, p in parts.items()}
        return {t: p for t, p in parts.items() if p}

    async def xact_status(self, xid: str, kind: str = "") -> dict[str, Any]:
        self._ensure_keepalive()  # as in `xact_query`
        targets = self._reachable()
        parts = self._moving_snaps(await gather(targets, "xact_snaps", xid, kind, None, False, strict=False))
        snaps = [s for part in parts.values() for s in part]
        if not snaps:
            raise ErrJobNotFound(xid or kind)
        st = xact_status(xid, kind, snaps)
        if st["end_time"] and len(parts) < len(targets):  # a target that did not answer (restarting) may still work
            st = {**st, "end_time": 0, "is_idle": False}
        return st

    async def prefetch_start(self, spec: PrefetchSpec) -> str:
        """Every target prefetches its share; the xaction id is the same on all of them."""
        ref = remote_of(spec.bck, self.bmd.must_get(spec.bck))
        if ref is None:
            raise ErrBadRequest(f"can only prefetch remote buckets (and ais buckets with a backend): {spec.bck}")
        xid = gen_uuid()
        await asyncio.gather(*(self.target(t).prefetch_start.remote(xid, spec, ref) for t in self.smap.targets))
        self._remember_xact(xid, "prefetch_start", xid, spec, ref)
        return xid

    async def blob_download(self, bck: Bucket, name: str, chunk: int, workers: int, latest: bool) -> str:
        """A `blob-download` job on the object's HRW target (one node, as Go runs it)."""
        blob_source(bck, remote_of(bck, self.bmd.must_get(bck)))
        xid = gen_uuid()
        tid = self.smap.owner(bck.uname(name)).daemon_id
        await self.target(tid).blob_start.remote(xid, bck, name, chunk, workers, latest)
        self._remember_xact(xid, "blob_start", xid, bck, name, chunk, workers, latest, only_on=tid)
        return xid

    async def xact_abort(self, xid: str = "", kind: str = "") -> None:
        if not (await self.xact_query(xid, kind, None, True)) and xid and not await self.xact_query(xid, kind):
            raise ErrJobNotFound(xid)
        self._abort_moves(xid, kind)
        await asyncio.gather(*(self.target(t).xact_abort.remote(xid, kind) for t in self.smap.targets))

    async def ping(self) -> bool:
        return True

    # ---- download jobs ---------------------------------------------------------------------------
    async def dl_start(self, spec: DlSpec) -> str:
        self.check_writable(spec.bck)
        return await self.downloads.start(spec)

    async def dl_status(self, job_id: str, only_active: bool = False) -> dict[str, Any]:
        return await self.downloads.status(job_id, only_active=only_active)

    async def dl_list(self, regex: str = "", only_active: bool = False) -> list[dict[str, Any]]:
        return await self.downloads.list(regex, only_active=only_active)

    async def dl_abort(self, job_id: str) -> None:
        await self.downloads.abort(job_id)

    async def dl_remove(self, job_id: str) -> None:
        await self.downloads.remove(job_id)


ProxyActor = ray.remote(_ProxyActor)


def _parse_bmd(d: Any) -> BMD:
    dropped: list[str] = []
    bmd = BMD.from_wire(d, dropped=dropped)
    if dropped:
        log.error("BMD: dropped unreadable bucket entries %s", dropped)
    return bmd
