"""Single-object copy (`PUT ?object_to=`): the SDK's `Object.copy`, the HTTP API and `ais-ray cp`.

Regression for issue 18 item 1: the SDK's copy used to store its empty body *as the source*
(data loss) and never create the destination. Every test reads the source back byte for byte.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import requests
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound

from ais_ray.core.names import Provider
from tests.integration.conftest import LocalCluster
from tests.integration.remotes import REMOTES


@pytest.fixture()
def two(sdk: object) -> Iterator[tuple[object, object]]:
    tag = uuid.uuid4().hex[:8]
    a, b = sdk.bucket(f"cpa-{tag}"), sdk.bucket(f"cpb-{tag}")  # type: ignore[attr-defined]
    a.create()
    b.create()
    yield a, b
    a.delete(missing_ok=True)
    b.delete(missing_ok=True)


def test_sdk_copy_keeps_source_and_creates_destination(two: tuple[object, object]) -> None:
    a, b = two
    names = [f"dir/o{i}" for i in range(12)]  # enough names that some land on each target and mountpath
    data = {n: os.urandom(100_000 + i * 7919) for i, n in enumerate(names)}
    for n, d in data.items():
        a.object(n).get_writer().put_content(d)  # type: ignore[attr-defined]
    for i, n in enumerate(names):
        # other bucket + other name, other bucket + same name, same bucket + other name
        dst = [b.object(f"copy/{i}"), b.object(n), a.object(f"{n}.bak")][i % 3]  # type: ignore[attr-defined]
        r = a.object(n).copy(dst)  # type: ignore[attr-defined]
        assert r.status_code == 200
        assert a.object(n).get_reader().read_all() == data[n]  # type: ignore[attr-defined]  # source intact
        assert dst.get_reader().read_all() == data[n]
        assert dst.props.size == len(data[n])


def test_copy_errors_leave_the_source(two: tuple[object, object], sdk: object) -> None:
    a, b = two
    a.object("src").get_writer().put_content(b"precious")  # type: ignore[attr-defined]
    with pytest.raises(ErrBckNotFound):
        a.object("src").copy(sdk.bucket(f"nope-{uuid.uuid4().hex[:6]}").object("x"))  # type: ignore[attr-defined]
    with pytest.raises(ErrObjNotFound):
        a.object("missing").copy(b.object("x"))  # type: ignore[attr-defined]
    with pytest.raises(AISError):
        a.object("src").copy(a.object("src"))  # type: ignore[attr-defined]  # onto itself: 400
    assert a.object("src").get_reader().read_all() == b"precious"  # type: ignore[attr-defined]
    with pytest.raises(AISError) as e:  # nothing was created (a HEAD's 404 has no body to type it)
        b.object("x").props  # type: ignore[attr-defined]
    assert e.value.status_code == 404


def test_copy_over_http_rejects_body_and_bad_uname(cluster: LocalCluster, two: tuple[object, object]) -> None:
    a, b = two
    a.object("s").get_writer().put_content(b"abc")  # type: ignore[attr-defined]
    url = f"{cluster.endpoint}/v1/objects/{a.name}/s"  # type: ignore[attr-defined]
    for to in ("not-a-uname", f"ais/@#/{b.name}/", "ais/@../..#x/b/o", f"zz/@#/{b.name}/o"):  # type: ignore[attr-defined]
        r = requests.put(url, params={"object_to": to})
        assert r.status_code == 400, (to, r.status_code, r.text)
        assert r.json()["message"]
    r = requests.put(url, params={"object_to": f"ais/@#/{b.name}/o"}, data=b"a body")  # type: ignore[attr-defined]
    assert r.status_code == 400 and "no request body" in r.json()["message"]
    assert requests.get(url).content == b"abc"
    r = requests.put(url, params={"object_to": f"ais/@#/{b.name}/o"})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert requests.get(f"{cluster.endpoint}/v1/objects/{b.name}/o").content == b"abc"  # type: ignore[attr-defined]


def test_cli_cp(cluster: LocalCluster, two: tuple[object, object], tmp_path: object) -> None:
    a, b = two
    a.object("x/one.bin").get_writer().put_content(b"one" * 1000)  # type: ignore[attr-defined]
    out = cluster.cli("cp", f"ais://{a.name}/x/one.bin", f"ais://{b.name}/y/two.bin").stdout  # type: ignore[attr-defined]
    assert f"ais://{b.name}/y/two.bin" in out  # type: ignore[attr-defined]
    assert cluster.cli_bytes("get", f"ais://{b.name}/y/two.bin", "-") == b"one" * 1000  # type: ignore[attr-defined]
    cluster.cli("cp", f"ais://{a.name}/x/one.bin", f"ais://{b.name}")  # type: ignore[attr-defined]  # same name
    assert cluster.cli_bytes("get", f"ais://{b.name}/x/one.bin", "-") == b"one" * 1000  # type: ignore[attr-defined]
    assert cluster.cli_bytes("get", f"ais://{a.name}/x/one.bin", "-") == b"one" * 1000  # type: ignore[attr-defined]
    p = cluster.cli("cp", f"ais://{a.name}/x/one.bin", "ais://no-such-bucket-zz/o", check=False)  # type: ignore[attr-defined]
    assert p.returncode == 1 and p.stderr.startswith("error:") and "Traceback" not in p.stderr


def test_copy_from_a_remote_bucket(cluster: LocalCluster, moto: object, sdk: object) -> None:
    remote = REMOTES[Provider.AWS][0](moto, None)  # type: ignore[arg-type]
    remote.seed("r/obj", b"from-s3")
    dst = sdk.bucket(f"cpr-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    dst.create()
    try:
        s3b = sdk.bucket(remote.bucket, provider="aws")  # type: ignore[attr-defined]
        s3b.object("r/obj").copy(dst.object("here"))  # not cached yet: fetched, then copied
        assert dst.object("here").get_reader().read_all() == b"from-s3"
        assert s3b.object("r/obj").get_reader().read_all() == b"from-s3"
        remote.seed("r/obj", b"from-s3-v2")
        s3b.object("r/obj").copy(dst.object("here"), latest=True)
        assert dst.object("here").get_reader().read_all() == b"from-s3-v2"
    finally:
        dst.delete(missing_ok=True)
