"""Seed 004's three failure drills, driven from the outside as a user does: `ais-ray` verbs, HTTP, raylets.

One module for `scripts/drills.py` (a user runs it against `ais-ray up --nodes N`) and for
`tests/integration/multinode/test_drills.py` (the shared multi-node playground):

- `rebalance` (cp-rmnode-rebalance): a random node goes to maintenance during the copy (rebalance on).
- `ec` (cp-rmnode-ec): an EC source; a random node is *lost* during the copy — its raylet SIGKILLed
  (`Cluster.kill`), then, once the Smap shows it offline, taken out of placement as an operator
  does (maintenance, no rebalance: AIStore drops a dead node from its Smap). Without raylets to
  kill (a single-node `ais-ray up`) the node only goes to maintenance without a rebalance.
- `rmdisk` (cp-rmdisk): a mirrored source (3 copies, or as many as a target has mountpaths); a
  random mountpath is detached during the copy.

Each round copies `ais://src-*` to `ais://dst`, disrupts after a random delay, waits for the copy
job, checks that no target's share of it reports an error, the destination listing (every name once), the summary counts and every object's
sha256, then restores the node or disk (rebalance / resilver) and checks again. A failure raises
`Fail`; a round returns its timings.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from ais_ray.core import lom
from ais_ray.core.names import parse_bucket_uri
from ais_ray.core.smap import FLAG_OFFLINE, Smap

AIS_RAY = [sys.executable, "-m", "ais_ray.cli.main"]
DRILLS = ("rebalance", "ec", "rmdisk")
SRC = {"rebalance": "ais://src", "ec": "ais://src-ec", "rmdisk": "ais://src-mirror"}
DST = "ais://dst"
WAIT = "10m"


class Fail(AssertionError):
    pass


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


@dataclass
class Cluster:
    """A running cluster: its endpoint, the environment the CLI runs with, and (multi-node) its
    data dir, whose `run/raylets.json` names the raylets a drill may kill and restart."""

    endpoint: str
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    data_dir: str = ""

    def cli(self, *args: str, timeout: float = 900) -> str:
        p = subprocess.run([*AIS_RAY, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise Fail(f"ais-ray {' '.join(args)}: exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
        return p.stdout

    def smap(self) -> Smap:
        r = requests.get(f"{self.endpoint}/v1/daemon", params={"what": "smap"}, timeout=30)
        if r.status_code != 200:
            raise Fail(f"GET smap: {r.status_code} {r.text[:200]}")
        return Smap.from_wire(r.json())

    def wait_smap(self, ok: Callable[[Smap], bool], what: str, timeout: float = 120) -> Smap:
        deadline = time.monotonic() + timeout
        while not ok(smap := self.smap()):
            if time.monotonic() > deadline:
                raise Fail(f"no Smap with {what} after {timeout:.0f}s (v{smap.version})")
            time.sleep(0.5)
        return smap

    # ---- nodes (multi-node playground only) -------------------------------------------------------
    @property
    def run_dir(self) -> str:
        return os.path.join(self.data_dir, "run")

    def killable(self) -> list[str]:
        """Targets on raylets of their own (not the head node, which hosts the proxy)."""
        from ais_ray.deploy import recorded_raylets

        return sorted(recorded_raylets(self.run_dir)) if self.data_dir else []

    def kill(self, tid: str) -> None:
        """SIGKILL every process of `tid`'s raylet: the node is lost, as a machine that dies."""
        from ais_ray.deploy import recorded_raylets

        os.killpg(recorded_raylets(self.run_dir)[tid], signal.SIGKILL)

    def revive(self, tid: str) -> None:
        """A new raylet advertising `tid` (as `ray start --address=HEAD`): the target comes back with its
        data, and with the cluster's environment (`env`: its backends' endpoints and credentials)."""
        from ais_ray.deploy import start_raylet

        with open(os.path.join(self.run_dir, "state.json")) as f:
            start_raylet(self.run_dir, str(json.load(f)["ray_address"]), tid, env=self.env)


