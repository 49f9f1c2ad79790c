"""AIStore's own failure script `cp-rmnode-rebalance.sh` (ais-wire-2 §6), one round of its loop, run
by bash with `ais` as a function calling `ais-ray`: its commands and checks as written — `archive
gen-shards`, `cp --template ""` (a copy-objects job), `advanced random-node`, `add-remove-nodes
start-maintenance` during the copy, `wait copy-objects`, counts from `ls --no-headers | wc -l`
and the third column of `ls --summary --no-headers`, `stop-maintenance`, `wait rebalance`.
Fewer shards (99, not 999) keep it short; the drills (`test_drills.py`) repeat the three seeds."""

from __future__ import annotations

import shlex
import subprocess
import uuid

import requests

from tests.integration.conftest import AIS_RAY
from tests.integration.multinode.conftest import MultiNode

SCRIPT = r"""
ais() { __AIS_RAY__ "$@"; }
src=ais://$SRC
dst=ais://$DST
ais bucket rm $src $dst -y 2>/dev/null
ais create $src || exit 1
ais archive gen-shards "$src/shard-{001..099}.tgz" || exit 1

num=$(ais ls $src --no-headers | wc -l)
[[ $num == 99 ]] || { echo "FAIL: $num != 99"; exit 1; }

cleanup() {
  [[ -z "$node" ]] || ais cluster add-remove-nodes stop-maintenance $node
}
trap cleanup EXIT INT TERM

## 1. start copying
ais cp $src $dst --template "" || exit 1

## randomize event timing: traffic vs cluster losing a node
sleep $((RANDOM % 3))

## 2. remove a random node (rebalance)
node=$(ais advanced random-node)
ais cluster add-remove-nodes start-maintenance $node -y || exit 1
sleep 2

## 3. wait for the copying job to finish
ais wait copy-objects || exit 1

## 4. check numbers
res=$(ais ls $dst --no-headers | wc -l)
[[ $num == $res ]] || { echo "FAIL: destination $dst: $res != $num"; exit 1; }
res=$(ais ls $src --summary --no-headers | awk '{print $3}')
[[ $num == $res ]] || { echo "FAIL: source $src: $res != $num"; exit 1; }

## 5. join back; a rebalance still running is aborted and restarted
ais cluster add-remove-nodes stop-maintenance $node || exit 1
node=""

## 6. wait for the rebalance, check again
ais wait rebalance || exit 1
res=$(ais ls $dst --summary --no-headers | awk '{print $3}')
[[ $num == $res ]] || { echo "FAIL: destination $dst after rebalance: $res != $num"; exit 1; }
res=$(ais ls $src --summary --no-headers | awk '{print $3}')
[[ $num == $res ]] || { echo "FAIL: source $src after rebalance: $res != $num"; exit 1; }
ais bucket rm $src $dst -y || exit 1
echo PASS
"""


def test_cp_rmnode_rebalance_script(multinode: MultiNode) -> None:
    script = SCRIPT.replace("__AIS_RAY__", " ".join(shlex.quote(a) for a in AIS_RAY))
    env = {**multinode.env(), "SRC": f"seed-src-{uuid.uuid4().hex[:6]}", "DST": f"seed-dst-{uuid.uuid4().hex[:6]}"}
    p = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0 and p.stdout.strip().endswith("PASS"), f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    # the copy was the copy-objects job the script waits for (`--template ""`), not a copy-bucket
    r = requests.get(f"{multinode.endpoint}/v1/cluster", params={"what": "qryxstats"},
                     json={"kind": "copy-listrange"}, timeout=30)
    assert r.status_code == 200, r.text
    dsts = {s["dst-bck"]["name"] for part in r.json().values() for s in part or () if s.get("dst-bck")}
    assert env["DST"] in dsts, dsts
