"""Counters with AIStore's names: they move by exactly the operations done, on the right target.

Read three ways, as users do: each target's `GET /metrics` (Prometheus text), its node_status
through the API (`/v1/reverse/daemon` + `Ais-Node-Id`, what the SDK's `get_performance()`
sends) and the cluster-wide `GET /v1/cluster?what=node_stats|sysinfo|mountpaths`.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from urllib.parse import urlsplit

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import LocalCluster
from tests.integration.test_http import WAITS
from tests.integration.test_http import bucket  # noqa: F401  (the fixture: a fresh ais bucket)


def smap(cluster: LocalCluster) -> dict:
    return requests.get(f"{cluster.endpoint}/v1/daemon", params={"what": "smap"}).json()


def target_metrics(url: str) -> dict[tuple[str, frozenset], float]:
    r = requests.get(f"{url}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def owner_of(cluster: LocalCluster, sm: dict, bucket: str, name: str) -> str:
    """The target a PUT of `bucket/name` is redirected to."""
    r = requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/{name}", data=b"", allow_redirects=False, headers=WAITS)
    assert r.status_code == 307
    netloc = urlsplit(r.headers["Location"]).netloc
    return next(tid for tid, t in sm["tmap"].items() for m in t["mountpaths"] if urlsplit(m["url"]).netloc == netloc)


def node_status(cluster: LocalCluster, tid: str) -> dict:
    r = requests.get(f"{cluster.endpoint}/v1/reverse/daemon", params={"what": "node_status"},
                     headers={"Ais-Node-Id": tid})
    assert r.status_code == 200, r.text
    return r.json()


def tracked(status: dict, name: str) -> int:
    return int(status["tracker"].get(name, {"v": "0"})["v"])


def settled_status(cluster: LocalCluster, tid: str) -> dict:
    """`node_status` once the GETs the front door sent from files have reached the target's
    counters (handed over every second): earlier tests' reads must not land in a test's window."""
    status = node_status(cluster, tid)
    for _ in range(20):
        time.sleep(1.2)
        now = node_status(cluster, tid)
        if tracked(now, "get.n") == tracked(status, "get.n"):
            return now
        status = now
    raise AssertionError(f"{tid}'s get.n never settled")


def test_counters_move_by_exactly_the_operations_done(cluster: LocalCluster, bucket: str) -> None:
    sm = smap(cluster)
    names = [f"o{i}" for i in range(10)]
    owners = {n: owner_of(cluster, sm, bucket, n) for n in names}
    before = {tid: settled_status(cluster, tid) for tid in sm["tmap"]}
    data = os.urandom(1000)
    for n in names:
        assert requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/{n}", data=data).status_code == 200
    for n in names[:7]:
        assert requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/{n}").content == data
    for n in names[:3]:
        assert requests.head(f"{cluster.endpoint}/v1/objects/{bucket}/{n}", allow_redirects=True).status_code == 200
    assert requests.get(f"{cluster.endpoint}/v1/objects/{bucket}/missing").status_code == 404  # an answer, not an error
    puts, gets = Counter(owners.values()), Counter(owners[n] for n in names[:7])
    heads = Counter(owners[n] for n in names[:3])
    label = f"ais://{bucket}"
    deadline = time.monotonic() + 15  # GETs the front door sent from the file reach their target's counters within a second
    while any(tracked(node_status(cluster, tid), "get.n") - tracked(before[tid], "get.n") < gets[tid] for tid in sm["tmap"]):
        assert time.monotonic() < deadline, "GETs not counted at their targets"
        time.sleep(0.3)
    for tid, t in sm["tmap"].items():
        m = target_metrics(t["public_net"]["direct_url"])
        by = frozenset({("node_id", tid), ("bucket", label)})
        assert m.get(("ais_target_put_count", by), 0) == puts[tid], (tid, puts)
        assert m.get(("ais_target_put_bytes", by), 0) == 1000 * puts[tid]
        assert m.get(("ais_target_get_count", by), 0) == gets[tid], (tid, gets)
        assert m.get(("ais_target_get_bytes", by), 0) == 1000 * gets[tid]
        assert m.get(("ais_target_head_count", by), 0) == heads[tid]
        if gets[tid]:
            assert m[("ais_target_get_ns_total", by)] > 0
        assert ("ais_target_uptime", frozenset({("node_id", tid)})) in m
        assert not any(k[0] == "ais_target_get_n" for k in m)  # `.n` is an internal name only
        after = node_status(cluster, tid)
        assert tracked(after, "put.n") - tracked(before[tid], "put.n") == puts[tid]
        assert tracked(after, "get.n") - tracked(before[tid], "get.n") == gets[tid]
        assert tracked(after, "get.size") - tracked(before[tid], "get.size") == 1000 * gets[tid]
        assert tracked(after, "err.get.n") == tracked(before[tid], "err.get.n")
        assert after["snode"]["daemon_id"] == tid and after["status"] == "online"
        assert set(after["capacity"]["mountpaths"]) == {m["path"] for m in t["mountpaths"]}


def test_node_status_direct_and_errors(cluster: LocalCluster) -> None:
    sm = smap(cluster)
    tid, t = next(iter(sm["tmap"].items()))
    r = requests.get(f"{t['public_net']['direct_url']}/v1/daemon", params={"what": "node_status"})
    assert r.status_code == 200 and r.json()["snode"]["daemon_id"] == tid
    assert int(r.json()["tracker"]["up.ns.time"]["v"]) > 0
    r = requests.get(f"{cluster.endpoint}/v1/reverse/daemon", params={"what": "node_status"}, headers={"Ais-Node-Id": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["message"]
    r = requests.get(f"{cluster.endpoint}/v1/reverse/daemon", params={"what": "node_status"})
    assert r.status_code == 400
    r = requests.get(f"{cluster.endpoint}/v1/reverse/daemon", params={"what": "bogus"}, headers={"Ais-Node-Id": tid})
    assert r.status_code == 400


def test_cluster_stats_views(cluster: LocalCluster) -> None:
    sm = smap(cluster)
    stats = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "node_stats"}).json()
    assert set(stats) == set(sm["tmap"]) and all("tracker" in s for s in stats.values())
    sysinfo = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "sysinfo"}).json()
    assert set(sysinfo["target"]) == set(sm["tmap"]) and all(s["mem_avail"] > 0 for s in sysinfo["target"].values())
    mps = requests.get(f"{cluster.endpoint}/v1/cluster", params={"what": "mountpaths"}).json()
    assert {tid: sorted(v["available"]) for tid, v in mps.items()} == \
        {tid: sorted(m["path"] for m in t["mountpaths"]) for tid, t in sm["tmap"].items()}


def test_reset_errors_only_keeps_the_counts(cluster: LocalCluster, bucket: str) -> None:
    sm = smap(cluster)
    requests.put(f"{cluster.endpoint}/v1/objects/{bucket}/x", data=b"1")
    r = requests.put(f"{cluster.endpoint}/v1/cluster", json={"action": "reset-stats", "value": True})
    assert r.status_code == 200, r.text
    for tid in sm["tmap"]:
        tr = node_status(cluster, tid)["tracker"]
        assert not any(k.startswith("err.") for k in tr), tr
    assert sum(tracked(node_status(cluster, tid), "put.n") for tid in sm["tmap"]) >= 1


def test_proxy_metrics(cluster: LocalCluster) -> None:
    r = requests.get(f"{cluster.endpoint}/metrics")
    assert r.status_code == 200
    names = {s.name for fam in text_string_to_metric_families(r.text) for s in fam.samples}
    assert {"ais_proxy_smap_version", "ais_proxy_targets", "ais_proxy_uptime"} <= names


def test_sdk_get_performance(cluster: LocalCluster, sdk: object) -> None:
    perf = sdk.cluster().get_performance()  # type: ignore[attr-defined]
    assert set(perf) == set(smap(cluster)["tmap"])
    assert all("up.ns.time" in p["tracker"] and p["capacity"]["mountpaths"] for p in perf.values())
