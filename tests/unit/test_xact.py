"""The kind table and a target's one job registry (no Ray: the registry runs on a plain loop)."""

from __future__ import annotations

import asyncio
import os

import pytest

from ais_ray.actors.target_xact import SETTLE_POLL, TargetXacts
from ais_ray.core import xact
from ais_ray.core.errors import ErrNotFound
from ais_ray.core.names import Bucket
from ais_ray.core.xact import KINDS, ErrUnknownKind, ErrXactBusy, Scope, Wait, XactSnap


def test_kind_table_matches_the_sdk_waits() -> None:
    # SDK `IDLE_KINDS` minus the EC internals we list too
    assert {"download", "copy-listrange", "etl-listrange", "put-copies", "archive", "list", "get-batch"} <= xact.IDLE_KINDS
    assert KINDS["blob-download"].wait is Wait.SINGLE_NODE and KINDS["blob-download"].scope is Scope.NODE
    assert KINDS["resilver"].wait is Wait.SINGLE_NODE
    for k in ("prefetch-listrange", "evict-listrange", "delete-listrange", "summary-bck", "copy-bck", "rebalance"):
        assert KINDS[k].wait is Wait.STATUS and KINDS[k].scope is Scope.CLUSTER


def test_kind_table_rebalance_rules() -> None:
    abort_by_reb = {k.name for k in KINDS.values() if k.abort_by_reb}
    assert {"download", "blob-download", "copy-bck", "copy-listrange", "etl-bck", "etl-listrange"} <= abort_by_reb
    assert "prefetch-listrange" not in abort_by_reb and "rebalance" not in abort_by_reb
    assert xact.conflict("copy-bck", ["download", "rebalance"]) == "rebalance"
    assert xact.conflict("copy-bck", ["download"]) == ""
    assert xact.conflict("download", ["resilver"]) == ""
    assert xact.aborted_by("rebalance", "download") and not xact.aborted_by("rebalance", "prefetch-listrange")
    assert not xact.aborted_by("resilver", "download")
    # ais-ray keeps the jobs that follow the Smap going (issue 11 part 6); the others as Go
    assert not xact.reb_aborts("rebalance", "download") and not xact.reb_aborts("rebalance", "copy-listrange")
    # copy-bck and blob-download too now (they walk once more after the rebalance); the others as Go
    assert not xact.reb_aborts("rebalance", "copy-bck") and not xact.reb_aborts("rebalance", "blob-download")
    assert xact.reb_aborts("rebalance", "etl-bck") and xact.reb_aborts("rebalance", "get-batch")
    with pytest.raises(ErrUnknownKind):
        xact.kind_of("no-such-kind")


def _run(coro_fn):  # type: ignore[no-untyped-def]
    return asyncio.run(coro_fn())


def test_registry_start_snapshot_finish() -> None:
    async def main() -> None:
        reg = TargetXacts()
        gate = asyncio.Event()

        async def work(snap: XactSnap) -> None:
            snap.stats.objs = 3
            await gate.wait()

        bck = Bucket("b")
        reg.start(XactSnap("x1", "prefetch-listrange", bck), work)
        reg.start(XactSnap("x1", "prefetch-listrange", bck), work)  # a retried start: no-op
        await asyncio.sleep(0)
        [s] = reg.snaps(xid="x1")
        assert s.running and s.stats.objs == 3 and s.start > 0
        assert reg.snaps(kind="download") == [] and reg.snaps(bck=bck, only_running=True) == [s]
        gate.set()
        await asyncio.sleep(0.01)
        [s] = reg.snaps(xid="x1")
        assert not s.running and not s.err and not s.aborted
        assert reg.snaps(only_running=True) == []

    _run(main)


def test_registry_errors_and_abort() -> None:
    async def main() -> None:
        reg = TargetXacts()

        async def fails(snap: XactSnap) -> None:
            raise ValueError("boom")

        async def forever(snap: XactSnap) -> None:
            await asyncio.Event().wait()

        reg.start(XactSnap("bad", "prefetch-listrange"), fails)
        reg.start(XactSnap("long", "blob-download"), forever)
        await asyncio.sleep(0.01)
        assert reg.snaps(xid="bad")[0].err == "ValueError: boom"
        assert await reg.abort(kind="blob-download") == 1
        [s] = reg.snaps(xid="long")
        assert s.aborted and not s.running
        assert await reg.abort(xid="long") == 0  # ended already

    _run(main)


