"""ETL from the command line (issue 13): `etl init code` with a package from the registry, bad
transforms (raise, non-bytes, hang, a killed process) under `--cont-on-err`, syntax errors
named by line, and seed 004's `etl init spec` + `etl bucket s3://src gs://dst --all` verbatim."""

from __future__ import annotations

import base64
import os
import re
import textwrap
import uuid
from pathlib import Path
from typing import Any

import requests

from ais_ray.core.names import Provider
from tests.integration.conftest import LocalCluster
from tests.integration.remotes import REMOTES
from tests.integration.test_copy_seed import gcs_read

ROMAN = textwrap.dedent("""\
    import roman  # from the package registry, installed into the workers' runtime_env

    def transform(data, path, args):
        return roman.toRoman(int(data)).encode()
""")

BAD = textwrap.dedent("""\
    import os, time

    def transform(data, path, args):
        if path.endswith("raise.txt"):
            raise RuntimeError("no thanks")
        if path.endswith("notbytes.txt"):
            return 42
        if path.endswith("hang.txt"):
            time.sleep(120)
        if path.endswith("kill.txt"):
            os._exit(3)
        return data.upper()
""")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_init_code_with_a_dependency(cluster: LocalCluster, sdk: Any, tmp_path: Path) -> None:
    name = _name("roman")
    (tmp_path / "transform.py").write_text(ROMAN)
    (tmp_path / "requirements.txt").write_text("# the one dependency\nroman\n")
    b = sdk.bucket(f"etlr-{uuid.uuid4().hex[:6]}")
    b.create()
    try:
        b.object("n").get_writer().put_content(b"1987")
        p = cluster.cli("etl", "init", "code", "--name", name, "--from-file", str(tmp_path / "transform.py"),
                        "--deps-file", str(tmp_path / "requirements.txt"), "--init-timeout", "4m", timeout=300)
        assert "running" in p.stdout
        assert cluster.cli_bytes("etl", "object", name, f"ais://{b.name}/n", "-") == b"MCMLXXXVII"
        p = cluster.cli("etl", "show")
        assert re.search(rf"{name}\s+Running\s+etl-", p.stdout), p.stdout
        p = cluster.cli("etl", "show", "details", name)
        assert "roman" in p.stdout and "code" in p.stdout
    finally:
        cluster.cli("etl", "rm", name, check=False)
        b.delete(missing_ok=True)


def test_bad_transforms_fail_their_objects_only(cluster: LocalCluster, sdk: Any, tmp_path: Path) -> None:
    name = _name("bad")
    (tmp_path / "bad.py").write_text(BAD)
    src, dst = sdk.bucket(f"etlb-{uuid.uuid4().hex[:6]}"), sdk.bucket(f"etlb-{uuid.uuid4().hex[:6]}")
    src.create()
    good = {f"ok{i}.txt": f"fine {i}".encode() for i in range(12)}
    for n, d in {**good, **{f"{k}.txt": b"x" for k in ("raise", "notbytes", "hang", "kill")}}.items():
        src.object(n).get_writer().put_content(d)
    try:
        cluster.cli("etl", "init", "code", "--name", name, "--from-file", str(tmp_path / "bad.py"),
                    "--object-timeout", "3s")
        p = cluster.cli("etl", "bucket", name, f"ais://{src.name}", f"ais://{dst.name}", "--cont-on-err")
        xid = re.search(r"etl-bucket\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
        p = cluster.cli("wait", xid, check=False, timeout=240)
        assert "Traceback" not in p.stderr
        got = {e.name: dst.object(e.name).get_reader().read_all() for e in dst.list_all_objects()}
        p = cluster.cli("etl", "view-errors", name, xid)
        assert got == {n: d.upper() for n, d in good.items()}, p.stdout  # the failed ones: nothing at the destination
        for what, text in (("raise", "no thanks"), ("notbytes", "returned int"), ("hang", "timed out"),
                           ("kill", "killed its process")):
            assert re.search(rf"{what}\.txt\s+422\s+.*{text}", p.stdout), p.stdout
        # the killed and the hung workers were restarted: the ETL still transforms
        assert cluster.cli_bytes("etl", "object", name, f"ais://{src.name}/ok1.txt", "-") == b"FINE 1"
    finally:
        cluster.cli("etl", "rm", name, check=False)
        src.delete(missing_ok=True)
        dst.delete(missing_ok=True)


def test_syntax_error_and_missing_transform_named(cluster: LocalCluster, tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import os\n\ndef transform(data, path, args)\n    return data\n")
    p = cluster.cli("etl", "init", "code", "--name", "broken-one", "--from-file", str(tmp_path / "broken.py"),
                    check=False)
    assert p.returncode == 1 and "line 3" in p.stderr and "Traceback" not in p.stderr
    src = base64.b64encode(b"def convert(data, path, args):\n    return data\n").decode()
    r = requests.put(f"{cluster.endpoint}/v1/etl", timeout=30, json={
        "name": "no-transform", "runtime": {"image": "ais-ray/python-code", "env": [{"name": "ETL_CODE", "value": src}]}})
    assert r.status_code == 400 and "transform" in r.json()["message"]
    src = base64.b64encode(b"x = (\n").decode()
    r = requests.put(f"{cluster.endpoint}/v1/etl", timeout=30, json={
        "name": "syntax-err", "runtime": {"image": "ais-ray/python-code", "env": [{"name": "ETL_CODE", "value": src}]}})
    assert r.status_code == 400 and "line 1" in r.json()["message"]
    p = cluster.cli("etl", "show")
    assert "broken-one" not in p.stdout and "no-transform" not in p.stdout


def test_seed_004_etl_verbatim(cluster: LocalCluster, moto: object, gcs: object, tmp_path: Path) -> None:
    """`ais etl init spec --name=my-custom-transform --from-file=my-custom-transform.yaml`, then
    `ais etl bucket my-custom-transform s3://src gs://dst --progress --refresh 3 --all`: a source
    not present in the cluster, read from S3, transformed, written to GCS."""
    src = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    dst = REMOTES[Provider.GCP][0](gcs, None)  # type: ignore[arg-type]
    data = {f"img/{i:03d}.jpg": os.urandom(700 + i) for i in range(30)}
    for n, d in data.items():
        src.seed(n, d)
    (tmp_path / "my-custom-transform.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Pod
        metadata:
          name: transformer-md5
          annotations:
            communication_type: "hpush://"
            wait_timeout: 2m
        spec:
          containers:
            - name: server
              image: aistorage/transformer_md5:latest
              ports: [{name: default, containerPort: 8000}]
              command: ['/code/server.py', '--listen', '0.0.0.0', '--port', '8000']
              readinessProbe: {httpGet: {path: /health, port: default}}
        """))
    name = "my-custom-transform"
    cluster.cli("etl", "rm", name, check=False)
    try:
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            p = cluster.cli("etl", "init", "spec", f"--name={name}", "--from-file=my-custom-transform.yaml")
        finally:
            os.chdir(cwd)
        assert "running" in p.stdout
        p = cluster.cli("etl", "bucket", name, f"s3://{src.bucket}", f"gs://{dst.bucket}", "--progress", "--refresh",
                        "0.3", "--all", timeout=240)
        assert f"{len(data)}/{len(data)}" in p.stdout and "Transformed objects:" in p.stdout, p.stdout
        import hashlib
        for n, d in data.items():
            assert gcs_read(gcs, dst.bucket, n) == hashlib.md5(d).hexdigest().encode()
    finally:
        cluster.cli("etl", "rm", name, check=False)
