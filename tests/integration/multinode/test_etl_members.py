"""ETL across membership changes (issue 13): a target that joins gets every running ETL's workers
(its objects transform inline at once); one decommissioned has them torn down and `etl show`
keeps answering. Restores the membership it changes (t5 joins, then is decommissioned)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from ais_ray.core.names import Bucket
from tests.integration.multinode.conftest import MultiNode

UPPER = "def transform(data, path, args):\n    return data.upper()\n"


def _metric_targets(c: MultiNode, name: str) -> set[str]:
    r = requests.get(f"{c.endpoint}/v1/etl/{name}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    return {m["target_id"] for m in r.json()}


def _until(what: str, ok: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, what
        time.sleep(1)


def test_joining_target_gets_the_workers(multinode: MultiNode, tmp_path: Path) -> None:
    c = multinode
    name, bck = f"mn-up-{uuid.uuid4().hex[:6]}", f"mn-etl-{uuid.uuid4().hex[:6]}"
    (tmp_path / "upper.py").write_text(UPPER)
    c.cli("etl", "init", "code", "--name", name, "--from-file", str(tmp_path / "upper.py"), "--num-workers", "1",
          timeout=300)
    c.cli("create", f"ais://{bck}")
    try:
        assert _metric_targets(c, name) == set(c.smap().targets)
        c.start_node("t5")
        smap = c.wait_smap(lambda s: "t5" in s.targets, "t5 joined", 120)
        _until("t5's ETL workers", lambda: "t5" in _metric_targets(c, name), 120)
        on_t5 = next(f"o{i}" for i in range(1000) if smap.owner(Bucket(bck).uname(f"o{i}")).daemon_id == "t5")
        r = requests.put(f"{c.endpoint}/v1/objects/{bck}/{on_t5}", data=b"joined", timeout=60)
        assert r.status_code == 200, r.text
        r = requests.get(f"{c.endpoint}/v1/objects/{bck}/{on_t5}", params={"etl_name": name}, timeout=60)
        assert (r.status_code, r.content) == (200, b"JOINED"), r.text
        c.cli("cluster", "add-remove-nodes", "decommission", "t5", "-y", timeout=300)
        c.wait_smap(lambda s: "t5" not in s.targets, "t5 gone", 240)
        assert _metric_targets(c, name) == set(c.smap().targets)
        p = c.cli("etl", "show")
        assert name in p.stdout and "Running" in p.stdout
        r = requests.get(f"{c.endpoint}/v1/objects/{bck}/{on_t5}", params={"etl_name": name}, timeout=60)
        assert (r.status_code, r.content) == (200, b"JOINED"), r.text  # moved to a remaining target
    finally:
        c.cli("etl", "rm", name, check=False)
        c.cli("rmb", f"ais://{bck}", check=False)
