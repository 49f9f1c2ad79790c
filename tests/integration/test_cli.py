"""The `ais-ray` command line against the session cluster, as a user drives it."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import AIS_RAY, MOUNTPATHS, TARGETS, TIDS, LocalCluster


def uniq(prefix: str = "b") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_show_cluster(cluster: LocalCluster) -> None:
    p = cluster.cli("show", "cluster")
    assert f"Targets:   {TARGETS} (total mountpaths: {TARGETS * MOUNTPATHS})" in p.stdout
    info = json.loads(cluster.cli("show", "cluster", "--json").stdout)
    assert set(info["targets"]) == TIDS
    for t in info["targets"].values():
        assert len(t["mountpaths"]) == MOUNTPATHS
        assert all(m["url"].startswith("http://127.0.0.1:") for m in t["mountpaths"])
    assert int(info["smap"]["version"]) >= 1


def test_bucket_object_lifecycle(cluster: LocalCluster, tmp_path: Path) -> None:
    b = uniq()
    src = tmp_path / "src"
    files = {"a/1.jpg": os.urandom(1500), "a/2.jpg": os.urandom(7), "b/c/3.txt": b"three", "z": b""}
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    cluster.cli("create", f"ais://{b}")
    assert f"ais://{b}" in cluster.cli("ls").stdout
    out = cluster.cli("put", str(src), f"ais://{b}", "--recursive").stdout
    assert out.strip() == f"PUT 4 objects (1.48KiB) => ais://{b}/"  # the destination, not one object's directory

    listed = json.loads(cluster.cli("ls", f"ais://{b}", "--json").stdout)
    assert [(e["n"], e["s"]) for e in listed] == sorted((n, len(d)) for n, d in files.items())
    table = cluster.cli("ls", f"ais://{b}").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE"] and table[1].split()[0] == "a/1.jpg"
    assert [e["n"] for e in json.loads(cluster.cli("ls", f"ais://{b}/a/", "--json").stdout)] == ["a/1.jpg", "a/2.jpg"]
    # AIStore's `ls --limit / --start-after / --nr`
    names = lambda *a: [ln.split()[0] for ln in cluster.cli("ls", f"ais://{b}", "-H", *a).stdout.splitlines()]  # noqa: E731
    assert names("--limit", "2") == ["a/1.jpg", "a/2.jpg"]
    assert names("--start-after", "a/2.jpg") == ["b/c/3.txt", "z"]
    assert names("--start-after", "a/1.jpg", "--limit", "2") == ["a/2.jpg", "b/c/3.txt"]
    assert names("--nr") == ["a/", "b/", "z"]
    table = cluster.cli("ls", f"ais://{b}", "--nr").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE"] and table[1].split() == ["a/"]  # a directory: no size, no CACHED column
    p = cluster.cli("ls", f"ais://{b}", "--limit", "-1", check=False)
    assert p.returncode == 1 and p.stderr.strip() == "error: --limit -1: expecting 0 (no limit) or more"
    # --props: NAME first even when not named, `all` for every column, an unknown one refused
    table = cluster.cli("ls", f"ais://{b}", "--props", "version,size").stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "SIZE"] and table[1].split()[:2] == ["a/1.jpg", "1"], table
    header = cluster.cli("ls", f"ais://{b}", "--props", "all").stdout.splitlines()[0].split()
    assert header[:2] == ["NAME", "SIZE"] and {"CHECKSUM", "VERSION", "LOCATION", "COPIES", "CACHED"} <= set(header)
    p = cluster.cli("ls", f"ais://{b}", "--props", "size,colour", check=False)
    assert p.returncode == 1 and "'colour'" in p.stderr and "Traceback" not in p.stderr

    dest = tmp_path / "1.jpg"
    cluster.cli("get", f"ais://{b}/a/1.jpg", str(dest))
    assert dest.read_bytes() == files["a/1.jpg"]
    out_dir = tmp_path / "all"
    out_dir.mkdir()
    cluster.cli("get", f"ais://{b}/", str(out_dir))
    for name, data in files.items():
        assert (out_dir / name).read_bytes() == data

    show = json.loads(cluster.cli("object", "show", f"ais://{b}/a/1.jpg", "--json").stdout)
    assert show["size"] == "1500" and show["version"] == "1" and show["present"] == "true"
    assert show["checksum"].startswith("xxhash2: ")

    cluster.cli("put", str(src / "a/2.jpg"), f"ais://{b}/a/1.jpg")  # overwrite: version 2
    show = json.loads(cluster.cli("object", "show", f"ais://{b}/a/1.jpg", "--json").stdout)
    assert show["version"] == "2" and show["size"] == "7"

    cluster.cli("rm", f"ais://{b}/a/1.jpg")
    assert "a/1.jpg" not in cluster.cli("ls", f"ais://{b}", "--no-headers").stdout
    cluster.cli("rmb", f"ais://{b}")
    assert f"ais://{b}" not in cluster.cli("ls").stdout


@pytest.mark.parametrize(("args", "message"), [
    (["create", "ais://bad*name"], 'bucket name "bad*name" is invalid'),
    (["create", "ais://" + "x" * 65], "is too long"),
    (["ls", "ais://no-such-bucket-x"], 'bucket "ais://no-such-bucket-x" does not exist'),
    (["get", "ais://no-such-bucket-x/o", "-"], 'bucket "ais://no-such-bucket-x" does not exist'),
    (["rmb", "ais://no-such-bucket-x"], 'bucket "ais://no-such-bucket-x" does not exist'),
    (["create", "foo://b"], 'invalid bucket provider "foo"'),
])
def test_errors_are_one_line(cluster: LocalCluster, args: list[str], message: str) -> None:
    p = cluster.cli(*args, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("error: ") and message in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_object_errors(cluster: LocalCluster, tmp_path: Path) -> None:
    b = uniq()
    cluster.cli("create", f"ais://{b}")
    f = tmp_path / "f"
    f.write_bytes(b"x")
    for bad in ("../escape", "a/../../x", "a/./b"):
        p = cluster.cli("put", str(f), f"ais://{b}/{bad}", check=False)
        assert p.returncode == 1 and "is invalid" in p.stderr and "Traceback" not in p.stderr
    p = cluster.cli("get", f"ais://{b}/missing", str(tmp_path / "out"), check=False)
    assert p.returncode == 1 and f'object "ais://{b}/missing" does not exist' in p.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out*"))
    p = cluster.cli("create", f"ais://{b}", check=False)
    assert p.returncode == 1 and "already exists" in p.stderr
    p = cluster.cli("put", str(tmp_path / "nope"), f"ais://{b}/x", check=False)
    assert p.returncode == 1 and "no such file" in p.stderr

    # where a GET writes: a directory named with a trailing slash is made; a missing parent is an
    # error naming it; a local file system's refusal is one line (never "unexpected")
    cluster.cli("put", str(f), f"ais://{b}/d/o")
    got = cluster.cli("get", f"ais://{b}/d/o", f"{tmp_path}/new/dir/").stdout
    assert (tmp_path / "new/dir/o").read_bytes() == b"x" and '"' + str(tmp_path / "new/dir/o") + '"' in got
    for dest, message in ((tmp_path / "none" / "o", f'no such directory "{tmp_path / "none"}"'),
                          (tmp_path / "f" / "o", f'no such directory "{tmp_path / "f"}"'),
                          (tmp_path / ("n" * 300), "File name too long")):
        p = cluster.cli("get", f"ais://{b}/d/o", str(dest), check=False)
        assert p.returncode == 1 and p.stderr.startswith("error: ") and message in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and "unexpected" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f", "new"]  # nothing half-written left
    cluster.cli("rmb", f"ais://{b}")


def test_put_from_stdin_and_get_a_range(cluster: LocalCluster) -> None:
    """`ais put - BUCKET/NAME` (a pipe, sent as it comes) and `ais get --offset --length` (a range)."""
    b = uniq()
    cluster.cli("create", f"ais://{b}")
    data = os.urandom(3 * (1 << 20) + 11)  # more than one read of the pipe
    p = subprocess.run([*AIS_RAY, "put", "-", f"ais://{b}/piped.bin"], env=cluster.env(), input=data,
                       capture_output=True, timeout=120)
    assert p.returncode == 0 and p.stdout.decode().strip() == f"PUT (standard input) => ais://{b}/piped.bin (3.00MiB)", p
    assert cluster.cli_bytes("get", f"ais://{b}/piped.bin", "-") == data
    assert cluster.cli_bytes("get", f"ais://{b}/piped.bin", "-", "--offset", "1kib", "--length", "100") == data[1024:1124]
    empty = subprocess.run([*AIS_RAY, "put", "-", f"ais://{b}/empty"], env=cluster.env(), input=b"",
                           capture_output=True, timeout=120)
    assert empty.returncode == 0 and cluster.cli_bytes("get", f"ais://{b}/empty", "-") == b""
    for args, message in ((["put", "-", f"ais://{b}/"], "put -: name the object"),
                          (["get", f"ais://{b}/piped.bin", "-", "--offset", "1"], "--offset and --length go together"),
                          (["get", f"ais://{b}/piped.bin", "-", "--offset", "0", "--length", "0"], "expecting at least 1 byte"),
                          (["get", f"ais://{b}/piped.bin", "-", "--offset", f"{len(data)}", "--length", "1"],
                           "not satisfiable"),
                          (["get", f"ais://{b}/", ".", "--offset", "0", "--length", "1"], "of one object, not of many")):
        p = cluster.cli(*args, check=False)
        assert p.returncode == 1 and p.stderr.startswith("error: ") and message in p.stderr, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1
    assert sorted(e["n"] for e in json.loads(cluster.cli("ls", f"ais://{b}", "--json").stdout)) == ["empty", "piped.bin"]
    # `rm a b c`: one that is not there is an error line, the others still go
    p = cluster.cli("rm", f"ais://{b}/empty", f"ais://{b}/none", f"ais://{b}/piped.bin", check=False)
    assert p.returncode == 1 and p.stdout.splitlines() == [f"deleted ais://{b}/empty", f"deleted ais://{b}/piped.bin"]
    assert p.stderr.strip() == f'error: object "ais://{b}/none" does not exist'
    assert json.loads(cluster.cli("ls", f"ais://{b}", "--json").stdout) == []
    cluster.cli("rmb", f"ais://{b}")


def test_usage_error_exit_2(cluster: LocalCluster) -> None:
    p = cluster.cli("put", check=False)
    assert p.returncode == 2 and "usage:" in p.stderr


def test_help_has_examples(cluster: LocalCluster) -> None:
    for cmd in (["--help"], ["up", "--help"], ["ls", "--help"], ["put", "--help"], ["show", "cluster", "--help"]):
        assert "Examples:" in cluster.cli(*cmd).stdout


def test_unreachable_endpoint_is_clear(cluster: LocalCluster) -> None:
    import subprocess

    from tests.integration.conftest import AIS_RAY, free_port

    env = {**cluster.env(), "AIS_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    p = subprocess.run([*AIS_RAY, "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "cannot reach ais-ray" in p.stderr and "Traceback" not in p.stderr


def test_get_to_a_closed_pipe_is_quiet(cluster: LocalCluster, tmp_path: Path) -> None:
    """`ais-ray get ais://b/o - | head -c 10`: the reader leaving early is no error to report."""
    b = uniq()
    src = tmp_path / "big"
    src.write_bytes(os.urandom(8 << 20))  # far more than a pipe holds
    cluster.cli("create", f"ais://{b}")
    cluster.cli("put", str(src), f"ais://{b}/big")
    p = subprocess.run(["bash", "-c", f'set -o pipefail; {" ".join(AIS_RAY)} get ais://{b}/big - | head -c 10 | wc -c'],
                       env=cluster.env(), capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "10"
    assert p.stderr == "" and p.returncode in (0, 141)
    cluster.cli("rmb", f"ais://{b}")


def test_seed_spellings(cluster: LocalCluster, moto: object) -> None:
    """Issue 17 item 2: command lines pasted from the seeds."""
    from ais_ray.core.names import Provider
    from tests.integration.remotes import REMOTES

    # `ais ls s3` before any s3 bucket is in the cluster: AIStore's note, exit 0
    p = cluster.cli("ls", "oci")  # no test ever makes an oci:// bucket
    assert p.stdout.strip() == 'No "oci://" matching buckets in the cluster. Use \'--all\' option to list _all_ buckets.'
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    remote.seed("k", b"v")
    cluster.cli("get", f"s3://{remote.bucket}/k", "-")
    for word in ("s3", "s3://", "aws"):
        assert f"s3://{remote.bucket}" in cluster.cli("ls", word).stdout
    assert f"s3://{remote.bucket}" not in cluster.cli("ls", "ais").stdout
    # --all on the summary, --conns on downloads (seed 003)
    assert cluster.cli("storage", "summary", f"s3://{remote.bucket}", "--all").returncode == 0
    p = cluster.cli("start", "download", "--help")
    assert "--conns" in p.stdout