def test_registry_conflicts_with_rebalance() -> None:
    async def main() -> None:
        reg = TargetXacts()

        async def forever(snap: XactSnap) -> None:
            await asyncio.Event().wait()

        reg.start(XactSnap("gb", "get-batch"), forever)
        reg.start(XactSnap("dl", "blob-download"), forever)
        reg.start(XactSnap("pf", "prefetch-listrange"), forever)
        reg.start(XactSnap("g1", "rebalance"), forever)  # aborts the AbortByReb kinds (not those following the Smap)
        await asyncio.sleep(0.01)
        assert reg.snaps(xid="gb")[0].aborted
        assert reg.snaps(xid="dl")[0].running and reg.snaps(xid="pf")[0].running
        with pytest.raises(ErrXactBusy):
            reg.start(XactSnap("cp", "copy-bck"), forever)  # ConflictRebRes
        with pytest.raises(ErrUnknownKind):
            reg.start(XactSnap("zz", "nope"), forever)
        await reg.abort()

    _run(main)


def test_failed_share_is_an_error_not_done() -> None:
    from ais_ray.jobs.download import FailedShare

    share = FailedShare("j1", "t1", "cannot resume saved state: JSONDecodeError: x")
    st = asyncio.run(share.status(False))
    assert st.errors == 1 and st.end_time > 0 and st.error_list == [("", share.err)] and "t[t1]" in share.err
    snap = share.snap()
    assert snap.kind == "download" and snap.err and snap.stats.errors == 1 and not snap.running


def test_summary_merges_the_parts() -> None:
    from ais_ray.jobs.summary import summary_wire

    a, b = XactSnap("s", "summary-bck", Bucket("b")), XactSnap("s", "summary-bck", Bucket("b"))
    # two targets whose mountpaths share one filesystem ("h:1", 1,000 bytes) and one more ("h:2")
    a.stats.objs, a.stats.bytes, a.extra = 2, 30, {"min": 10, "max": 20, "on_disk": 60, "disks": {"h:1": 1000}}
    b.stats.in_objs, b.stats.in_bytes, b.extra = 5, 70, {"min": 0, "max": 0, "on_disk": 15,
                                                         "disks": {"h:1": 1000, "h:2": 500}}
    w = summary_wire(Bucket("b"), [a, b])
    assert w["ObjCount"] == {"obj_count_present": "2", "obj_count_remote": "5"}
    assert w["ObjSize"] == {"obj_min_size": 10, "obj_avg_size": 15, "obj_max_size": 20}
    assert w["TotalSize"] == {"size_on_disk": "75", "size_all_present_objs": "30", "size_all_remote_objs": "70",
                              "total_disks_size": "1500"}
    assert w["used_pct"] == 5  # 75 of 1,500 bytes


def test_jobs_following_the_smap_walk_again_after_a_rebalance() -> None:
    """Issue 11 part 6: a rebalance does not cut a copy short; every share of it — running, or
    ended while the job runs elsewhere — walks once more when the rebalance has ended here, stays
    running until then, and then has what it wrote moved to its owner (`settle`)."""
    from ais_ray.actors.target_xact import pass_no

    async def main() -> None:
        settled: list[tuple[str, list[Bucket]]] = []

        async def settle(xid: str, bcks: list[Bucket]) -> None:
            settled.append((xid, bcks))

        reg = TargetXacts(settle)
        gate, reb = asyncio.Event(), asyncio.Event()
        passes: dict[str, list[int]] = {"run": [], "done": [], "gone": []}

        def walker(xid: str, wait: bool):  # type: ignore[no-untyped-def]
            async def work(snap: XactSnap) -> None:
                passes[xid].append(pass_no(snap))
                snap.dst_bck = Bucket("dst")
                snap.stats.objs += 5
                if wait and not pass_no(snap):
                    await gate.wait()
            return work

        async def rebalance(snap: XactSnap) -> None:
            await reb.wait()

        reg.start(XactSnap("done", "copy-bck"), walker("done", False))  # ended before the map changed
        reg.start(XactSnap("gone", "copy-bck"), walker("gone", False))  # ended, and its job ended everywhere
        reg.start(XactSnap("run", "copy-listrange"), walker("run", True))
        reg.start(XactSnap("other", "get-batch"), walker("run", True))
        await asyncio.sleep(0.01)
        assert not reg.snaps(xid="done")[0].running and reg.snaps(xid="run")[0].running
        reg.start(XactSnap("g5", "rebalance"), rebalance)
        assert sorted(reg.follow(also=("done",))) == ["done", "run"]
        gate.set()
        await asyncio.sleep(0.05)
        # both wait for the rebalance: running, and no second walk yet
        assert reg.snaps(xid="done")[0].running and reg.snaps(xid="run")[0].running
        assert passes == {"run": [0, 0], "done": [0], "gone": [0]} and reg.snaps(xid="other")[0].aborted
        reb.set()
        await asyncio.sleep(0.1 + 2 * SETTLE_POLL)
        for xid in ("done", "run"):
            [s] = reg.snaps(xid=xid)
            assert not s.running and not s.aborted and not s.err and s.stats.objs == 5, s  # counts of the last walk
            assert passes[xid][-1] == 1
        assert passes["gone"] == [0] and sorted(x for x, _ in settled) == ["done", "run"]
        assert all(b == [Bucket("dst")] for _, b in settled)

        # a share that starts while a rebalance runs (a target that joined) walks again after it too
        reb2 = asyncio.Event()

        async def rebalance2(snap: XactSnap) -> None:
            await reb2.wait()

        reg.start(XactSnap("g6", "rebalance"), rebalance2)
        reg.start(XactSnap("new", "prefetch-listrange", Bucket("src")), walker("gone", False))
        with pytest.raises(ErrXactBusy):  # a new copy waits for the rebalance (Go ConflictRebRes)...
            reg.start(XactSnap("cpj", "copy-bck"), walker("gone", False))
        reg.start(XactSnap("cpj", "copy-bck"), walker("gone", False), admitted=True)  # ...a share of a running one not
        await asyncio.sleep(0.05)
        assert reg.snaps(xid="new")[0].running and reg.snaps(xid="cpj")[0].running
        reb2.set()
        await asyncio.sleep(0.1 + 2 * SETTLE_POLL)
        assert not reg.snaps(xid="new")[0].running and ("new", [Bucket("dst")]) in settled
        # a share that failed is not brought back: that is its end
        async def fails(snap: XactSnap) -> None:
            raise ValueError("boom")

        reg.start(XactSnap("bad", "copy-bck"), fails)
        await asyncio.sleep(0.01)
        assert reg.follow(also=("bad",)) == [] and not reg.snaps(xid="bad")[0].running

    _run(main)