def shard(seed: int) -> bytes:
    """A .tgz of 5 random 1 KiB files (`ais archive gen-shards` defaults)."""
    rnd = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(5):
            data = rnd.randbytes(1024)
            info = tarfile.TarInfo(f"{seed}-{i}.test")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def names(c: Cluster, bck: str) -> list[str]:
    """Every listed name, duplicates kept (sorted)."""
    d = json.loads(c.cli("ls", bck, "--json", "--props", "name"))
    return sorted(e.get("name") or e["n"] for e in (d["entries"] if isinstance(d, dict) else d))


def summary_count(c: Cluster, bck: str) -> int:
    return int(json.loads(c.cli("storage", "summary", bck, "--json"))["ObjCount"]["obj_count_present"])


def census(c: Cluster, bck: str) -> str:
    """What each mountpath of this machine holds of `bck`, for a failed count: per mountpath, its
    state in the Smap, the Smap version it stored, its files of the bucket and how many of those
    list this mountpath among their copies (a mirror's replicas do)."""
    smap, b = c.smap(), parse_bucket_uri(bck)[0]
    out = [f"smap v{smap.version}"]
    for tid, t in sorted(smap.targets.items()):
        for mp in sorted(t.mountpaths, key=lambda m: m.path):
            files = own = 0
            for root, _, names in os.walk(lom.objects_dir(mp.path, b)):
                for n in names:
                    files += 1
                    try:
                        own += mp.path in lom.ObjAttrs.from_bytes(os.getxattr(os.path.join(root, n), lom.XATTR)).copies
                    except (OSError, ValueError):
                        pass
            try:
                with open(os.path.join(mp.path, lom.SMAP_FILE), "rb") as f:
                    saved = json.loads(f.read()).get("version")
            except (OSError, ValueError):
                saved = "?"
            out.append(f"{tid}:{os.path.basename(mp.path)} {mp.state} smap v{saved}: {files} files, {own} list it")
    return "; ".join(out)


def digests(c: Cluster, bck: str, objs: list[str]) -> dict[str, str]:
    """sha256 of every object, read over the HTTP API as any client would (redirects followed)."""
    name = bck.split("://", 1)[1]
    out = {}
    with requests.Session() as s:
        for o in objs:
            r = s.get(f"{c.endpoint}/v1/objects/{name}/{o}", params={"provider": "ais"}, timeout=120)
            if r.status_code != 200:
                raise Fail(f"GET {bck}/{o}: {r.status_code} {r.text[:200]}")
            out[o] = hashlib.sha256(r.content).hexdigest()
    return out


def expect(what: str, got: object, want: object) -> None:
    if got != want:
        if isinstance(got, dict) and isinstance(want, dict):
            bad = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            raise Fail(f"{what}: {len(bad)} differ, e.g. {bad[:5]}")
        if isinstance(got, list) and isinstance(want, list):
            raise Fail(f"{what}: {len(got)} listed, want {len(want)}; missing {sorted(set(want) - set(got))[:5]}, "
                       f"duplicated {sorted({n for n in got if got.count(n) > 1})[:5]}")
        raise Fail(f"{what}: got {got}, want {want}")
    log(f"ok: {what} = {f'{len(want)} equal' if isinstance(want, (dict, list)) else want}")


def source_props(c: Cluster, drill: str) -> str:
    """The source bucket's props: EC 3+1 when 5 targets allow it (D+P+1), else 1+1; a mirror of
    3 copies, or of as many as a target has mountpaths (2 on the test playground: a 2-way mirror)."""
    smap = c.smap()
    if drill == "ec":
        d = 3 if len(smap.targets) >= 5 else 1
        return f"ec.enabled=true ec.data_slices={d} ec.parity_slices=1 ec.objsize_limit=0"
    if drill == "rmdisk":
        copies = min([3, *(len(t.mountpaths) for t in smap.targets.values())])
        return f"mirror.enabled=true mirror.copies={copies}"
    return ""


def rmb(c: Cluster, bck: str) -> None:
    """Remove `bck` if it exists."""
    subprocess.run([*AIS_RAY, "rmb", bck], env=c.env, capture_output=True)


