"""The embedded cluster's keeper: owns a local Ray instance and the ais-ray actors on it.

`ais-ray up` starts this process detached; it starts Ray (`ray.init(address="local")`, so
another Ray on the machine is never joined or disturbed), deploys the cluster, writes
`<data-dir>/run/state.json` and waits. `ais-ray down` sends SIGTERM: the daemon removes the
Serve app and actors, and `ray.shutdown()` stops exactly the Ray processes it started.

The playground (`up --nodes N`) also starts N-1 raylets on this machine (`deploy.start_raylet`,
PIDs in `<data-dir>/run/raylets.json`), one per target t2..tN, before deploying, and stops them
by PID after the teardown (`down` stops any that outlived a crashed daemon).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback

from ais_ray.fs.store import write_file_atomic

log = logging.getLogger("ais-ray.daemon")


def state_path(data_dir: str) -> str:
    return os.path.join(data_dir, "run", "state.json")


def write_state(data_dir: str, **state: object) -> None:
    os.makedirs(os.path.dirname(state_path(data_dir)), exist_ok=True)
    write_file_atomic(state_path(data_dir), json.dumps(state, indent=1).encode(), fsync=False)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def last_path() -> str:
    """Where `up` notes the data dir of the cluster it started last (per user, like a shell's
    history), so the next command in any shell finds it without AIS_ENDPOINT."""
    home = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(home, "ais-ray", "last.json")


def remember_last(data_dir: str) -> None:
    os.makedirs(os.path.dirname(last_path()), exist_ok=True)
    write_file_atomic(last_path(), json.dumps({"data_dir": data_dir}).encode(), fsync=False)


def last_data_dir() -> str | None:
    """The data dir of the cluster `up` started last, if it is still running."""
    try:
        with open(last_path()) as f:
            data_dir = str(json.load(f)["data_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data_dir if running(data_dir) else None


def running(data_dir: str) -> dict[str, object] | None:
    """The state of the cluster running from `data_dir` (ready, its daemon alive), else None."""
    st = read_state(data_dir)
    if not st or st.get("status") != "ready":
        return None
    try:
        alive = st.get("mode") == "attached" or pid_alive(int(str(st.get("pid", 0))))
    except ValueError:
        return None
    return st if alive else None


def read_state(data_dir: str) -> dict[str, object] | None:
    try:
        with open(state_path(data_dir)) as f:
            return dict(json.load(f))
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ais-ray-daemon")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--dashboard", action="store_true")
    p.add_argument("--object-store-mb", type=int, default=512)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    import ray

    from ais_ray.deploy import ClusterConfig, deploy, start_raylet, stop_raylets, teardown

    cfg = ClusterConfig.load(args.data_dir)
    if cfg is None:
        print(f"no cluster config in {args.data_dir}", file=sys.stderr)
        return 1
    stop = threading.Event()
    run_dir = os.path.dirname(state_path(args.data_dir))
    try:
        loopback = cfg.host in ("127.0.0.1", "localhost")
        # A playground node that dies is declared dead after 1 s x 5 missed health checks (Ray's
        # default: 3 s x 5); its target's actors then restart when a node with its resource returns.
        system = {"health_check_period_ms": 1000, "health_check_failure_threshold": 5,
                  "agent_register_timeout_ms": 180000} if cfg.nodes > 1 else None
        t0 = time.monotonic()
        ctx = ray.init(address="local", namespace="ais", resources=cfg.node_resources(),
                       _node_ip_address="127.0.0.1" if loopback else None,
                       include_dashboard=args.dashboard, dashboard_host="127.0.0.1",
                       object_store_memory=args.object_store_mb << 20, log_to_driver=False,
                       logging_level=logging.WARNING, _system_config=system)
        # After ray.init: Ray's core worker installs a fatal-signal handler for SIGTERM (a stack
        # dump, then death before teardown); ours must be the one that runs.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        log.info("Ray started in %.1fs", time.monotonic() - t0)
        dashboard = f"http://{ctx.dashboard_url}" if args.dashboard and ctx.dashboard_url else ""
        gcs = ctx.address_info["gcs_address"]
        stop_raylets(run_dir)  # left over from a daemon that died: never two nodes with one target
        # one at a time: raylets starting together race for socket names
        pids = {tid: start_raylet(run_dir, gcs, tid, host=cfg.host, avoid=(cfg.port,)) for tid in cfg.raylet_targets()}
        deploy(cfg)
        write_state(args.data_dir, status="ready", pid=os.getpid(), mode="embedded", endpoint=cfg.endpoint,
                    ray_address=gcs, dashboard=dashboard, nodes=cfg.nodes, raylets=pids)
        log.info("ais-ray ready at %s", cfg.endpoint)
        stop.wait()
        log.info("stopping")
        teardown(cfg)
    except Exception as exc:
        traceback.print_exc()
        write_state(args.data_dir, status="failed", pid=os.getpid(), error=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        stop_raylets(run_dir)
        ray.shutdown()
    os.unlink(state_path(args.data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
