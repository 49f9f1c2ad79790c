"""Issue 15 item 10: `ais-ray up --auth` — bearer tokens on the API and on every data server,
signed grants in the 307s, `ais-ray auth token`, the SDK's `Client(endpoint, token=...)`.

A cluster of its own (1 target x 1 mountpath), started with `--auth` for this module only.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from ais_ray.auth.gate import secret_path
from ais_ray.cli.cluster_cmds import guard_env
from tests.integration.conftest import LocalCluster
from tests.integration.test_http import WAITS


def token(c: LocalCluster, *args: str) -> str:
    return c.cli("auth", "token", "--data-dir", c.data_dir, *args).stdout.strip()


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture(scope="module")
def tokens(secured: LocalCluster) -> dict[str, str]:
    return {acc: token(secured, "--user", f"u-{acc}", "--access", acc) for acc in ("ro", "rw", "admin")}


@pytest.fixture(scope="module")
def bck(secured: LocalCluster, tokens: dict[str, str]) -> str:
    name = f"auth-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{secured.endpoint}/v1/buckets/{name}", json={"action": "create-bck"},
                      headers=bearer(tokens["admin"]), timeout=60)
    assert r.status_code == 200, r.text
    return name


def test_secret_is_private(secured: LocalCluster) -> None:
    mode = stat.S_IMODE(os.stat(secret_path(secured.data_dir)).st_mode)
    assert mode == 0o600


def test_no_token_is_401_everywhere(secured: LocalCluster, bck: str) -> None:
    for method, path in (("GET", "/v1/buckets"), ("GET", f"/v1/buckets/{bck}"), ("PUT", f"/v1/objects/{bck}/o"),
                         ("GET", f"/v1/objects/{bck}/o"), ("GET", "/v1/daemon?what=smap"),
                         ("POST", f"/v1/buckets/{bck}")):
        r = requests.request(method, secured.endpoint + path, allow_redirects=False, timeout=30)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.json()["tcode"] == "ErrUnauthorized"
    r = requests.get(f"{secured.endpoint}/v1/buckets", headers=bearer("garbage"), timeout=30)
    assert r.status_code == 401
    assert requests.get(f"{secured.endpoint}/v1/health", timeout=30).status_code == 200  # probes need nothing


def test_data_servers_check_tokens_and_grants(secured: LocalCluster, bck: str, tokens: dict[str, str]) -> None:
    r = requests.put(f"{secured.endpoint}/v1/objects/{bck}/g", data=b"grant",
                     headers={**bearer(tokens["rw"]), **WAITS}, allow_redirects=False, timeout=30)
    assert r.status_code == 307
    location = r.headers["Location"]
    assert "ais_grant=" in location
    mp_obj = location.split("?")[0]
    # the data server itself: nothing → 401, a bearer token works, a grant works for its method only
    assert requests.put(mp_obj, data=b"x", timeout=30).status_code == 401
    assert requests.put(location, data=b"grant", timeout=30).status_code == 200
    assert requests.get(location, timeout=30).status_code == 403  # a PUT grant is not a GET grant
    assert requests.get(mp_obj, headers=bearer(tokens["ro"]), timeout=30).content == b"grant"
    assert requests.put(mp_obj, data=b"x", headers=bearer(tokens["ro"]), timeout=30).status_code == 403
    assert requests.get(mp_obj + "?ais_grant=forged", timeout=30).status_code == 401
    # the nodes' own route for a copy job's small objects: their internal (admin) token only
    copies = mp_obj.split("/v1/")[0] + "/v1/copies"
    assert requests.put(copies, data=b"\x90", timeout=30).status_code == 401
    assert requests.put(copies, data=b"\x90", headers=bearer(tokens["rw"]), timeout=30).status_code == 403


def test_access_levels(secured: LocalCluster, bck: str, tokens: dict[str, str]) -> None:
    ep = secured.endpoint
    # rw: PUT through the API's 307 (requests follows it, dropping Authorization: the grant does it)
    r = requests.put(f"{ep}/v1/objects/{bck}/a.txt", data=b"hello", headers={**bearer(tokens["rw"]), **WAITS},
                     timeout=30)
    assert r.status_code == 200, r.text
    # ... and handed by the front door to the data server (a client that does not wait), with the same grant
    r = requests.put(f"{ep}/v1/objects/{bck}/b.txt", data=b"hi", headers=bearer(tokens["rw"]), allow_redirects=False,
                     timeout=30)
    assert r.status_code == 200, r.text
    # ro: can GET and list, cannot PUT or delete
    r = requests.get(f"{ep}/v1/objects/{bck}/a.txt", headers=bearer(tokens["ro"]), timeout=30)
    assert r.status_code == 200 and r.content == b"hello"
    r = requests.get(f"{ep}/v1/buckets/{bck}", json={"action": "list"}, headers=bearer(tokens["ro"]), timeout=30)
    assert r.status_code == 200
    for method in ("PUT", "DELETE"):
        r = requests.request(method, f"{ep}/v1/objects/{bck}/a.txt", data=b"no", headers=bearer(tokens["ro"]),
                             timeout=30)
        assert r.status_code == 403, r.text
        assert r.json()["tcode"] == "ErrAccessDenied"
    r = requests.post(f"{ep}/v1/buckets/ro-{uuid.uuid4().hex[:6]}", json={"action": "create-bck"},
                      headers=bearer(tokens["ro"]), timeout=30)
    assert r.status_code == 403
    # GetBatch reads any bucket it names: cluster-wide read, through the 307's grant
    r = requests.get(f"{ep}/v1/ml/moss/{bck}", json={"in": [{"objname": "a.txt"}], "onob": True, "strm": True},
                     headers=bearer(tokens["ro"]), timeout=30)
    assert r.status_code == 200 and b"hello" in r.content, r.text
    assert requests.get(f"{ep}/v1/ml/moss/{bck}", json={"in": [{"objname": "a.txt"}]}, timeout=30).status_code == 401
    # admin only: cluster membership
    body = {"action": "start-maintenance", "value": {"sid": "nope"}}
    assert requests.put(f"{ep}/v1/cluster", json=body, headers=bearer(tokens["rw"]), timeout=30).status_code == 403
    r = requests.put(f"{ep}/v1/cluster", json=body, headers=bearer(tokens["admin"]), timeout=30)
    assert r.status_code not in (401, 403), r.text  # allowed (then refused for the unknown target)
    # admin only: promote reads the targets' own filesystems (AIStore: not part of read-write access)
    body = {"action": "promote", "name": "/nowhere/x", "value": {"src": "/nowhere/x"}}
    r = requests.post(f"{ep}/v1/objects/{bck}", json=body, headers=bearer(tokens["rw"]), timeout=30)
    assert r.status_code == 403 and r.json()["tcode"] == "ErrAccessDenied", r.text
    r = requests.post(f"{ep}/v1/objects/{bck}", json=body, headers=bearer(tokens["admin"]), timeout=30)
    assert r.status_code == 400 and "promote root" in r.json()["message"], r.text  # allowed, then refused: no such root


def test_bucket_scoped_token(secured: LocalCluster, bck: str, tokens: dict[str, str]) -> None:
    ep = secured.endpoint
    other = f"other-{uuid.uuid4().hex[:6]}"
    assert requests.post(f"{ep}/v1/buckets/{other}", json={"action": "create-bck"}, headers=bearer(tokens["admin"]),
                         timeout=30).status_code == 200
    tok = token(secured, "--user", "bob", "--access", "rw", "--bucket", f"ais://{bck}")
    assert requests.put(f"{ep}/v1/objects/{bck}/bob", data=b"b", headers=bearer(tok), timeout=30).status_code == 200
    assert requests.put(f"{ep}/v1/objects/{other}/bob", data=b"b", headers=bearer(tok), timeout=30).status_code == 403
    # what writes into a second bucket needs write access there too: a copy (one object, a bucket, a
    # selection), an archive's shard; a rename creates and destroys buckets (cluster-wide)
    to_other = [
        ("PUT", f"objects/{bck}/bob", {"object_to": f"ais/@#/{other}/bob"}, None),
        ("POST", f"buckets/{bck}", {"bck_to": f"ais/@#/{other}/"}, {"action": "copy-bck", "value": {}}),
        ("POST", f"buckets/{bck}", {}, {"action": "copy-listrange",
                                        "value": {"objnames": ["bob"], "tobck": {"name": other, "provider": "ais"}}}),
        ("PUT", f"buckets/{bck}", {}, {"action": "archive", "value": {"objnames": ["bob"], "archname": "a.tar",
                                                                      "tobck": {"name": other, "provider": "ais"}}}),
        ("POST", f"buckets/{bck}", {"bck_to": f"ais/@#/{other}-mv/"}, {"action": "move-bck"}),
    ]
    for method, path, params, body in to_other:
        r = requests.request(method, f"{ep}/v1/{path}", params=params, json=body, headers=bearer(tok), timeout=30,
                             allow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    r = requests.get(f"{ep}/v1/ml/moss/{bck}", json={"in": [{"objname": "bob"}]}, headers=bearer(tok), timeout=30)
    assert r.status_code == 403, r.text  # GetBatch needs cluster-wide read: it may name any bucket
    r = requests.put(f"{ep}/v1/buckets/{bck}", json={"action": "archive", "value": {"objnames": ["bob"],
                     "archname": "a.tar"}}, headers=bearer(tok), timeout=30)
    assert r.status_code == 200, r.text  # into its own bucket: allowed


def test_expired_token(secured: LocalCluster, bck: str) -> None:
    tok = token(secured, "--user", "old", "--access", "ro", "--ttl", "1s")
    import time

    time.sleep(7)  # past the 5 s leeway
    r = requests.get(f"{secured.endpoint}/v1/buckets", headers=bearer(tok), timeout=30)
    assert r.status_code == 401 and "expired" in r.json()["message"]


def test_sdk_with_token(secured: LocalCluster, bck: str, tokens: dict[str, str]) -> None:
    from aistore import Client
    from aistore.sdk.errors import AISError

    sdk = Client(secured.endpoint, token=tokens["rw"], timeout=(5, 60))
    b = sdk.bucket(bck)
    b.object("sdk.bin").get_writer().put_content(b"sdk-bytes")
    assert b.object("sdk.bin").get_reader().read_all() == b"sdk-bytes"
    assert "sdk.bin" in [e.name for e in b.list_all_objects()]
    assert b.object("sdk.bin").get_reader(direct=True).read_all() == b"sdk-bytes"  # the target's own URL
    b.object("sdk.bin").get_writer().set_custom_props({"k": "v"})  # PATCH: the 307 carries its grant too
    assert b.object("sdk.bin").head().custom_metadata == {"k": "v"}
    with pytest.raises(AISError) as e:  # read-only: no PATCH
        Client(secured.endpoint, token=tokens["ro"], timeout=(5, 30)).bucket(bck).object("sdk.bin") \
            .get_writer().set_custom_props({"k": "w"})
    assert e.value.status_code == 403
    with pytest.raises(AISError):
        Client(secured.endpoint, timeout=(5, 30)).bucket(bck).object("sdk.bin").get_reader().read_all()


def test_cli_with_token(secured: LocalCluster, bck: str, tokens: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"from-cli")
    env = {"AIS_AUTHN_TOKEN": tokens["rw"]}
    p = subprocess.run([*_ais(), "put", str(f), f"ais://{bck}/cli.txt"], env={**secured.env(), **env},
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert secured.cli_bytes("--token", tokens["ro"], "get", f"ais://{bck}/cli.txt", "-") == b"from-cli"
    p = secured.cli("ls", f"ais://{bck}", check=False)  # no token
    assert p.returncode == 1 and "authentication required" in p.stderr


def _ais() -> list[str]:
    from tests.integration.conftest import AIS_RAY

    return AIS_RAY


def test_non_loopback_host_without_auth_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(auth=False, host="0.0.0.0", max_body=None)
    assert guard_env(args, str(tmp_path)) == {}
    assert "without authentication" in capsys.readouterr().err
    guard_env(argparse.Namespace(auth=False, host="127.0.0.1", max_body=None), str(tmp_path))
    assert capsys.readouterr().err == ""


def test_logs_need_admin_and_the_config_says_auth_is_on(secured: LocalCluster, tokens: dict[str, str]) -> None:
    """A node's log (object names, source URLs, tracebacks) is for admins, on both of its routes."""
    for url, hdrs in ((f"{secured.endpoint}/v1/daemon", {}),
                      (f"{secured.endpoint}/v1/reverse/daemon", {"Ais-Node-Id": "t1"})):
        r = requests.get(url, params={"what": "log"}, headers=hdrs, timeout=30)
        assert r.status_code == 401, r.text
        r = requests.get(url, params={"what": "log"}, headers={**hdrs, **bearer(tokens["rw"])}, timeout=30)
        assert r.status_code == 403 and r.json()["tcode"] == "ErrAccessDenied", r.text
        r = requests.get(url, params={"what": "log"}, headers={**hdrs, **bearer(tokens["admin"])}, timeout=30)
        assert r.status_code == 200 and "started (pid" in r.text, r.text
    conf = requests.get(f"{secured.endpoint}/v1/cluster", params={"what": "config"}, headers=bearer(tokens["ro"]),
                        timeout=30).json()
    assert conf["auth"]["enabled"] is True