async def _forever(snap: XactSnap) -> None:
    await asyncio.Event().wait()


async def _quick(snap: XactSnap) -> None:
    return None


def test_marks_name_the_shares_a_stopped_target_was_running(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A task share's mark is on every mountpath while it runs and gone when it ends; the marks a
    "stopped" registry left are the new registry's lost shares: running until resolved, then
    ended with the reason — or started again (the start replaces the lost share)."""
    from ais_ray.actors.target_xact import MARKS_DIR, LostShare, Marks

    mps = [str(tmp_path / "mp1"), str(tmp_path / "mp2")]
    marks = Marks(lambda: mps, fsync=False)

    async def first_life() -> None:
        reg = TargetXacts(marks=marks)
        reg.start(XactSnap("run1", "prefetch-listrange", Bucket("b")), _forever)
        reg.start(XactSnap("run2", "ec-encode", Bucket("b")), _forever)
        reg.start(XactSnap("done1", "prefetch-listrange", Bucket("b")), _quick)
        reg.start(XactSnap("copy1", "copy-bck", Bucket("b")), _forever, mark=False)  # saves its own record
        await asyncio.sleep(0.2)
        for mp in mps:
            d = os.path.join(mp, MARKS_DIR)
            assert sorted(os.listdir(d)) == ["run1.json", "run2.json"]
            left.update({os.path.join(d, n): open(os.path.join(d, n), "rb").read() for n in os.listdir(d)})

    left: dict[str, bytes] = {}
    _run(first_life)  # asyncio.run cancels the tasks: they end aborted, and their marks say so
    for mp in mps:
        assert sorted(os.listdir(os.path.join(mp, MARKS_DIR))) == ["run1.json", "run2.json"]
    assert sorted((r["xid"], r["aborted"]) for r in marks.left()) == [("run1", True), ("run2", True)]
    for path, raw in left.items():  # a killed process ends nothing: its marks stay
        with open(path, "wb") as f:
            f.write(raw)
    with open(os.path.join(mps[1], MARKS_DIR, "junk.json"), "w") as f:
        f.write("{not json")  # a damaged mark: skipped, never fatal
    with open(os.path.join(mps[0], MARKS_DIR, "..x.json"), "w") as f:
        f.write("{}")  # not a job id

    async def second_life() -> None:
        reg = TargetXacts(marks=marks)
        lost = reg.lost_shares(marks.left())
        assert sorted(x.xid for x in lost) == ["run1", "run2"]
        assert all(isinstance(x, LostShare) and x.snap().running for x in lost)
        [run1] = reg.snaps(xid="run1")
        assert run1.kind == "prefetch-listrange" and run1.bck == Bucket("b")

        async def again(snap: XactSnap) -> None:
            snap.stats.objs = 7

        reg.start(XactSnap("run1", "prefetch-listrange", Bucket("b")), again, admitted=True)  # started again
        reg.start(XactSnap("run1", "prefetch-listrange", Bucket("b")), again, admitted=True)  # a no-op now
        await asyncio.sleep(0.2)
        [run1] = reg.snaps(xid="run1")
        assert not run1.running and not run1.err and run1.stats.objs == 7
        x2 = reg.get("run2")
        assert isinstance(x2, LostShare)
        x2.lost("target t1 stopped")
        [run2] = reg.snaps(xid="run2")
        assert not run2.running and run2.aborted and run2.err == "target t1 stopped" and run2.stats.errors == 1
        marks.drop("run2")
        for mp in mps:
            assert "run1.json" not in os.listdir(os.path.join(mp, MARKS_DIR)) and \
                "run2.json" not in os.listdir(os.path.join(mp, MARKS_DIR))

    _run(second_life)


def test_a_share_that_failed_still_reads_failed_after_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A share that ended with an error keeps the record of its end (a success leaves none): the
    registry of a restarted target has it ended with that error and its counts — a job whose
    share failed must not read as successful because that target restarted. The record goes
    when the registry lets the share go (`KEEP_FINISHED`)."""
    from ais_ray.actors import target_xact
    from ais_ray.actors.target_xact import MARKS_DIR, EndedShare, Marks

    mps = [str(tmp_path / "mp1"), str(tmp_path / "mp2")]
    marks = Marks(lambda: mps, fsync=False)

    async def first_life() -> None:
        reg = TargetXacts(marks=marks)

        async def fails(snap: XactSnap) -> None:
            snap.stats.objs, snap.stats.errors = 5, 1
            raise ErrNotFound("s3://b/missing: object not found")

        async def counted(snap: XactSnap) -> None:
            snap.stats.objs = 9

        reg.start(XactSnap("bad1", "prefetch-listrange", Bucket("b")), fails)
        reg.start(XactSnap("good1", "prefetch-listrange", Bucket("b")), counted)
        await asyncio.sleep(0.2)
        for mp in mps:
            assert sorted(os.listdir(os.path.join(mp, MARKS_DIR))) == ["bad1.json"]

    _run(first_life)
    with open(os.path.join(mps[0], MARKS_DIR, "bad1.json"), "w") as f:
        f.write('{"xid": "bad1", "kind": "prefetch-listrange", "start": 1}')  # a running mark on one disk: the end wins

    async def second_life() -> None:
        reg = TargetXacts(marks=marks)
        assert reg.lost_shares(marks.left()) == []  # nothing to start again
        assert isinstance(reg.get("bad1"), EndedShare) and reg.get("good1") is None
        [bad] = reg.snaps(xid="bad1")
        assert not bad.running and not bad.aborted and "missing" in bad.err
        assert (bad.stats.objs, bad.stats.errors, bad.bck) == (5, 1, Bucket("b"))
        assert reg.snaps(only_running=True) == []

        target_xact.KEEP_FINISHED = 1  # the registry lets the oldest ended shares go: their records too
        try:
            reg.start(XactSnap("next1", "prefetch-listrange", Bucket("b")), _quick)
            await asyncio.sleep(0.1)
            reg.start(XactSnap("next2", "prefetch-listrange", Bucket("b")), _quick)
            await asyncio.sleep(0.1)
        finally:
            target_xact.KEEP_FINISHED = 1000
        assert reg.get("bad1") is None
        for mp in mps:
            assert os.listdir(os.path.join(mp, MARKS_DIR)) == []

    _run(second_life)


def test_a_mountpath_attached_again_loses_its_stale_marks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A mountpath detached while a share ran keeps that share's mark (its end did not reach it);
    attached again, the mark would read as a lost share after a restart. `attached` removes the
    marks of shares not running here, and keeps the running ones'."""
    from ais_ray.actors.target_xact import MARKS_DIR, Marks

    mp1, away = str(tmp_path / "mp1"), str(tmp_path / "away")
    paths = [mp1]
    marks = Marks(lambda: paths, fsync=False)
    os.makedirs(os.path.join(away, MARKS_DIR))
    for xid in ("old1", "run1", "done1"):
        with open(os.path.join(away, MARKS_DIR, f"{xid}.json"), "w") as f:
            f.write(f'{{"xid": "{xid}", "kind": "prefetch-listrange", "start": 1}}')

    async def life() -> None:
        reg = TargetXacts(marks=marks)
        reg.start(XactSnap("run1", "prefetch-listrange", Bucket("b")), _forever)
        reg.start(XactSnap("done1", "resilver"), _quick)  # ended here: its mark there is stale too
        await asyncio.sleep(0.1)
        paths.append(away)
        reg.attached(away)
        assert os.listdir(os.path.join(away, MARKS_DIR)) == ["run1.json"]
        assert [r["xid"] for r in marks.left()] == ["run1"]

    _run(life)
