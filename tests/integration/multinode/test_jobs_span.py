"""Jobs spanning a membership change (issue 11 parts 6 and 7) on the multi-node cluster.

A copy-bck and a download — and, on their own, a prefetch of a listed S3 bucket — run while t3
goes into maintenance: none is aborted, each finishes
(`ais-ray wait ID` returns when all of it is done) with every object present exactly once,
byte-identical, at its HRW owner under the map with t3 out; a concurrent reader of the source
sees no failed GET. t3 is brought back (stop-maintenance, its rebalance waited for) before the
test returns: the package cluster is shared.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from typing import Any

import boto3
import pytest
import requests

from ais_ray.core.names import Bucket, Provider
from ais_ray.core.smap import FLAG_MAINTENANCE
from ais_ray.testing.emulators import MotoServer
from ais_ray.testing.httpsrc import Faults, HttpSrc
from tests.integration.multinode.conftest import MultiNode
from tests.integration.multinode.test_membership import dl_status, get, put_all
from tests.integration.test_rebalance import Reader, member, on_disk, wait_rebalance

pytestmark = pytest.mark.timeout(900)
LEAVES = "t3"
N_SRC = 400  # copy source objects: ~25 MiB, enough that one worker per disk is still copying
N_DL = 60


def xact_snaps(c: MultiNode, xid: str) -> list[dict[str, Any]]:
    r = requests.get(f"{c.endpoint}/v1/cluster", params={"what": "qryxstats"}, json={"ID": xid}, timeout=60)
    assert r.status_code == 200, r.text
    return [s for part in r.json().values() for s in part]


def running(c: MultiNode, xid: str) -> bool:
    r = requests.get(f"{c.endpoint}/v1/cluster", params={"what": "status"}, json={"ID": xid}, timeout=60)
    return r.status_code == 200 and not r.json()["end_time"]


def assert_once_at_owner(c: MultiNode, bck: str, data: dict[str, bytes]) -> None:
    """Every object listed once, stored exactly once, at its HRW place, with the bytes written."""
    smap = c.smap()
    where = on_disk(smap, Bucket(bck))
    assert set(where) == set(data), (sorted(set(data) - set(where))[:5], sorted(set(where) - set(data))[:5])
    for name, want in data.items():
        tsi, mp = smap.locate(Bucket(bck).uname(name))
        assert where[name] == [f"{tsi.daemon_id}:{mp.path}"], (name, where[name])
        assert get(c, bck, name) == want
    assert not any(w[0].startswith(LEAVES + ":") for w in where.values())
    ls = c.cli("ls", f"ais://{bck}", "--props", "name", "--no-headers", "--no-footer").stdout.split()
    assert ls == sorted(data)


def test_copy_and_download_span_a_maintenance(multinode: MultiNode, httpsrc: HttpSrc) -> None:
    c = multinode
    run = uuid.uuid4().hex[:6]
    src, dst, dl = f"js-src-{run}", f"js-dst-{run}", f"js-dl-{run}"
    data = {f"s{i % 5}/o{i:04d}": os.urandom((48 << 10) + 131 * i) for i in range(N_SRC)}
    put_all(c, src, data)
    srcdir = os.path.join(httpsrc.files.root, f"js-{run}")
    os.makedirs(srcdir)
    dl_data = {f"f{i:02d}": os.urandom((24 << 10) + i) for i in range(N_DL)}
    for name, body in dl_data.items():
        with open(os.path.join(srcdir, name), "wb") as f:
            f.write(body)
    before = c.smap()
    assert not before.targets[LEAVES].flags & FLAG_MAINTENANCE
    reader = Reader(c, Bucket(src), data)  # type: ignore[arg-type]
    # slow source: the download is mid-way whatever the machine's pace; it speeds up once t3 left
    httpsrc.faults = Faults(pacing_rate=8 << 10)
    try:
        r = requests.post(f"{c.endpoint}/v1/download", json={
            "type": "range", "bucket": {"name": dl}, "template": f"{httpsrc.url}/js-{run}/f{{00..{N_DL - 1}}}",
            "limits": {"connections": 2}}, timeout=30)
        assert r.status_code == 200, r.text
        dl_job = r.json()["id"]
        r = requests.post(f"{c.endpoint}/v1/buckets/{src}", params={"bck_to": f"ais/@#/{dst}/"},
                          json={"action": "copy-bck", "value": {"num-workers": 1}}, timeout=60)
        assert r.status_code == 200, r.text
        cp_job = r.text.strip().strip('"')
        reader.start()
        r = member(c, "start-maintenance", LEAVES)  # type: ignore[arg-type]
        assert r.status_code == 200 and r.text.startswith("g"), r.text
        reb = r.text
        spanned = running(c, cp_job)
        print(f"copy {cp_job} {'still running' if spanned else 'ended'} when rebalance {reb} started")
        assert dl_status(c, dl_job)["finished_time"].startswith("0001"), "the download must span the change"
        st = wait_rebalance(c, reb)  # type: ignore[arg-type]
        assert not st["aborted"] and not st["err"], st
        httpsrc.faults = Faults()
        # the jobs finish on their own: the same ids, not aborted, `wait` returns when all is done
        p = c.cli("wait", cp_job, "--timeout", "300s")
        assert f"job {cp_job} finished" in p.stdout, p.stdout
        deadline = time.monotonic() + 300
        while (dst_st := dl_status(c, dl_job))["finished_time"].startswith("0001"):
            assert time.monotonic() < deadline, dst_st
            time.sleep(0.5)
        reader.stop.set()
        reader.join(60)
        assert reader.gets > 0 and reader.failures == [], reader.failures[:5]
        assert dst_st["error_cnt"] == 0 and not dst_st["aborted"], dst_st
        snaps = xact_snaps(c, cp_job)
        assert snaps and not any(s["aborted"] or s["err"] for s in snaps), snaps
        assert sum(int(s["stats"]["loc-objs"]) for s in snaps) == N_SRC, snaps  # the last walk counts each once
        assert c.smap().targets[LEAVES].flags & FLAG_MAINTENANCE
        assert_once_at_owner(c, dst, data)
        assert_once_at_owner(c, dl, dl_data)
    finally:
        httpsrc.faults = Faults()
        reader.stop.set()
        back = member(c, "stop-maintenance", LEAVES)  # type: ignore[arg-type]
        if back.status_code == 200 and back.text.startswith("g"):
            wait_rebalance(c, back.text)  # type: ignore[arg-type]
        c.wait_smap(lambda s: not s.targets[LEAVES].flags & FLAG_MAINTENANCE, f"{LEAVES} back", 60)


N_PF = 240  # remote objects a prefetch brings in while t3 goes into maintenance
PF_RATE = 24 << 10  # bytes/s per connection to S3 while the cluster changes: ~3 objects/s each


def test_prefetch_of_a_listed_bucket_spans_a_maintenance(multinode: MultiNode, moto: MotoServer) -> None:
    """A prefetch of a whole S3 bucket (listed once for all targets) runs while t3 goes into
    maintenance: it is not aborted, it finishes, and every object is cached exactly once, at its
    HRW owner under the map with t3 out (none left behind on t3), with the remote's bytes."""
    c = multinode
    assert c.s3link is not None
    bucket = f"mn-pf-{uuid.uuid4().hex[:6]}"
    data = {f"d{i % 4}/o{i:04d}": os.urandom((6 << 10) + 17 * i) for i in range(N_PF)}
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    for name, body in data.items():  # straight to moto, not through the paced link
        s3.put_object(Bucket=bucket, Key=name, Body=body)
    bck = Bucket(bucket, Provider.AWS)
    before = c.smap()
    assert not before.targets[LEAVES].flags & FLAG_MAINTENANCE
    c.s3link.set_link(PF_RATE)
    try:
        p = c.cli("prefetch", f"s3://{bucket}", "--num-workers", "1")
        xid = re.search(r"prefetch-objects\[([^\]]+)\]", p.stdout).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 120
        while not any(int(s["stats"]["loc-objs"]) for s in xact_snaps(c, xid)):  # under way: some are cached
            assert time.monotonic() < deadline, xact_snaps(c, xid)
            time.sleep(0.2)
        r = member(c, "start-maintenance", LEAVES)  # type: ignore[arg-type]
        assert r.status_code == 200 and r.text.startswith("g"), r.text
        assert running(c, xid), "the prefetch must span the change"
        st = wait_rebalance(c, r.text)  # type: ignore[arg-type]
        assert not st["aborted"] and not st["err"], st
        c.s3link.set_link(0)
        p = c.cli("wait", xid, "--timeout", "300s")
        assert f"job {xid} finished" in p.stdout, p.stdout
        snaps = xact_snaps(c, xid)
        assert snaps and not any(s["aborted"] or s["err"] for s in snaps), snaps
        smap = c.smap()
        assert smap.targets[LEAVES].flags & FLAG_MAINTENANCE
        where = on_disk(smap, bck)
        assert set(where) == set(data), (sorted(set(data) - set(where))[:5], sorted(set(where) - set(data))[:5])
        for name in data:
            tsi, mp = smap.locate(bck.uname(name))
            assert where[name] == [f"{tsi.daemon_id}:{mp.path}"], (name, where[name])
        cached = [e["n"] for e in json.loads(c.cli("ls", f"s3://{bucket}", "--cached", "--json").stdout)]
        assert cached == sorted(data)
        with requests.Session() as sess:
            for name, want in data.items():
                r = sess.get(f"{c.endpoint}/v1/objects/{bucket}/{name}", params={"provider": "aws"}, timeout=30)
                assert r.status_code == 200 and r.content == want, (name, r.status_code)
    finally:
        c.s3link.set_link(0)
        back = member(c, "stop-maintenance", LEAVES)  # type: ignore[arg-type]
        if back.status_code == 200 and back.text.startswith("g"):
            wait_rebalance(c, back.text)  # type: ignore[arg-type]
        c.wait_smap(lambda s: not s.targets[LEAVES].flags & FLAG_MAINTENANCE, f"{LEAVES} back", 60)


