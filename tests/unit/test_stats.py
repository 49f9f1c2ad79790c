"""Counters, their Prometheus names, disk rates and the `show performance` tables (no Ray)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ais_ray.cli.perf_cmds import file_sd
from ais_ray.stats import Counters
from ais_ray.stats.counters import flat, merge
from ais_ray.stats.disk import DiskCounts, parse_diskstats, rates
from ais_ray.stats.prom import Gauge, prom_name, render
from ais_ray.stats.status import tracker
from ais_ray.stats.views import capacity_table, col_name, counters_table, latency_table, throughput_table


def test_labels_sum_in_the_flat_view_and_unlabeled_ops_drop_theirs() -> None:
    c = Counters()
    c.add("get", 10, ns=100, label="ais://a")
    c.add("get", 5, ns=50, label="ais://b")
    c.add("dl", 7, label="ais://a")  # dl has no label: one series
    c.add_ns("put", 9, label="ais://a")
    lab = c.labeled()
    assert lab["get.n"] == {"ais://a": 1, "ais://b": 1} and lab["dl.n"] == {"": 1}
    assert flat(lab)["get.size"] == 15 and flat(lab)["get.ns.total"] == 150 and flat(lab)["put.ns.total"] == 9
    assert flat(merge([lab, lab]))["get.n"] == 4
    with pytest.raises(KeyError):
        c.add_ns("nope", 1)


def test_reset_errors_only() -> None:
    c = Counters()
    c.add("get", 1)
    c.add("err.get")
    c.reset(errors_only=True)
    assert flat(c.labeled()) == {"get.n": 1, "get.size": 1}
    c.reset()
    assert c.labeled() == {}


def test_prometheus_names_are_aistore_names() -> None:
    assert prom_name("target", "get.n") == "ais_target_get_count"
    assert prom_name("target", "get.size") == "ais_target_get_bytes"
    assert prom_name("target", "get.ns.total") == "ais_target_get_ns_total"
    assert prom_name("target", "err.get.n") == "ais_target_err_get_count"
    assert prom_name("target", "remote.get.n") == "ais_target_remote_get_count"
    c = Counters()
    c.add("get", 3, ns=7, label="ais://b")
    c.add("remote.get", 3, label="aws")
    text = render("target", "t1", c.labeled(), {"disk_util": Gauge("u", "disk", {"vda": 12.0})}).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("ais_target_get_count", (("bucket", "ais://b"), ("node_id", "t1")))] == 1
    assert samples[("ais_target_get_ns_total", (("bucket", "ais://b"), ("node_id", "t1")))] == 7
    assert samples[("ais_target_remote_get_bytes", (("backend", "aws"), ("node_id", "t1")))] == 3
    assert samples[("ais_target_disk_util", (("disk", "vda"), ("node_id", "t1")))] == 12
    assert "# TYPE ais_target_get_ns_total counter" in text and "# TYPE ais_target_get_count untyped" in text


def test_diskstats_rates() -> None:
    line = "   8       0 sda 100 0 2000 50 40 0 800 30 0 500 80 0 0 0 0 0 0"
    d = parse_diskstats(line + "\n junk\n")
    assert d["sda"] == DiskCounts(reads=100, read_bytes=2000 * 512, writes=40, write_bytes=800 * 512, io_ms=500)
    r = rates(DiskCounts(), d["sda"], 1.0)
    assert r.read_bps == 2000 * 512 and r.util == 50.0 and r.avg_rsize == 2000 * 512 / 100


def _status(**v: int) -> dict:
    return {"status": "online", "tracker": {k.replace("_", "."): {"v": str(x)} for k, x in v.items()},
            "capacity": {"mountpaths": {"/d/1": {"used": "1024", "avail": "2048", "pct_used": 33, "disks": ["vda"]}}}}


def test_counters_table_shows_non_zero_columns_errors_last_and_a_total() -> None:
    st = {"t2": _status(get_n=3, get_size=3072, err_get_n=1), "t1": _status(get_n=1, get_size=1024)}
    headers, rows = counters_table(st)
    assert headers == ["TARGET", "GET(n)", "GET(size)", "ERR-GET(n)"]
    assert rows == [["t1", "1", "1.00KiB", "0"], ["t2", "3", "3.00KiB", "1"], ["TOTAL", "4", "4.00KiB", "1"]]
    st["t2"]["status"] = "maintenance"
    headers, rows = counters_table(st)
    assert headers[-1] == "STATUS" and rows[1][-1] == "maintenance"
    assert col_name("del") == "DELETE" and col_name("err.lst") == "ERR-LIST"


def test_throughput_and_latency_from_two_samples() -> None:
    a = {"t1": _status(get_n=10, get_size=1000, get_ns_total=1000)}
    b = {"t1": _status(get_n=20, get_size=3000, get_ns_total=21_000_000)}
    headers, rows = throughput_table(a, b, 2.0)
    assert headers == ["TARGET", "GET(n)", "GET(bw)"] and rows == [["t1", "10", "1000B/s"]]
    headers, rows = latency_table(a, b)
    assert headers == ["TARGET", "GET(t)"] and rows == [["t1", "2.0999ms"]]
    assert throughput_table(b, b, 1.0)[0] == ["TARGET"]  # nothing moved: no metric columns


def test_capacity_table_and_tracker_and_file_sd() -> None:
    headers, rows = capacity_table({"t1": _status()})
    assert rows == [["t1", "/d/1", "vda", "1.00KiB", "2.00KiB", "33%"]]
    tr = tracker({"get.n": 2, "put.n": 0}, uptime_ns=5, flags=4, disks={})
    assert tr == {"get.n": {"v": "2"}, "up.ns.time": {"v": "5"}, "state.flags": {"v": "4"}}
    smap = {"tmap": {"t1": {"public_net": {"direct_url": "http://127.0.0.1:5001"}}}}
    assert file_sd(smap, "http://127.0.0.1:8080") == [
        {"targets": ["127.0.0.1:5001"], "labels": {"ais_node": "t1", "ais_role": "target"}},
        {"targets": ["127.0.0.1:8080"], "labels": {"ais_node": "primary", "ais_role": "proxy"}}]


def test_job_table_states_columns_and_total() -> None:
    from ais_ray.cli.job_table import job_table, state_of

    zero = "0001-01-01T00:00:00Z"
    assert state_of({"aborted": True, "err": "aborted"}) == "Aborted by user"
    assert state_of({"aborted": True, "err": "rebalance"}) == 'Aborted: "rebalance"'
    assert state_of({"end-time": "2026-01-01T00:00:01Z"}) == "Finished"
    assert state_of({"end-time": "2026-01-01T00:00:01Z", "err": "x"}) == 'Finished with errors: "x"'
    assert state_of({"end-time": zero}) == "Running" and state_of({"end-time": zero, "err": "e"}) == 'Running with errors: "e"'
    snap = {"id": "j1", "kind": "blob-download", "start-time": "2026-01-01T10:00:00.1Z", "end-time": zero,
            "stats": {"loc-objs": "2", "loc-bytes": "2048"}}
    headers, rows = job_table({"t1": [snap], "t2": [{**snap, "id": "j2"}]})
    assert headers == ["NODE", "ID", "KIND", "OBJECTS", "BYTES", "START", "END", "STATE"]  # bucket-less: no BUCKET
    assert rows[0] == ["t1", "j1", "blob-download", "2", "2.00KiB", "10:00:00", "-", "Running"]
    assert rows[-1][:5] == ["Total:", "", "", "4", "4.00KiB"]
    bck = {**snap, "bck": {"name": "b", "provider": "ais"}}
    headers, rows = job_table({"t1": [bck], "t2": [bck]})
    assert headers[3] == "BUCKET" and rows[0][3] == "ais://b" and len(rows) == 2  # one job: no total row


def test_grafana_dashboard_uses_only_metrics_that_exist() -> None:
    import json
    import re
    from pathlib import Path

    from ais_ray.stats.counters import COUNTERS, SUFFIXES

    dash = json.loads((Path(__file__).parents[2] / "deploy" / "grafana" / "ais-ray.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\bais_(?:target|proxy)_[a-z_]+\b(?!\.)", e)}
    known = {prom_name("target", op + sfx) for op in COUNTERS for sfx in SUFFIXES}
    known |= {f"ais_target_{g}" for g in ("uptime", "state_flags", "disk_read_bps", "disk_write_bps", "disk_util",
                                          "disk_avg_rsize", "disk_avg_wsize")}  # actors/target_stats.py
    known |= {f"ais_proxy_{g}" for g in ("uptime", "smap_version", "targets", "targets_offline")}  # serve/perf.py
    assert used and used <= known, used - known
    assert "ais_target_err_" in " ".join(exprs)  # the errors panel matches every err_*_count


def test_job_table_copy_jobs_show_src_and_dst() -> None:
    from ais_ray.cli.job_table import job_table

    snap = {"id": "c1", "kind": "copy-bck", "end-time": "2026-01-01T00:00:01Z", "stats": {"loc-objs": "3", "loc-bytes": "0"},
            "src-bck": {"name": "a", "provider": "aws"}, "bck": {"name": "b", "provider": "gcp"}}
    headers, rows = job_table({"t1": [snap]})
    assert headers[3:5] == ["SRC BUCKET", "DST BUCKET"] and rows[0][3:6] == ["s3://a", "gs://b", "3"]


def test_node_status_of_a_target_in_maintenance() -> None:
    import asyncio

    from ais_ray.actors.target_stats import TargetStats
    from ais_ray.core.smap import FLAG_MAINTENANCE, Snode

    st = asyncio.run(TargetStats("t1", []).node_status({}, Snode("t1", "target", "http://x", FLAG_MAINTENANCE), None))
    assert st["status"] == "maintenance" and st["snode"]["flags"] == FLAG_MAINTENANCE
    assert int(st["tracker"]["up.ns.time"]["v"]) > 0 and st["capacity"]["mountpaths"] == {}


def test_cluster_and_capacity_views_agree_on_percent_used() -> None:
    """`show cluster`'s CAP USED(%) and `show performance capacity`'s USED(%): used of the total
    (a filesystem's root reserve counts in neither used nor avail), each filesystem once."""
    from ais_ray.stats.status import capacity, fs_pct_used

    mps = [{"path": f"/d/mp{i}", "fs": "/dev/sda1", "used": 40, "avail": 55, "total": 100} for i in range(2)]
    assert fs_pct_used(mps) == 40 == capacity(mps, {})["mountpaths"]["/d/mp0"]["pct_used"]
    two = mps[:1] + [{"path": "/e", "fs": "/dev/sdb1", "used": 10, "avail": 85, "total": 100}]
    assert fs_pct_used(two) == 25 and fs_pct_used([]) == 0


def test_counts_taken_in_one_process_are_added_in_another() -> None:
    """`take` hands over what was counted since the last take (and zeroes it); `add_labeled` adds
    such counts into another node's counters (the S3 gateway's GETs, counted at their target)."""
    here, there = Counters(), Counters()
    there.add("get", 10, label="ais://b")
    here.add("get", 100, ns=7, label="ais://b")
    here.add("get", 50, label="ais://c")
    taken = here.take()
    assert taken == {"get.n": {"ais://b": 1, "ais://c": 1}, "get.size": {"ais://b": 100, "ais://c": 50},
                     "get.ns.total": {"ais://b": 7}}
    assert here.take() == {} and here.labeled() == {}
    there.add_labeled(taken)
    assert there.labeled()["get.n"] == {"ais://b": 2, "ais://c": 1}
    assert there.snapshot()["get.size"] == 160
