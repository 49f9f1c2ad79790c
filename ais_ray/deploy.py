"""Bring an ais-ray cluster up on a Ray cluster, and take it down (driver side, blocking).

A cluster is described by `ClusterConfig`, persisted as `<data-dir>/cluster.json` so that
`up` after `down` finds the same targets, mountpaths and uuid, hence the same HRW placement
and every object where it was.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import ray
import requests

from ais_ray.actors.proxy import PROXY_NAME, PROXY_RESOURCE, ProxyActor
from ais_ray.actors.target import NAMESPACE, TargetActor, actor_options, target_actor_name, target_resource
from ais_ray.core.errors import ErrBadRequest
from ais_ray.fs.store import write_file_atomic

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

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def proxy_dir(self) -> str:
        return os.path.join(self.data_dir, "proxy")

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

    def node_resources(self) -> dict[str, float]:
        """Custom resources of a single-machine (embedded) Ray node hosting every target."""
        return {PROXY_RESOURCE: 1.0, **{target_resource(t.tid): 1.0 for t in self.targets}}


def embedded_config(data_dir: str, *, targets: int, mountpaths: int | list[str], port: int, host: str,
                    fsync: bool = True) -> ClusterConfig:
    """The config of a local cluster: an existing one is reused (same ids, same disks)."""
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
    for t in cfg.targets:
        for mp in t.mountpaths:
            os.makedirs(mp, exist_ok=True)
    cfg.save()
    return cfg


def deploy(cfg: ClusterConfig, *, timeout: float = 180.0) -> dict[str, Any]:
    """Start (or re-attach to) proxy, targets and the Serve API; return the Smap."""
    from ray import serve

    from ais_ray.serve.app import AisApi

    proxy = ProxyActor.options(**actor_options(PROXY_NAME, PROXY_RESOURCE)).remote(
        cfg.proxy_dir, cfg.uuid, cfg.endpoint, [t.tid for t in cfg.targets])
    for t in cfg.targets:
        TargetActor.options(**actor_options(target_actor_name(t.tid), target_resource(t.tid))).remote(
            t.tid, t.mountpaths, cfg.host, cfg.fsync)
    smap = ray.get(proxy.join.remote(), timeout=timeout)
    serve.start(proxy_location="HeadOnly", http_options={"host": cfg.host, "port": cfg.port},
                logging_config={"enable_access_log": False})
    serve.run(AisApi.bind(), name=APP_NAME, route_prefix="/", blocking=False)
    wait_ready(cfg.endpoint, timeout=timeout)
    return smap


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
    """Stop exactly what `deploy` started: the Serve app, targets, mountpath workers, proxy."""
    from ray import serve

    try:
        serve.shutdown()
    except Exception:  # Serve never started: nothing to stop
        pass
    for t in cfg.targets:
        try:
            h = ray.get_actor(target_actor_name(t.tid), namespace=NAMESPACE)
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