def test_rename_across_a_maintenance_is_all_or_nothing(multinode: MultiNode) -> None:
    """A rebalance aborts a rename (as in AIStore): whichever way it ends — renamed before the
    rebalance began, or rolled back by it — every object is under exactly one of the two names,
    once, with its bytes; and the name that is left takes writes again."""
    c = multinode
    run = uuid.uuid4().hex[:6]
    src, dst = f"mv-src-{run}", f"mv-dst-{run}"
    data = {f"m{i % 4}/o{i:04d}": os.urandom((32 << 10) + 17 * i) for i in range(300)}
    put_all(c, src, data)
    try:
        r = requests.post(f"{c.endpoint}/v1/buckets/{src}", params={"bck_to": f"ais/@#/{dst}/"},
                          json={"action": "move-bck"}, timeout=60)
        assert r.status_code == 200, r.text
        job = r.text.strip().strip('"')
        r = member(c, "start-maintenance", LEAVES)  # type: ignore[arg-type]
        assert r.status_code == 200 and r.text.startswith("g"), r.text
        wait_rebalance(c, r.text)  # type: ignore[arg-type]
        p = c.cli("wait", job, "--timeout", "300s", check=False)
        names = set(c.cli("ls", "--no-headers").stdout.split())
        kept = dst if f"ais://{dst}" in names else src
        assert (f"ais://{src}" in names) != (f"ais://{dst}" in names), names  # exactly one name left
        if kept == dst:
            assert p.returncode == 0, p.stderr
        else:
            assert p.returncode == 1 and "aborted" in p.stderr, (p.stdout, p.stderr)
        print(f"rename {job}: {'renamed' if kept == dst else 'rolled back'}")
        assert_once_at_owner(c, kept, data)
        r = requests.put(f"{c.endpoint}/v1/objects/{kept}/after", data=b"open", timeout=30)
        assert r.status_code == 200, r.text
    finally:
        back = member(c, "stop-maintenance", LEAVES)  # type: ignore[arg-type]
        if back.status_code == 200 and back.text.startswith("g"):
            wait_rebalance(c, back.text)  # type: ignore[arg-type]
        c.wait_smap(lambda s: not s.targets[LEAVES].flags & FLAG_MAINTENANCE, f"{LEAVES} back", 60)
        for b in (src, dst):
            c.cli("rmb", f"ais://{b}", check=False)
