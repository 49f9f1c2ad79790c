"""What every benchmark here shares: a cluster started by the CLI, peak RSS and CPU from /proc, timing, tables, JSON.

A benchmark starts the cluster the way a user does (`ais-ray up`, stopped by `ais-ray down` in
a `finally`), so it measures the same processes a user runs. Memory and CPU time are read from
/proc (no psutil): each sampled process with its children, RSS every ~100 ms on a thread of its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from ais_ray.testing.emulators import free_port

MIB = 1 << 20
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
AIS_RAY = [sys.executable, "-m", "ais_ray.cli.main"]
# Ray titles an actor's process `ray::<Class>[:...]`: Serve's API replica and HTTP proxy, ais-ray's proxy actor
# and the front door on the API port
ACTOR_LABELS = (("ServeReplica", "serve-replica"), ("ProxyActor", "serve-proxy"), ("_ProxyActor", "ais-proxy"),
                ("FrontDoor", "front-door"))


# ---- /proc -------------------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[bytes]:
    """/proc/PID/stat after the command (which may hold spaces and parentheses): state, ppid, ..."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return stat[stat.rindex(b")") + 2:].split()


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (VmRSS); 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (all its threads); 0 once it has exited."""
    try:
        f = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(f[11]) + int(f[12])) / CLK_TCK


def cpu_user_sys(pid: int) -> tuple[float, float]:
    """User and system CPU time of one process so far, apart; (0, 0) once it has exited."""
    try:
        f = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    return int(f[11]) / CLK_TCK, int(f[12]) / CLK_TCK


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def actor_class(cmd: str) -> str:
    """The actor class in a Ray worker's process title, "" for other processes.

    Ray retitles the process while a method runs, so "ray::ServeReplica:ais:AisApi",
    "ray::ProxyActor" and "ray::ProxyActor.check_health()" give "ServeReplica", "ProxyActor", "ProxyActor".
    """
    m = re.match(r"ray::([A-Za-z_]\w*)", cmd)
    return m.group(1) if m else ""


def children_map() -> dict[int, list[int]]:
    """ppid -> child pids, for every process visible in /proc."""
    out: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                out.setdefault(int(_stat_fields(int(name))[1]), []).append(int(name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return out


def descendants(pid: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    tree = children_map() if tree is None else tree
    out, todo = [], list(tree.get(pid, ()))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, ()))
    return out


@dataclass
class ProcUse:
    """One process (with its children) during one phase; a phase run again adds to it."""

    label: str
    pid: int
    rss_before: int = 0  # when the phase first started
    rss_peak: int = 0  # highest sample during any run of the phase
    cpu_s: float = 0.0  # CPU time used, summed over runs
    cpu_user_s: float = 0.0  # ... of which user time
    cpu_sys_s: float = 0.0  # ... and system time
    wall_s: float = 0.0  # how long the phase ran, summed over runs
    idle_cps: float = 0.0  # CPU seconds per second the process spends when nothing is asked of it

    @property
    def growth(self) -> int:
        return max(0, self.rss_peak - self.rss_before)

    @property
    def cpu_net_s(self) -> float:
        """CPU time the work caused: `cpu_s` less the process's idle rate over the phase (Ray's
        workers spend ~11 ms/s each doing nothing asked of them; a plain server spends ~0)."""
        return max(0.0, self.cpu_s - self.idle_cps * self.wall_s)


class ProcSampler:
    """Peak RSS (sampled every `interval` s) and CPU time of named processes, per phase.

    Each label's process is counted with its children, except `solo` labels (use it for this
    process, whose children are the servers under test).

        sampler = ProcSampler({"t1": 123, "t1/mp1": 124}).start()
        with sampler.phase("GET large", ["t1/mp1"]):
            ...
        sampler.stop(); sampler.phases["GET large"]["t1/mp1"].rss_peak
    """

    def __init__(self, procs: dict[str, int], *, solo: Collection[str] = (), interval: float = 0.1) -> None:
        self.procs = dict(procs)
        self.solo = set(solo)
        self.interval = interval
        self.phases: dict[str, dict[str, ProcUse]] = {}
        self.idle_cps: dict[str, float] = {}  # measure_idle: label -> CPU s/s at rest
        self._current: dict[str, ProcUse] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)

    def start(self) -> ProcSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _pids(self, tree: dict[int, list[int]]) -> dict[str, list[int]]:
        return {lb: [pid, *([] if lb in self.solo else descendants(pid, tree))] for lb, pid in self.procs.items()}

    def measure_idle(self, seconds: float = 3.0) -> dict[str, float]:
        """Each process's CPU rate while nothing is asked of it (call with the servers idle);
        every later phase subtracts it in `ProcUse.cpu_net_s`."""
        before, t0 = self.sample(), time.monotonic()
        time.sleep(seconds)
        after, wall = self.sample(), time.monotonic() - t0
        self.idle_cps = {lb: max(0.0, (after[lb][1] - before[lb][1]) / wall) for lb in after}
        return dict(self.idle_cps)

    def user_sys(self) -> dict[str, tuple[float, float]]:
        """label -> (user, system) CPU seconds, each summed over the process and its children."""
        out = {}
        for lb, pids in self._pids(children_map()).items():
            us = [cpu_user_sys(p) for p in pids]
            out[lb] = (sum(u for u, _ in us), sum(s for _, s in us))
        return out

    def sample(self) -> dict[str, tuple[int, float]]:
        """label -> (RSS bytes, CPU seconds), each summed over the process and its children."""
        return {lb: (sum(map(rss_bytes, pids)), sum(map(cpu_seconds, pids)))
                for lb, pids in self._pids(children_map()).items()}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            tree = children_map()
            rss = {lb: sum(map(rss_bytes, pids)) for lb, pids in self._pids(tree).items()}
            with self._lock:
                for lb, u in self._current.items():
                    u.rss_peak = max(u.rss_peak, rss.get(lb, 0))

    @contextmanager
    def phase(self, name: str, labels: Collection[str] | None = None) -> Iterator[dict[str, ProcUse]]:
        """Measure `labels` (default: all) while the block runs; repeated names accumulate."""
        labels = list(self.procs) if labels is None else list(labels)
        before, us_before, t0 = self.sample(), self.user_sys(), time.monotonic()
        uses = self.phases.setdefault(name, {})
        for lb in labels:
            uses.setdefault(lb, ProcUse(lb, self.procs[lb], before[lb][0], before[lb][0],
                                        idle_cps=self.idle_cps.get(lb, 0.0)))
        with self._lock:
            self._current = {lb: uses[lb] for lb in labels}
        try:
            yield uses
        finally:
            after, us_after, wall = self.sample(), self.user_sys(), time.monotonic() - t0
            with self._lock:
                self._current = {}
            for lb in labels:
                uses[lb].rss_peak = max(uses[lb].rss_peak, after[lb][0])
                uses[lb].cpu_s += after[lb][1] - before[lb][1]
                uses[lb].cpu_user_s += us_after[lb][0] - us_before[lb][0]
                uses[lb].cpu_sys_s += us_after[lb][1] - us_before[lb][1]
                uses[lb].wall_s += wall


# ---- an ais-ray cluster, through the CLI ---------------------------------------------------------
@dataclass
class AisCluster:
    data_dir: str
    port: int
    targets: int = 2
    mountpaths: int = 2
    fsync: bool = True
    env: dict[str, str] | None = None  # extra environment of `ais-ray up` (so of the cluster's processes too)
    cwd: str | None = None
    nodes: int = 0  # > 1: the multi-node playground (`up --nodes`), one target per Ray node

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 300) -> str:
        # its own state dir: a benchmark's `up` must not become the user's "last cluster" (`ais-ray` with no
        # AIS_ENDPOINT would then look for it after the benchmark removed it). Run from beside the data dir,
        # never from the checkout: `python -m` puts the working directory first on sys.path, and the cluster's
        # processes (Ray passes the daemon's sys.path on) would import the checkout's ais_ray, not PYTHONPATH's
        # (an A/B of two trees through PYTHONPATH, run from the checkout, ran the checkout's tree twice)
        cwd = self.cwd or os.path.dirname(os.path.abspath(self.data_dir))
        p = subprocess.run([*AIS_RAY, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                           env={**os.environ, **(self.env or {}), "AIS_ENDPOINT": self.endpoint,
                                "XDG_STATE_HOME": f"{self.data_dir}.state"})
        if p.returncode != 0:
            raise RuntimeError(f"ais-ray {' '.join(args)} -> exit {p.returncode}\n{p.stdout}{p.stderr}")
        return p.stdout

    def up(self) -> None:
        self.cli("up", "--data-dir", self.data_dir, "--port", str(self.port), "--targets", str(self.targets),
                 "--mountpaths", str(self.mountpaths), *([] if self.fsync else ["--no-fsync"]),
                 *(["--nodes", str(self.nodes)] if self.nodes > 1 else []), timeout=600)

    def down(self) -> None:
        self.cli("down", "--data-dir", self.data_dir, timeout=180)

    def daemon_pid(self) -> int:
        with open(os.path.join(self.data_dir, "run", "state.json")) as f:
            return int(json.load(f)["pid"])

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/v1/daemon?what=stats", timeout=30) as r:
            return dict(json.load(r))

    def pids(self) -> dict[str, int]:
        """Target, mountpath, Serve proxy/replica and ais proxy processes, by label (`t1`, `t1/mp1`, `serve-proxy`)."""
        out: dict[str, int] = {}
        for tid, t in sorted(self.stats()["targets"].items()):
            out[tid] = int(t["pid"])
            for i, mp in enumerate(t["mountpaths"], 1):
                out[f"{tid}/mp{i}"] = int(mp["pid"])
        procs = [(p, actor_class(cmdline(p))) for p in descendants(self.daemon_pid())]
        for cls, label in ACTOR_LABELS:
            found = sorted(pid for pid, c in procs if c == cls)
            for n, pid in enumerate(found):
                out[label + (str(n + 1) if len(found) > 1 else "")] = pid
        return out


@contextmanager
def ais_cluster(data_dir: str, *, port: int = 0, targets: int = 2, mountpaths: int = 2, fsync: bool = True,
                env: dict[str, str] | None = None, cwd: str | None = None, nodes: int = 0) -> Iterator[AisCluster]:
    """`ais-ray up` in `data_dir` on a free port; `ais-ray down` however the block ends.

    `env` and `cwd` let a benchmark run a modified copy of ais_ray side by side with this one
    (`env={"PYTHONPATH": copy}`, `cwd` outside the repo, whose own ais_ray would come first).
    """
    c = AisCluster(data_dir, port or free_port(), max(targets, nodes), mountpaths, fsync, env, cwd, nodes)
    try:
        c.up()
        yield c
    finally:
        c.down()


@contextmanager
def side_by_side(root: str, base: str = "", **kw: Any) -> Iterator[dict[str, AisCluster]]:
    """`ais_cluster` of this tree ("this"), and with `base` (a dir holding another copy of the
    package, `git archive <rev> ais_ray | tar -x -C DIR`) one of that tree beside it ("base", first)."""
    with ExitStack() as stack:
        clusters: dict[str, AisCluster] = {}
        if base:
            env = {**(kw.get("env") or {}), "PYTHONPATH": os.path.abspath(base)}
            clusters["base"] = stack.enter_context(ais_cluster(os.path.join(root, "base"), cwd=root,
                                                               **{**kw, "env": env}))
        clusters["this"] = stack.enter_context(ais_cluster(os.path.join(root, "this"), **kw))
        yield clusters


def rfc3339_ts(value: str) -> float:
    """Seconds since the epoch of an AIS status time (`2026-12-04T23:28:01.123Z`); 0 for AIS's zero
    time or an unparsable one."""
    if not value or value.startswith("0001"):
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


# ---- timing ------------------------------------------------------------------------------------
@dataclass
class Measurement:
    """One timed run: `count` objects, `nbytes` in total, `seconds` of wall time."""

    count: int
    nbytes: int
    seconds: float

    @property
    def obj_s(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def mib_s(self) -> float:
        return self.nbytes / MIB / self.seconds if self.seconds else 0.0


class Stopwatch:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


def median_run(runs: Sequence[Measurement]) -> Measurement:
    """The run with the median throughput (an actual run, so its count and bytes stay consistent)."""
    ordered = sorted(runs, key=lambda m: m.seconds)
    return ordered[len(ordered) // 2]


def spread(values: Sequence[float], fmt: str = ".2f") -> str:
    """"median (min–max)", as the README's tables give repeated figures."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def summarize(runs: Sequence[Measurement]) -> dict[str, Any]:
    med = median_run(runs)
    return {"count": med.count, "bytes": med.nbytes, "seconds": med.seconds, "obj_s": med.obj_s,
            "total_bytes": sum(r.nbytes for r in runs),
            "mib_s": med.mib_s, "runs_mib_s": [r.mib_s for r in runs],
            "stdev_mib_s": statistics.pstdev([r.mib_s for r in runs]) if len(runs) > 1 else 0.0}


# ---- output ------------------------------------------------------------------------------------
def ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}×" if value and base else "—"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def machine_info(path: str) -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        mem_kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    fs = subprocess.run(["df", "--output=source,fstype", path], capture_output=True, text=True).stdout.split()
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
            "mem_gib": round(mem_kib / (1 << 20), 1), "kernel": platform.release(), "python": platform.python_version(),
            "filesystem": " ".join(fs[-2:]) if len(fs) >= 2 else "?", "loadavg_at_start": os.getloadavg()}


def publish(name: str, info: dict[str, Any], results: dict[str, Any], text: str) -> str:
    """Keep a run: `results` as benchmarks/out/<name>-<time>.json, the printed tables `text` beside it
    as .md, and one line (date, duration, load, path) on stderr; return the JSON path."""
    path = write_json(name, results)
    Path(path).with_suffix(".md").write_text(text)
    print(f"{info['date']}, {info['seconds']} s, load {info['loadavg_at_start']} -> {info['loadavg_at_end']}; {path}",
          file=sys.stderr)
    return path


def write_json(name: str, results: dict[str, Any]) -> str:
    """Write `results` to benchmarks/out/<name>-<UTC timestamp>.json; return the path."""
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, f"{name}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o))
    return path