def setup(c: Cluster, drill: str, shards: int, tmp: str) -> dict[str, str]:
    """A fresh source of `shards` shards (PUT with the CLI); their digests."""
    src = SRC[drill]
    for b in (src, DST):
        rmb(c, b)
    props = source_props(c, drill)
    c.cli("create", src, *(["--props", props] if props else []))
    log(f"{src}: {props or 'no redundancy'}")
    d = os.path.join(tmp, "shards")
    os.makedirs(d, exist_ok=True)
    for i in range(1, shards + 1):
        with open(os.path.join(d, f"shard-{i:03d}.tgz"), "wb") as f:
            f.write(shard(i))
    c.cli("put", d + "/", src, "--recursive", timeout=1800)
    listed = names(c, src)
    expect(f"{src} listed", len(listed), shards)
    return digests(c, src, listed)


@dataclass
class Disruption:
    drill: str
    tid: str
    mp: str = ""
    killed: bool = False


def disrupt(c: Cluster, drill: str, rnd: random.Random) -> Disruption:
    smap = c.smap()
    if drill == "rmdisk":
        tid = rnd.choice(sorted(smap.targets))
        mp = sorted(m.path for m in smap.targets[tid].mountpaths)[0]
        log(f"detach {tid} {mp}")
        c.cli("storage", "mountpath", "detach", tid, mp)
        return Disruption(drill, tid, mp)
    if drill == "ec" and c.killable():
        tid = rnd.choice(c.killable())
        log(f"kill {tid} (SIGKILL its raylet)")
        c.kill(tid)
        d = Disruption(drill, tid, killed=True)
        try:
            c.wait_smap(lambda s: bool(s.targets[tid].flags & FLAG_OFFLINE), f"{tid} offline")
            log(f"{tid} offline; start-maintenance --no-rebalance (out of placement)")
            c.cli("cluster", "add-remove-nodes", "start-maintenance", tid, "--no-rebalance", "-y")
        except BaseException:  # the node is dead: bring it back before the error goes up (the next drill needs it)
            try:
                restore(c, d)
            except Fail as exc:
                log(f"restore after a failed disruption: {exc}")
            raise
        return d
    tid = rnd.choice(sorted(smap.targets))
    flags = ["--no-rebalance"] if drill == "ec" else []
    log(f"start-maintenance {tid} {' '.join(flags)}")
    c.cli("cluster", "add-remove-nodes", "start-maintenance", tid, *flags, "-y")
    return Disruption(drill, tid)


def load_scale() -> float:
    """How much slower than idle this machine is now: the 1-min load average per core, at least 1,
    at most 6 (a wait scaled by it stays bounded on a shared, overloaded machine)."""
    try:
        per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        return 1.0
    return min(6.0, max(1.0, per_core))


def scaled(seconds: float) -> float:
    return seconds * load_scale()


def _timeout(seconds: float) -> str:
    return f"{int(seconds)}s"


def restore(c: Cluster, d: Disruption) -> None:
    """Undo the disruption: every step is tried even if one before it failed (the cluster is left as
    whole as possible), each wait bounded and scaled by the machine's load (`scaled`); raises one
    Fail naming every step that did not complete."""
    errors: list[str] = []

    def step(what: str, fn: Callable[[], object]) -> bool:
        try:
            fn()
            return True
        except (Fail, subprocess.TimeoutExpired, requests.RequestException, OSError) as exc:
            errors.append(f"{what}: {exc}")
            log(f"restore: {what} failed: {exc}")
            return False

    if d.drill == "rmdisk":
        log(f"attach {d.tid} {d.mp}")
        out: list[str] = []
        if step(f"attach {d.tid} {d.mp}", lambda: out.append(c.cli("storage", "mountpath", "attach", d.tid, d.mp))):
            w = scaled(300)
            m = re.search(r"resilver\[([^\]]+)\] started", out[0])  # that job, not the latest one a query finds
            job = m.group(1) if m else "resilver"
            step(f"wait {job}", lambda: c.cli("wait", job, "--timeout", _timeout(w), timeout=w + 60))
    else:
        online = True
        if d.killed:  # one new raylet (a second one advertising the same target would be a twin)
            w = scaled(300)
            log(f"revive {d.tid} (waiting up to {w:.0f}s for it, load x{load_scale():.1f})")
            online = step(f"revive {d.tid}", lambda: c.revive(d.tid)) and step(
                f"{d.tid} back online",
                lambda: c.wait_smap(lambda s: not s.targets[d.tid].flags & FLAG_OFFLINE, f"{d.tid} back online", w))
        if online:  # an offline node stays out of placement: its objects are not expected back on it
            log(f"stop-maintenance {d.tid}")
            if step(f"stop-maintenance {d.tid}",
                    lambda: c.cli("cluster", "add-remove-nodes", "stop-maintenance", d.tid, "-y")):
                w = scaled(300)
                step("wait rebalance", lambda: c.cli("wait", "rebalance", "--timeout", _timeout(w), timeout=w + 60))
        else:
            errors.append(f"{d.tid} left in maintenance (offline): restart its node, then "
                          f"'ais-ray cluster add-remove-nodes stop-maintenance {d.tid} -y'")
    if errors:
        raise Fail(f"restore of {d.drill} on {d.tid} incomplete: " + "; ".join(errors))


