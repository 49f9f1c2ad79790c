"""The embedded cluster's keeper: owns a local Ray instance and the ais-ray actors on it.

`ais-ray up` starts this process detached; it starts Ray (`ray.init(address="local")`, so
another Ray on the machine is never joined or disturbed), deploys the cluster, writes
`<data-dir>/run/state.json` and waits. `ais-ray down` sends SIGTERM: the daemon removes the
Serve app and actors, and `ray.shutdown()` stops exactly the Ray processes it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback

from ais_ray.fs.store import write_file_atomic

log = logging.getLogger("ais-ray.daemon")


def state_path(data_dir: str) -> str:
    return os.path.join(data_dir, "run", "state.json")


def write_state(data_dir: str, **state: object) -> None:
    os.makedirs(os.path.dirname(state_path(data_dir)), exist_ok=True)
    write_file_atomic(state_path(data_dir), json.dumps(state, indent=1).encode(), fsync=False)


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

    from ais_ray.deploy import ClusterConfig, deploy, teardown

    cfg = ClusterConfig.load(args.data_dir)
    if cfg is None:
        print(f"no cluster config in {args.data_dir}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        loopback = cfg.host in ("127.0.0.1", "localhost")
        ctx = ray.init(address="local", namespace="ais", resources=cfg.node_resources(),
                       _node_ip_address="127.0.0.1" if loopback else None,
                       include_dashboard=args.dashboard, dashboard_host="127.0.0.1",
                       object_store_memory=args.object_store_mb << 20, log_to_driver=False,
                       logging_level=logging.WARNING)
        dashboard = f"http://{ctx.dashboard_url}" if args.dashboard and ctx.dashboard_url else ""
        deploy(cfg)
        write_state(args.data_dir, status="ready", pid=os.getpid(), mode="embedded", endpoint=cfg.endpoint,
                    ray_address=ctx.address_info["gcs_address"], dashboard=dashboard)
        log.info("ais-ray ready at %s", cfg.endpoint)
        stop.wait()
        log.info("stopping")
        teardown(cfg)
    except Exception as exc:
        traceback.print_exc()
        write_state(args.data_dir, status="failed", pid=os.getpid(), error=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        ray.shutdown()
    os.unlink(state_path(args.data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
