"""`ais-ray up`, `down`, `show cluster`."""

from __future__ import annotations

import argparse
import json
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from ais_ray.auth.gate import ENV_SECRET_FILE, secret_path
from ais_ray.auth.tokens import load_or_create_secret
from ais_ray.backends.guard import ENV_DENY
from ais_ray.cli.common import CliError, default_data_dir, print_json, print_table, run
from ais_ray.cli.perf_cmds import dashboard_hint
from ais_ray.cli.daemon import last_data_dir, pid_alive, read_state, remember_last, running, state_path, write_state
from ais_ray.core.netpolicy import NetPolicy
from ais_ray.client import AisClient
from ais_ray.core.sizes import format_size, parse_size
from ais_ray.core.smap import FLAG_DECOMMISSION, FLAG_MAINTENANCE
from ais_ray.stats.status import fs_pct_used, fs_totals

UP_TIMEOUT = 240.0
UP_TIMEOUT_PER_RAYLET = 120.0  # the playground starts its raylets one after another
DOWN_TIMEOUT = 90.0


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _parse_mountpaths(text: str) -> int | list[str]:
    if text.isdigit():
        if int(text) < 1:
            raise CliError("--mountpaths must be at least 1")
        return int(text)
    return [p for p in (s.strip() for s in text.split(",")) if p]


def cmd_up(args: argparse.Namespace) -> int:
    data_dir = os.path.abspath(args.data_dir or default_data_dir())
    if args.nodes is not None:
        if args.nodes < 1 or args.address:
            raise CliError("--nodes must be at least 1 and is for the local playground (not with --address)")
        args.targets = args.nodes
    if args.targets < 1:
        raise CliError("--targets must be at least 1")
    deny = NetPolicy.parse(args.download_deny) if args.download_deny is not None else None
    if args.address:
        return _up_attached(args, data_dir)
    st = running(data_dir)
    if st is not None:
        remember_last(data_dir)  # the one the user just pointed at: the next commands find it
        print(f"ais-ray is already running at {st['endpoint']} (data dir {data_dir})")
        return 0
    if not _port_free(args.host, args.port):
        raise CliError(f"{args.host}:{args.port} is in use; pick another with --port")
    from ais_ray.deploy import embedded_config

    cfg = embedded_config(data_dir, targets=args.targets, mountpaths=_parse_mountpaths(args.mountpaths),
                          port=args.port, host=args.host, fsync=not args.no_fsync, nodes=args.nodes)
    if len(cfg.targets) != args.targets:
        print(f"note: reusing the existing cluster in {data_dir} ({len(cfg.targets)} targets)", file=sys.stderr)
    os.makedirs(os.path.join(data_dir, "run"), exist_ok=True)
    if os.path.exists(state_path(data_dir)):
        os.unlink(state_path(data_dir))
    log_path = os.path.join(data_dir, "run", "daemon.log")
    cmd = [sys.executable, "-m", "ais_ray.cli.daemon", "--data-dir", data_dir] + (["--dashboard"] if args.dashboard else [])
    env = dict(os.environ)
    if deny is not None:  # every Ray process of the daemon inherits it (backends/guard.py)
        env[ENV_DENY] = str(deny)
    env.pop(ENV_SECRET_FILE, None)
    env.update(guard_env(args, data_dir))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env)
    nodes = f" on {cfg.nodes} Ray nodes" if cfg.nodes > 1 else ""
    print(f"starting ais-ray: {len(cfg.targets)} targets x {len(cfg.targets[0].mountpaths)} mountpaths{nodes}, data in {data_dir}")
    up_timeout = UP_TIMEOUT + UP_TIMEOUT_PER_RAYLET * (cfg.nodes - 1)
    deadline = time.monotonic() + up_timeout
    while time.monotonic() < deadline:
        st = read_state(data_dir)
        if st and st.get("pid") == proc.pid:
            if st["status"] == "ready":
                remember_last(data_dir)
                print(f"ais-ray is up at {st['endpoint']}" + (f" (dashboard {st['dashboard']})" if st.get("dashboard") else ""))
                if st.get("dashboard"):
                    print("\n".join(dashboard_hint(st["dashboard"])))
                if st["endpoint"] != "http://127.0.0.1:8080":
                    print(f"  other ais-ray commands find it (the last cluster `up` started); "
                          f"elsewhere: export AIS_ENDPOINT={st['endpoint']}")
                return 0
            raise CliError(f"ais-ray failed to start: {st.get('error')} (log: {log_path})")
        if proc.poll() is not None:
            raise CliError(f"ais-ray failed to start (exit {proc.returncode}); last lines of {log_path}:\n{_tail(log_path)}")
        time.sleep(0.3)
    os.kill(proc.pid, signal.SIGTERM)
    raise CliError(f"ais-ray did not start within {up_timeout:.0f}s; see {log_path}")