@dataclass
class RoundResult:
    copy_s: float  # copy started -> copy job finished
    disrupt_at: float  # seconds after the copy started
    total_s: float  # including checks and the restore


def start_copy(c: Cluster, drill: str) -> str:
    """`ais-ray cp` of the drill's source to DST; the job id."""
    out = c.cli("cp", SRC[drill], DST)
    m = re.search(r"\[([^\]]+)\]", out)
    if not m:
        raise Fail(f"no job id in: {out!r}")
    return m.group(1)


def job_errors(c: Cluster, xid: str) -> list[str]:
    """Every target's error (or abort) in job `xid` (`ais-ray show job XID --json`): a copy that
    finished with per-object errors fails the drill even if the checks after it would pass."""
    parts = json.loads(c.cli("show", "job", xid, "--json"))
    return [f"{tid}: {s.get('err') or 'aborted'}" for tid, snaps in parts.items() for s in snaps
            if s.get("err") or s.get("aborted")]


def round_(c: Cluster, drill: str, src_digests: dict[str, str], rnd: random.Random, *,
           max_delay: float = 4.0, delay: float | None = None, on_copy: Callable[[str], None] | None = None
           ) -> RoundResult:
    """One round: the copy, the disruption after `delay` s (None: a random 0..`max_delay`), the
    checks, the restore and the checks again. `on_copy(xid)` once the copy started (a benchmark's sampler)."""
    src, shards = SRC[drill], len(src_digests)
    t0 = time.monotonic()
    xid = start_copy(c, drill)
    if on_copy is not None:
        on_copy(xid)
    time.sleep(rnd.uniform(0, max_delay) if delay is None else delay)
    at = time.monotonic() - t0
    d = disrupt(c, drill, rnd)
    try:
        c.cli("wait", xid, "--timeout", WAIT)
        copy_s = time.monotonic() - t0
        log(f"copy {xid} done in {copy_s:.1f}s")
        expect(f"copy {xid} errors", job_errors(c, xid), [])
        # reads first: the objects of a lost node are rebuilt (and kept) by their new owners
        expect(f"{DST} checksums", digests(c, DST, sorted(src_digests)), src_digests)
        expect(f"{DST} listed", names(c, DST), sorted(src_digests))
        if d.killed:
            expect(f"{src} checksums", digests(c, src, sorted(src_digests)), src_digests)
        expect(f"{src} summary", summary_count(c, src), shards)
    finally:
        restore(c, d)
    if (n := summary_count(c, DST)) != shards:
        raise Fail(f"{DST} summary after restore: got {n}, want {shards} ({census(c, DST)}); "
                   f"a moment later {summary_count(c, DST)}")
    expect(f"{src} listed after restore", names(c, src), sorted(src_digests))
    expect(f"{src} summary after restore", summary_count(c, src), shards)
    c.cli("rmb", DST)
    return RoundResult(copy_s, at, time.monotonic() - t0)


def run(c: Cluster, drill: str, rounds: int, shards: int, tmp: str, rnd: random.Random, *,
        max_delay: float = 4.0, keep_src: bool = False) -> list[RoundResult]:
    """`rounds` rounds of `drill` over a fresh source (removed at the end unless `keep_src`);
    raises Fail at the first problem."""
    src_digests = setup(c, drill, shards, tmp)
    out = []
    for r in range(1, rounds + 1):
        log(f"round {r}/{rounds} ({drill})")
        out.append(round_(c, drill, src_digests, rnd, max_delay=max_delay))
    if not keep_src:
        rmb(c, SRC[drill])
    return out
