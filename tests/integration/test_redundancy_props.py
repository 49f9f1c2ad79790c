"""Bucket redundancy props on the wire: create with props, set-bprops, HEAD, validation (ais-wire-2 §4.1)."""

from __future__ import annotations

import json
import uuid

import requests

from tests.integration.conftest import TARGETS, LocalCluster


def _props(cluster: LocalCluster, name: str) -> dict:
    r = requests.head(f"{cluster.endpoint}/v1/buckets/{name}", params={"provider": "ais"}, timeout=30)
    assert r.status_code == 200, r.text
    return json.loads(r.headers["Ais-Bucket-Props"])


def test_create_with_props_set_and_validate(cluster: LocalCluster) -> None:
    name = f"rp-{uuid.uuid4().hex[:8]}"
    url = f"{cluster.endpoint}/v1/buckets/{name}"
    try:
        r = requests.post(url, json={"action": "create-bck", "value": {"mirror": {"enabled": True, "copies": 2}}},
                          params={"provider": "ais"}, timeout=30)
        assert r.status_code == 200, r.text
        assert _props(cluster, name)["mirror"] == {"enabled": True, "copies": 2, "burst_buffer": 0}
        assert _props(cluster, name)["ec"]["enabled"] is False

        bad = [({"mirror": {"enabled": True, "copies": 40}}, "invalid mirror.copies: 40 (expected value in range [2, 32])"),
               ({"ec": {"enabled": True, "data_slices": 3, "parity_slices": 1}},
                f"EC configuration (D = 3, P = 1) requires at least 5 targets (have {TARGETS})"),
               ({"mirror": {"copies": "x"}}, "invalid mirror.copies"),
               ({"mirror": [1]}, "expecting an object"),
               ([1, 2], "expecting a JSON object")]
        for value, msg in bad:
            r = requests.patch(url, json={"action": "set-bprops", "value": value}, params={"provider": "ais"}, timeout=30)
            assert r.status_code == 400 and msg in r.json()["message"], (value, r.status_code, r.text)
        assert _props(cluster, name)["mirror"]["copies"] == 2  # nothing changed

        # EC that fits this cluster: replicate-only with P=1 needs 2 targets; once on, it cannot be turned off
        r = requests.patch(url, json={"action": "set-bprops", "value": {"ec": {"enabled": True, "parity_slices": 1,
                                                                              "objsize_limit": -1}}},
                           params={"provider": "ais"}, timeout=30)
        assert r.status_code == 200, r.text
        assert _props(cluster, name)["ec"]["parity_slices"] == 1
        r = requests.patch(url, json={"action": "set-bprops", "value": {"ec": {"enabled": False}}},
                           params={"provider": "ais"}, timeout=30)
        assert r.status_code == 400 and "cannot be disabled or changed" in r.json()["message"]
    finally:
        requests.delete(url, json={"action": "destroy-bck"}, params={"provider": "ais"}, timeout=30)


def test_cli_create_with_props_and_props_set(cluster: LocalCluster) -> None:
    name = f"rpc-{uuid.uuid4().hex[:8]}"
    try:
        cluster.cli("create", f"ais://{name}", "--props", "mirror.enabled=true mirror.copies=2")
        assert _props(cluster, name)["mirror"]["enabled"] is True
        p = cluster.cli("bucket", "props", "set", f"ais://{name}", "mirror.copies=40", check=False)
        assert p.returncode != 0 and "invalid mirror.copies: 40" in p.stderr and "Traceback" not in p.stderr
        p = cluster.cli("bucket", "props", "set", f"ais://{name}", "mirror.enabled=false")
        assert "successfully updated" in p.stdout
        assert _props(cluster, name)["mirror"]["enabled"] is False
    finally:
        cluster.cli("rmb", f"ais://{name}", check=False)