def guard_env(args: argparse.Namespace, data_dir: str) -> dict[str, str]:
    """`--auth` (the secret, created once, 0600) and `--max-body`, for every Ray process of the
    cluster; a warning when the API would listen beyond loopback with nobody checked."""
    from ais_ray.serve.bodylimit import ENV_MAX_BODY  # (Serve and Ray load only for `up`)

    env: dict[str, str] = {}
    if args.max_body:
        parse_size(args.max_body, units="iec")  # a bad size fails `up`, not the API
        env[ENV_MAX_BODY] = args.max_body
    if args.auth:
        path = secret_path(data_dir)
        load_or_create_secret(path)
        os.chmod(path, 0o600)
        env[ENV_SECRET_FILE] = path
        print(f"auth: on (tokens: `ais-ray auth token --user NAME --access ro|rw|admin --data-dir {data_dir}`)")
    elif not _is_loopback(args.host):
        print(f"WARNING: ais-ray will listen on {args.host} without authentication: anyone who can reach it can "
              "read, write and delete every object. Use `ais-ray up --auth`, or keep --host on 127.0.0.1.",
              file=sys.stderr)
    return env


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _tail(path: str, n: int = 15) -> str:
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-n:])


def _up_attached(args: argparse.Namespace, data_dir: str) -> int:
    """Deploy onto an existing Ray cluster (e.g. one made by `ray up cluster.yaml`)."""
    # Ray 2.60's `ray start` enables token auth; a driver must then send the token (~/.ray/auth_token).
    # Ray reads this when imported.
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray

    from ais_ray.deploy import ClusterConfig, TargetSpec, deploy, teardown

    ray.init(address=args.address, namespace="ais", log_to_driver=False)
    prefix = "ais_target_"
    tids = sorted(k[len(prefix):] for k in ray.cluster_resources() if k.startswith(prefix))
    if not tids:
        raise CliError("no Ray node advertises an `ais_target_<id>` resource; start Ray with e.g. "
                       "--resources='{\"ais_target_t1\": 1, \"ais_proxy\": 1}' (see cluster.yaml)")
    cfg = ClusterConfig.load(data_dir) or ClusterConfig(data_dir=data_dir)
    mps = args.mountpaths.split(",") if not args.mountpaths.isdigit() else [
        os.path.join(data_dir, f"mp{j}") for j in range(1, int(args.mountpaths) + 1)]
    cfg.targets = [TargetSpec(tid, mps) for tid in tids]
    cfg.host, cfg.port = args.host, args.port
    cfg.save()
    try:
        deploy(cfg)
    except BaseException:
        teardown(cfg)  # no half-deployed cluster left restarting in the background
        raise
    write_state(data_dir, status="ready", pid=0, mode="attached", endpoint=cfg.endpoint, ray_address=args.address)
    remember_last(data_dir)  # as a local `up` does: the next commands (and a plain `down`) find this one
    print(f"ais-ray is up at {cfg.endpoint} on Ray cluster {args.address} ({len(tids)} targets)")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    data_dir = os.path.abspath(args.data_dir or default_data_dir())
    st = read_state(data_dir)
    if not args.data_dir and not os.environ.get("AIS_RAY_DATA_DIR"):
        # plain `down` (no --data-dir, no AIS_RAY_DATA_DIR): the cluster `up` started last, as every other
        # command finds it. A data dir named either way is that cluster's, never another one started later.
        last = last_data_dir()
        if last and os.path.abspath(last) != data_dir:
            print(f"stopping the cluster started last, in {last}")
            data_dir, st = last, read_state(last)
    if not st:
        print(f"no ais-ray cluster is running from {data_dir}")
        return 0
    if st.get("mode") == "attached":
        os.environ.setdefault("RAY_AUTH_MODE", "token")  # before Ray is imported: see _up_attached
        import ray

        from ais_ray.deploy import ClusterConfig, teardown

        ray.init(address=st["ray_address"], namespace="ais", log_to_driver=False)
        cfg = ClusterConfig.load(data_dir)
        if cfg:
            teardown(cfg)
        os.unlink(state_path(data_dir))
        print("ais-ray stopped (the Ray cluster keeps running)")
        return 0
    pid = int(st["pid"])
    if not pid_alive(pid):
        os.unlink(state_path(data_dir))
        _stop_left_raylets(data_dir)
        print("ais-ray was not running (stale state removed)")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        raise CliError(f"ais-ray (pid {pid}) did not stop within {DOWN_TIMEOUT:.0f}s; see {data_dir}/run/daemon.log")
    if read_state(data_dir) is not None:  # the daemon died before it could say so: no stale "ready"
        os.unlink(state_path(data_dir))
    _stop_left_raylets(data_dir)
    print("ais-ray stopped")
    return 0


