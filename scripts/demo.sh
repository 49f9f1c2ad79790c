#!/usr/bin/env bash
# The main job on the embedded default: start a local ais-ray cluster (2 targets x 2 mountpaths,
# REST API on 127.0.0.1:8080), serve a sample dataset over HTTP from this machine (no Internet
# needed), and download it into the cluster with progress bars. The cluster keeps running:
# `.venv/bin/ais-ray down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
AIS=.venv/bin/ais-ray
PY=.venv/bin/python
SRC=.cache/demo-source
SHARDS=${DEMO_SHARDS:-32}
PORT=${PORT:-8080}                      # make demo PORT=9090 DATA_DIR=/tmp/ais-demo
UP_ARGS=(--port "$PORT")
if [[ -n "${DATA_DIR:-}" ]]; then
    UP_ARGS+=(--data-dir "$DATA_DIR")
    export AIS_RAY_DATA_DIR="$DATA_DIR"
fi
export AIS_ENDPOINT="http://127.0.0.1:$PORT"
SHARD_MIB=${DEMO_SHARD_MIB:-8}

mkdir -p "$SRC/imagenet"
if [[ ! -f "$SRC/imagenet/train-$(printf %03d $((SHARDS - 1))).tar" ]]; then
    echo "making a sample dataset: $SHARDS shards x $SHARD_MIB MiB in $SRC"
    for i in $(seq 0 $((SHARDS - 1))); do
        head -c $((SHARD_MIB << 20)) /dev/urandom > "$SRC/imagenet/train-$(printf %03d "$i").tar"
    done
fi

$AIS up "${UP_ARGS[@]}"

# An HTTP source capped at 2 MiB/s per connection (like a real remote server, and slow enough
# to watch the bars), on a free port.
$PY -m ais_ray.testing.httpsrc --dir "$SRC" --host 127.0.0.1 --port 0 --pacing-rate $((2 << 20)) > .cache/demo-httpsrc.out 2>&1 &
SRC_PID=$!
trap 'kill "$SRC_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [[ -s .cache/demo-httpsrc.out ]] && break; sleep 0.1; done
URL=$(head -1 .cache/demo-httpsrc.out)
echo "sample dataset served at $URL"

$AIS start download "$URL/imagenet/train-{000..$(printf %03d $((SHARDS - 1)))}.tar" ais://demo/imagenet/ --progress
$AIS ls ais://demo --props name,size,checksum,location | tail -n 6
echo
echo "The cluster is still up: try \`$AIS ls ais://demo\`, \`$AIS show cluster\`, or the aistore SDK at $AIS_ENDPOINT."
echo "Stop it with: $AIS down${DATA_DIR:+ --data-dir $DATA_DIR}"
