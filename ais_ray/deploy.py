"""Bring an ais-ray cluster up on a Ray cluster, and take it down (driver side, blocking).

A cluster is described by `ClusterConfig`, persisted as `<data-dir>/cluster.json` so that
`up` after `down` finds the same targets, mountpaths and uuid, hence the same HRW placement
and every object where it was. The local playground (`ais-ray up --nodes N`) runs targets
t2..tN on extra raylets of this machine (`ray start --block` processes, see `start_raylet`),
one node each, so that a node can be killed and brought back like a machine.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import ray
import requests

from ais_ray.actors.proxy import PROXY_RESOURCE, ProxyActor
from ais_ray.core.nodes import PROXY_NAME
from ais_ray.actors.target import NAMESPACE, TargetActor, actor_options, target_actor_name
from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.nodes import JoinPolicy, target_resource
from ais_ray.fs.store import write_file_atomic

log = logging.getLogger("ais-ray.deploy")
APP_NAME = "ais"
CONFIG_FILE = "cluster.json"


@dataclass
class TargetSpec:
    tid: str
    mountpaths: list[str]


@dataclass
class ClusterConfig:
    data_dir: str
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    host: str = "127.0.0.1"
    port: int = 8080
    targets: list[TargetSpec] = field(default_factory=list)
    fsync: bool = True
    nodes: int = 1  # Ray nodes of the local playground: the head (proxy, t1) plus one raylet per other target

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def proxy_dir(self) -> str:
        return os.path.join(self.data_dir, "proxy")

    @property
    def log_dir(self) -> str:
        """Every node's log, `<log_dir>/<node>/` on the node's own machine (core/nodelog.py)."""
        return os.path.join(self.data_dir, "log")

    def save(self) -> None:
        os.makedirs(self.data_dir, exist_ok=True)
        write_file_atomic(os.path.join(self.data_dir, CONFIG_FILE), json.dumps(asdict(self), indent=1).encode())

    @classmethod
    def load(cls, data_dir: str) -> ClusterConfig | None:
        path = os.path.join(data_dir, CONFIG_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            d = json.load(f)
        d["targets"] = [TargetSpec(**t) for t in d["targets"]]
        return cls(**d)

    def raylet_targets(self) -> list[str]:
        """Targets that get a raylet of their own (`--nodes N`: t2..tN); the head hosts the rest."""
        return [t.tid for t in self.targets[1:max(self.nodes, 1)]]

    def node_resources(self) -> dict[str, float]:
        """Custom resources of the embedded head node: the proxy and every target without a raylet."""
        own = set(self.raylet_targets())
        return {PROXY_RESOURCE: 1.0, **{target_resource(t.tid): 1.0 for t in self.targets if t.tid not in own}}

    def join_policy(self) -> JoinPolicy:
        """How a node that joins later (`ray start ... ais_target_<id>`) is set up: like these targets."""
        n = len(self.targets[0].mountpaths) if self.targets else 2
        return JoinPolicy(root=self.data_dir, mountpaths=n, host=self.host, fsync=self.fsync, log_dir=self.log_dir)


def embedded_config(data_dir: str, *, targets: int, mountpaths: int | list[str], port: int, host: str,
                    fsync: bool = True, nodes: int | None = None) -> ClusterConfig:
    """The config of a local cluster: an existing one is reused (same ids, same disks).

    `nodes`: Ray nodes of the playground (None: as the existing config says, else 1).
    """
    data_dir = os.path.abspath(data_dir)
    cfg = ClusterConfig.load(data_dir)
    if cfg is None:
        cfg = ClusterConfig(data_dir=data_dir, fsync=fsync)
        for i in range(1, targets + 1):
            tid = f"t{i}"
            if isinstance(mountpaths, int):
                mps = [os.path.join(data_dir, tid, f"mp{j}") for j in range(1, mountpaths + 1)]
            else:  # explicit directories: split them among targets round-robin
                mps = [os.path.abspath(p) for p in mountpaths[i - 1 :: targets]]
            if not mps:
                raise ErrBadRequest(f"target {tid} would have no mountpaths ({len(mountpaths)} dirs for {targets} targets)")
            cfg.targets.append(TargetSpec(tid, mps))
    cfg.port, cfg.host = port, host
    cfg.nodes = max(1, min(cfg.nodes if nodes is None else nodes, len(cfg.targets)))
    for t in cfg.targets:
        for mp in t.mountpaths:
            os.makedirs(mp, exist_ok=True)
    cfg.save()
    return cfg


def deploy(cfg: ClusterConfig, *, timeout: float = 180.0) -> dict[str, Any]:
    """Start (or re-attach to) proxy, targets and the Serve API; return the Smap."""
    from ray import serve

    from ais_ray.serve.app import AisApi
    from ais_ray.serve.frontdoor import FRONT_DOOR_NAME, FrontDoor, front_door_options

    t0 = time.monotonic()
    proxy = ProxyActor.options(**actor_options(PROXY_NAME, PROXY_RESOURCE)).remote(
        cfg.proxy_dir, cfg.uuid, cfg.endpoint, [t.tid for t in cfg.targets], cfg.join_policy(), cfg.log_dir)
    for t in cfg.targets:
        TargetActor.options(**actor_options(target_actor_name(t.tid), target_resource(t.tid))).remote(
            t.tid, t.mountpaths, cfg.host, cfg.fsync, cfg.log_dir)
    # Serve on an internal port; the public one is the front door's (serve/frontdoor.py), which
    # answers object requests itself and passes every other route to Serve. Both start while the
    # targets and their mountpath workers do (each a process of its own): `up` waits for the
    # slowest, not for the sum.
    serve_url = f"http://127.0.0.1:{free_port(avoid=(cfg.port,))}"
    _kill_named(FRONT_DOOR_NAME)  # one left by an earlier deploy on this Ray points at an old Serve port
    door = FrontDoor.options(**front_door_options(PROXY_RESOURCE)).remote(cfg.host, cfg.port, serve_url, cfg.log_dir)
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": int(serve_url.rsplit(":", 1)[1])},
                logging_config={"enable_access_log": False})
    serve.run(AisApi.bind(cfg.log_dir), name=APP_NAME, route_prefix="/", blocking=False)
    smap = ray.get(proxy.join.remote(), timeout=timeout)
    log.info("proxy and %d targets joined in %.1fs", len(cfg.targets), time.monotonic() - t0)
    wait_ready(serve_url, timeout=timeout)
    log.info("Serve app ready in %.1fs", time.monotonic() - t0)
    ray.get(door.ready.remote(), timeout=timeout)
    wait_ready(cfg.endpoint, timeout=timeout)
    log.info("front door ready in %.1fs", time.monotonic() - t0)
    return smap


def _kill_named(name: str) -> None:
    try:
        ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
    except ValueError:
        pass


def wait_ready(endpoint: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"{endpoint}/v1/health", timeout=5)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    raise TimeoutError(f"{endpoint} not ready after {timeout:.0f}s ({last})")


def teardown(cfg: ClusterConfig) -> None:
    """Stop what `deploy` started and the proxy added: the Serve app, targets (those that joined
    later too), mountpath workers, proxy."""
    from ray import serve

    from ais_ray.serve.frontdoor import FRONT_DOOR_NAME

    t0 = time.monotonic()
    _kill_named(FRONT_DOOR_NAME)
    try:
        serve.shutdown()
    except Exception:  # Serve never started: nothing to stop
        pass
    log.info("Serve stopped in %.1fs", time.monotonic() - t0)
    tids = [t.tid for t in cfg.targets]
    try:
        smap = ray.get(ray.get_actor(PROXY_NAME, namespace=NAMESPACE).get_meta.remote(), timeout=30)[0]
        tids += [t for t in smap.targets if t not in tids]
    except Exception:  # no proxy (a failed start): the configured targets only
        pass
    for tid in tids:
        try:
            h = ray.get_actor(target_actor_name(tid), namespace=NAMESPACE)
        except ValueError:
            continue
        try:
            ray.get(h.shutdown_mountpaths.remote(), timeout=30)
        finally:
            ray.kill(h, no_restart=True)
    try:
        ray.kill(ray.get_actor(PROXY_NAME, namespace=NAMESPACE), no_restart=True)
    except ValueError:
        pass
    log.info("torn down in %.1fs", time.monotonic() - t0)


# ---- local raylets (the playground's extra nodes) ----------------------------------------------
RAYLETS_FILE = "raylets.json"
RAYLET_OBJECT_STORE = 96 << 20
RAYLET_START_TIMEOUT = 90.0
RAYLET_STARTED = b"Ray runtime started"  # what `ray start` prints once its node is registered


def raylet_command(gcs_address: str, tid: str, *, host: str = "127.0.0.1", avoid: Collection[int] = ()) -> list[str]:
    """`ray start` of one more node on this machine hosting target `tid` (its resource only:
    no CPUs, so Ray schedules nothing else there); `--block` keeps it a child we can stop by PID."""
    # Several raylets on one host: each gets its own ports (Ray's defaults would collide).
    ports = [f"--{opt}={free_port(avoid)}" for opt in _RAYLET_PORTS]
    return [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())",
            "start", f"--address={gcs_address}", f"--resources={json.dumps({target_resource(tid): 1})}",
            "--num-cpus=0", f"--node-ip-address={host}", f"--object-store-memory={RAYLET_OBJECT_STORE}",
            *ports, "--block", "--disable-usage-stats"]


_RAYLET_PORTS = ("node-manager-port", "object-manager-port", "metrics-export-port", "dashboard-agent-listen-port",
                 "dashboard-agent-grpc-port", "runtime-env-agent-port")


def free_port(avoid: Collection[int] = ()) -> int:
    """A port free on every interface (Ray's agents bind 0.0.0.0), never one of `avoid`: the API
    port `up` was given is free until the front door binds it, and must not go to a raylet or Serve."""
    held: list[socket.socket] = []  # each port drawn stays bound until one is returned: no redraw
    try:
        while True:
            s = socket.socket()
            held.append(s)
            s.bind(("", 0))
            port = int(s.getsockname()[1])
            if port not in avoid:
                return port
    finally:
        for s in held:
            s.close()


def raylet_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a raylet this process starts: `base` (default: this process's), whose
    actors' backends read their credentials and endpoints from it, plus what Ray needs."""
    # Ray 2.60 local clusters use token auth (~/.ray/auth_token): a joining node must too. On a
    # busy machine a raylet's agents can take longer to start than Ray waits by default.
    env = dict(os.environ if base is None else base)
    return {**env, "RAY_AUTH_MODE": env.get("RAY_AUTH_MODE", "token"),
            "RAY_agent_register_timeout_ms": env.get("RAY_agent_register_timeout_ms", "180000")}


def start_raylet(run_dir: str, gcs_address: str, tid: str, *, host: str = "127.0.0.1", attempts: int = 5,
                 timeout: float = RAYLET_START_TIMEOUT, env: Mapping[str, str] | None = None,
                 avoid: Collection[int] = ()) -> int:
    """Start the raylet of `tid` in its own session (a process group to stop), record its PID and
    return once its node is up; `env`: its environment (`raylet_env`), this process's by default;
    `avoid`: ports its own must not be (the API port while `up` starts).
    Start raylets one at a time (together they race for socket names); a start that fails — a lost
    race for a port, or on a machine so busy that the raylet gives up waiting for its own agents (Ray
    2.60 waits ~15 s) — is retried with new ports.

    Raises:
        RuntimeError: the node did not come up (its log is `<run_dir>/raylet-<tid>.log`).
    """
    os.makedirs(run_dir, exist_ok=True)
    log_path = os.path.join(run_dir, f"raylet-{tid}.log")
    for attempt in range(1, attempts + 1):
        offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(raylet_command(gcs_address, tid, host=host, avoid=avoid), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=raylet_env(env))
        pids = recorded_raylets(run_dir)
        pids[tid] = proc.pid
        write_file_atomic(os.path.join(run_dir, RAYLETS_FILE), json.dumps(pids).encode(), fsync=False)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            with open(log_path, "rb") as f:
                f.seek(offset)
                if RAYLET_STARTED in f.read():
                    return proc.pid
            time.sleep(0.3)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            raise RuntimeError(f"the raylet of {tid} did not start within {timeout:.0f}s; see {log_path}")
    raise RuntimeError(f"the raylet of {tid} exited {attempts} times; see {log_path}")


def recorded_raylets(run_dir: str) -> dict[str, int]:
    try:
        with open(os.path.join(run_dir, RAYLETS_FILE)) as f:
            return {str(k): int(v) for k, v in json.load(f).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _is_raylet(pid: int) -> bool:
    """Whether `pid` is (still) one of our `ray start` processes, not a reused PID."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except OSError:
        return False
    return b"ray.scripts.scripts" in cmd and b"start" in cmd


def stop_raylets(run_dir: str, *, timeout: float = 30.0) -> list[str]:
    """Stop every raylet this data dir's playground started (SIGTERM to its process group, then
    SIGKILL); the tids stopped. Only recorded PIDs that are still our `ray start` are signalled."""
    pids = {tid: pid for tid, pid in recorded_raylets(run_dir).items() if _is_raylet(pid)}
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(_is_raylet(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids.values():
        if _is_raylet(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.unlink(os.path.join(run_dir, RAYLETS_FILE))
    except FileNotFoundError:
        pass
    return list(pids)
