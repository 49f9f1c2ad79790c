"""The peers of the download benchmark: their command lines, and one timed run of a command.

A peer runs as a child process; `os.wait4` gives its exact peak RSS and CPU time (children it
waited for included), which no sampler can miss. A run that outlives its budget is killed by
its PID. Each peer writes into a fresh directory on the same filesystem as the cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlsources import DataSet, clean_env, s3_env, s5cmd_binary

HERE = Path(__file__).resolve().parent
TIME = "/usr/bin/time"  # GNU time (apt package `time`)


@dataclass
class ToolRun:
    seconds: float
    maxrss: int  # bytes
    cpu_s: float
    returncode: int
    timed_out: bool
    output_tail: str
    user_s: float = 0.0
    sys_s: float = 0.0


def run_measured(argv: list[str], env: dict[str, str], timeout: float, cwd: str) -> ToolRun:
    """Run `argv` to the end (or kill it after `timeout` s); wall time, peak RSS and CPU of the process.

    The command runs under GNU time, which forks it from its own small process: a child forked
    straight from this one would report this process's RSS as its peak (Linux keeps the
    pre-exec peak in ru_maxrss). Time and command get a process group of their own, so a
    timeout kills both.
    """
    rss_file = os.path.join(cwd, "maxrss")
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        p = subprocess.Popen([TIME, "-f", "%M", "-o", rss_file, "--", *argv], stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        lock, state = threading.Lock(), {"exited": False, "killed": False}

        def kill() -> None:
            with lock:  # the group leader is not reaped yet, so its PID (the group's id) is still ours
                if not state["exited"]:
                    os.killpg(p.pid, signal.SIGKILL)
                    state["killed"] = True

        timer = threading.Timer(timeout, kill)
        timer.start()
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        seconds = time.perf_counter() - t0
        with lock:
            state["exited"] = True
        timer.cancel()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(max(0, os.fstat(log.fileno()).st_size - 2000))
        tail = log.read().decode(errors="replace")
    try:
        with open(rss_file) as f:
            maxrss = int(f.read().split()[-1]) * 1024
    except (OSError, ValueError, IndexError):
        maxrss = 0
    return ToolRun(seconds, maxrss, ru.ru_utime + ru.ru_stime, p.returncode, state["killed"], tail,
                   ru.ru_utime, ru.ru_stime)


def tree_size(path: str) -> tuple[int, int]:
    """(files, bytes) under path."""
    files = nbytes = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            files += 1
            nbytes += os.stat(os.path.join(dirpath, n)).st_size
    return files, nbytes


@dataclass(frozen=True)
class Peer:
    """One row: a label and how to build the command (endpoint, data set, destination dir, work dir)."""

    label: str
    argv: Callable[[str, DataSet, str, str], list[str]]
    env: Callable[[str, str], dict[str, str]]  # (endpoint, work dir) -> environment


# ---- S3 --------------------------------------------------------------------------------------
def _s5cmd(workers: int = 0) -> Callable[[str, DataSet, str, str], list[str]]:
    def argv(ep: str, ds: DataSet, dest: str, _work: str) -> list[str]:
        opts = ["--numworkers", str(workers)] if workers else []
        return [s5cmd_binary(), "--endpoint-url", ep, "--log", "error", *opts, "cp", f"s3://{ds.name}/*", dest + "/"]
    return argv


def rclone_conf(ep: str, work: str, key: str = "S3RVER") -> str:
    """An rclone config with one S3 remote, `s3:`, at `ep` (s3rver's key by default)."""
    path = os.path.join(work, "rclone.conf")
    with open(path, "w") as f:
        f.write(f"[s3]\ntype = s3\nprovider = Other\naccess_key_id = {key}\nsecret_access_key = {key}\n"
                f"endpoint = {ep}\nregion = us-east-1\nforce_path_style = true\n")
    return path


def _rclone(*opts: str) -> Callable[[str, DataSet, str, str], list[str]]:
    def argv(ep: str, ds: DataSet, dest: str, work: str) -> list[str]:
        return ["rclone", "--config", rclone_conf(ep, work), "copy", f"s3:{ds.name}", dest, *opts]
    return argv


def _aws_argv(ep: str, ds: DataSet, dest: str, _work: str) -> list[str]:
    return [str(Path(sys.executable).with_name("aws")), "--endpoint-url", ep, "s3", "cp", "--recursive",
            "--only-show-errors", f"s3://{ds.name}", dest]


def _aws_env(concurrency: int = 0) -> Callable[[str, str], dict[str, str]]:
    def env(ep: str, work: str) -> dict[str, str]:
        path = os.path.join(work, f"aws-config-{concurrency}")
        with open(path, "w") as f:
            f.write("[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n"
                    + (f"  max_concurrent_requests = {concurrency}\n" if concurrency else ""))
        base = {k: v for k, v in s3_env(ep).items() if k != "AWS_ENDPOINT_URL"}
        return clean_env({**base, "AWS_CONFIG_FILE": path, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    return env


def _s3_env(ep: str, _work: str) -> dict[str, str]:
    return clean_env(s3_env(ep))


def s3_peers(equal: int, ds: DataSet) -> list[Peer]:
    peers = [
        Peer("s5cmd (default: 256 workers)", _s5cmd(), _s3_env),
        Peer(f"s5cmd --numworkers {equal}", _s5cmd(equal), _s3_env),
        Peer("rclone (default: --transfers 4)", _rclone(), _s3_env),
        Peer(f"rclone --transfers {equal}", _rclone("--transfers", str(equal)), _s3_env),
        Peer("aws s3 cp (default: 10 requests)", _aws_argv, _aws_env()),
        Peer(f"aws s3 cp, max_concurrent_requests {equal}", _aws_argv, _aws_env(equal)),
    ]
    if ds.size >= 16 << 20:  # rclone splits a file only above --multi-thread-cutoff (250 MiB by default)
        peers.insert(4, Peer(f"rclone --transfers {equal} --multi-thread-streams 8 --multi-thread-cutoff 16M",
                             _rclone("--transfers", str(equal), "--multi-thread-streams", "8",
                                     "--multi-thread-cutoff", "16M"), _s3_env))
    return peers


# ---- HTTP ------------------------------------------------------------------------------------
def _fetcher(concurrency: int) -> Callable[[str, DataSet, str, str], list[str]]:
    def argv(ep: str, ds: DataSet, dest: str, _work: str) -> list[str]:
        return [sys.executable, str(HERE / "dlfetch.py"), "--url", f"{ep}/{ds.name}/obj-", "--count", str(ds.count),
                "--width", str(ds.width), "--out", dest, "-c", str(concurrency)]
    return argv


def _curl(parallel: int = 0) -> Callable[[str, DataSet, str, str], list[str]]:
    def argv(ep: str, ds: DataSet, dest: str, work: str) -> list[str]:
        cfg = os.path.join(work, f"curl-{ds.name}.cfg")
        with open(cfg, "w") as f:
            for i in range(ds.count):
                f.write(f'url = "{ep}/{ds.name}/{ds.obj(i)}"\noutput = "{dest}/{ds.obj(i)}"\n')
        opts = ["--parallel-max", str(parallel)] if parallel else []
        return [shutil.which("curl") or "curl", "--parallel", *opts, "--silent", "--show-error", "--fail", "-K", cfg]
    return argv


def _rclone_http(*opts: str) -> Callable[[str, DataSet, str, str], list[str]]:
    """rclone's `:http:` backend: lists the directory from the source's index page, HEADs each
    file while listing (its default), then GETs them (no fsync, as curl)."""
    def argv(ep: str, ds: DataSet, dest: str, work: str) -> list[str]:
        conf = os.path.join(work, "rclone-http.conf")
        open(conf, "w").close()
        return ["rclone", "--config", conf, "copy", "--http-url", f"{ep}/{ds.name}/", ":http:", dest, *opts]
    return argv


def _plain_env(_ep: str, _work: str) -> dict[str, str]:
    return clean_env()


def http_peers(equal: int) -> list[Peer]:
    return [
        Peer("asyncio fetcher (default: 16 in flight)", _fetcher(16), _plain_env),
        Peer(f"asyncio fetcher, {equal} in flight", _fetcher(equal), _plain_env),
        Peer("curl --parallel (default: 50)", _curl(), _plain_env),
        Peer(f"curl --parallel --parallel-max {equal}", _curl(equal), _plain_env),
        Peer("rclone (default: --transfers 4)", _rclone_http(), _plain_env),
        Peer(f"rclone --transfers {equal}", _rclone_http("--transfers", str(equal)), _plain_env),
    ]
