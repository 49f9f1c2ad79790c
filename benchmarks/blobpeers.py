"""The blob benchmark's sources and peers: link settings, a latency proxy for s3rver, one-object peer commands.

The link (per-connection rate and first-byte delay) is switched at run time on both sources,
so one cluster and one set of connection pools serve every cell:
  HTTP  `httpsrc` paces its own sockets and delays its own first byte (`POST /_faults`)
  S3    s3rver (Node, cannot pace) behind `ais_ray/testing/linkproxy.py` (`LinkProxy`): a rate cap
        and a first-byte delay. Every S3 client, ais-ray included, goes through it.

A peer is a command that downloads the one object into a fresh dir; `dltools.run_measured`
times it and reads its peak RSS (GNU time) and CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ais_ray.testing.emulators import HttpSrcServer

from dlsources import clean_env, s3_env, s5cmd_binary

HERE = Path(__file__).resolve().parent
MIB = 1 << 20


@dataclass(frozen=True)
class Link:
    """What each connection gets: `rate` bytes/s (0 = uncapped) and `delay` s before the first byte."""

    rate: int
    delay: float

    @property
    def label(self) -> str:
        if not self.rate:
            return "unpaced" + (f" + {self.delay * 1000:.0f} ms first byte" if self.delay else "")
        return f"{self.rate // MIB} MiB/s per connection" + (f" + {self.delay * 1000:.0f} ms first byte"
                                                              if self.delay else "")

    @property
    def key(self) -> str:
        return f"{self.rate // MIB}MiBps-{self.delay * 1000:.0f}ms"


def set_http_link(src: HttpSrcServer, link: Link) -> None:
    body = json.dumps({"pacing_rate": link.rate, "first_byte_delay": link.delay}).encode()
    req = urllib.request.Request(src.url("_faults"), data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


# ---- peers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Obj:
    """The object every row downloads: s3://bucket/key, and http://.../bucket/key."""

    bucket: str
    key: str
    size: int


@dataclass(frozen=True)
class Peer:
    label: str
    streams: int  # connections it reads the object with (ratio column), 0 = unknown
    default: bool  # run at the tool's own defaults (the goal compares against these)
    argv: Callable[[str, Obj, str, str], list[str]]  # (endpoint, object, dest dir, work dir)
    env: Callable[[str, str], dict[str, str]]  # (endpoint, work dir)


def _s3_env(ep: str, _work: str) -> dict[str, str]:
    return clean_env(s3_env(ep))


def _plain_env(_ep: str, _work: str) -> dict[str, str]:
    return clean_env()


def _aws_argv(ep: str, o: Obj, dest: str, _work: str) -> list[str]:
    return [str(Path(sys.executable).with_name("aws")), "--endpoint-url", ep, "s3", "cp", "--only-show-errors",
            f"s3://{o.bucket}/{o.key}", f"{dest}/{o.key}"]


def _aws_env(ep: str, work: str) -> dict[str, str]:
    path = os.path.join(work, "aws-config")
    with open(path, "w") as f:
        f.write("[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n")
    base = {k: v for k, v in s3_env(ep).items() if k != "AWS_ENDPOINT_URL"}
    return clean_env({**base, "AWS_CONFIG_FILE": path, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})


def _s5cmd_argv(ep: str, o: Obj, dest: str, _work: str) -> list[str]:
    return [s5cmd_binary(), "--endpoint-url", ep, "--log", "error", "cp", f"s3://{o.bucket}/{o.key}", f"{dest}/{o.key}"]


def _rclone(*opts: str) -> Callable[[str, Obj, str, str], list[str]]:
    def argv(ep: str, o: Obj, dest: str, work: str) -> list[str]:
        conf = os.path.join(work, "rclone.conf")
        with open(conf, "w") as f:
            f.write(f"[s3]\ntype = s3\nprovider = Other\naccess_key_id = S3RVER\nsecret_access_key = S3RVER\n"
                    f"endpoint = {ep}\nregion = us-east-1\nforce_path_style = true\n")
        return ["rclone", "--config", conf, "copyto", f"s3:{o.bucket}/{o.key}", f"{dest}/{o.key}", *opts]
    return argv


def _fetcher(ep: str, o: Obj, dest: str, _work: str) -> list[str]:
    """`dlfetch.py` (the downloader benchmark's aiohttp fetcher), one GET: the key must end in 5 digits."""
    prefix, digits = o.key[:-5], o.key[-5:]
    assert digits.isdigit(), o.key
    return [sys.executable, str(HERE / "dlfetch.py"), "--url", f"{ep}/{o.bucket}/{prefix}", "--count", "1",
            "--width", "5", "--out", dest, "-c", "1"]


def _curl(ep: str, o: Obj, dest: str, _work: str) -> list[str]:
    return [shutil.which("curl") or "curl", "--silent", "--show-error", "--fail", "-o", f"{dest}/{o.key}",
            f"{ep}/{o.bucket}/{o.key}"]


def _aria2c(conns: int) -> Callable[[str, Obj, str, str], list[str]]:
    def argv(ep: str, o: Obj, dest: str, _work: str) -> list[str]:
        return [shutil.which("aria2c") or "aria2c", "-x", str(conns), "-s", str(conns), "-d", dest, "-o", o.key,
                "--console-log-level=warn", "--summary-interval=0", "--download-result=hide",
                "--allow-overwrite=true", "--auto-file-renaming=false", f"{ep}/{o.bucket}/{o.key}"]
    return argv


S3_PEERS = (
    Peer("aws s3 cp (default: 10 × 8 MiB parts)", 10, True, _aws_argv, _aws_env),
    Peer("s5cmd cp (default: 5 × 50 MiB parts)", 5, True, _s5cmd_argv, _s3_env),
    Peer("rclone copyto (default: 4 streams)", 4, True, _rclone(), _s3_env),
    Peer("rclone copyto --multi-thread-streams 8", 8, False, _rclone("--multi-thread-streams", "8"), _s3_env),
)
HTTP_PEERS = (
    Peer("aiohttp GET, one stream (dlfetch.py -c 1)", 1, True, _fetcher, _plain_env),
    Peer("curl (one stream)", 1, True, _curl, _plain_env),
    Peer("aria2c -x 8 -s 8", 8, False, _aria2c(8), _plain_env),
)


def tools_missing() -> list[str]:
    """Peer binaries not on this machine (`apt-get install rclone curl aria2 time`)."""
    need = ["rclone", "curl", "aria2c", "/usr/bin/time", str(Path(sys.executable).with_name("aws")), s5cmd_binary()]
    return [t for t in need if not (shutil.which(t) or os.path.exists(t))]