def _stop_left_raylets(data_dir: str) -> None:
    """Playground raylets a daemon left behind (it was killed): stopped by their recorded PIDs."""
    from ais_ray.deploy import stop_raylets

    if left := stop_raylets(os.path.dirname(state_path(data_dir))):
        print(f"stopped the raylets of {', '.join(left)}")


def cmd_show_cluster(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        info = await c.cluster_stats()
        if args.json:
            print_json(info)
            return 0
        smap = info["smap"]
        rows = []
        n_mp = 0
        for tid, t in sorted(info["targets"].items()):
            if "error" in t:
                rows.append([tid, "-", "-", "-", "-", "offline: " + t["error"][:60]])
                continue
            used, avail = fs_totals(t["mountpaths"])
            n_mp += len(t["mountpaths"])
            pct = fs_pct_used(t["mountpaths"])  # as `show performance capacity` counts it
            flags = int(smap["tmap"].get(tid, {}).get("flags", 0))
            state = "decommissioning" if flags & FLAG_DECOMMISSION else "maintenance" if flags & FLAG_MAINTENANCE else "online"
            rows.append([tid, len(t["mountpaths"]), f"{format_size(used)} ({pct:.0f}%)", format_size(avail), t["url"], state])
        print_table(["TARGET", "MOUNTPATHS", "CAP USED(%)", "CAP AVAIL", "DATA URL", "STATUS"], rows)
        print()
        for tid, t in sorted(info["targets"].items()):
            for m in t.get("mountpaths", []):
                print(f"  {tid}  {m['path']}  {m['url']}  used {format_size(m['used'])}, free {format_size(m['avail'])}")
        total_used, total_avail = fs_totals(m for t in info["targets"].values() for m in t.get("mountpaths", []))
        print("\nSummary:")
        print(f"  Proxy:     {smap['proxy_si']['public_net']['direct_url']}")
        print(f"  Targets:   {len(smap['tmap'])} (total mountpaths: {n_mp})")
        print(f"  Capacity:  used {format_size(total_used)}, available {format_size(total_avail)}")
        print(f"  Smap:      version {smap['version']}, UUID {smap['uuid']}")
        return 0

    return run(go)


def flatten(conf: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """`{"log": {"level": "3"}}` -> `[("log.level", "3")]`, as `ais config cluster` lists a config."""
    rows: list[tuple[str, str]] = []
    for key, value in conf.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten(value, name + ".")
        else:
            rows.append((name, json.dumps(value) if isinstance(value, (bool, list)) else str(value)))
    return rows


def cmd_config_cluster(args: argparse.Namespace) -> int:
    """`ais config cluster [SECTION] [--json]`: the cluster's configuration (read-only here)."""
    sets = [a for a in args.what if "=" in a]
    if sets or len(args.what) > 1:
        raise CliError(f"cannot set {' '.join(args.what)}: the cluster configuration is read-only here (it follows "
                       "from `ais-ray up` options and bucket properties: `ais-ray bucket props set`)")
    section = args.what[0] if args.what else ""

    async def go(c: AisClient) -> int:
        conf = json.loads((await c.request("GET", "cluster", params={"what": "config"}))[2])
        if section:
            top = section.split(".", 1)[0]
            if top not in conf:
                raise CliError(f'no "{section}" in the cluster configuration (sections: {", ".join(conf)})')
            rows = [r for r in flatten(conf) if r[0] == section or r[0].startswith(section + ".")]
            if not rows:
                raise CliError(f'no "{section}" in the cluster configuration')
            if args.json:
                value = conf
                for part in section.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                print_json({section: value})
                return 0
        else:
            if args.json:
                print_json(conf)
                return 0
            rows = flatten(conf)
        print_table(["PROPERTY", "VALUE"], rows)
        return 0

    return run(go)
