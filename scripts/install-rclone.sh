#!/usr/bin/env bash
# Install Debian's `rclone`: the S3 API test copies a directory to and from the cluster with it
# (tests/integration/test_s3_tools.py, an S3 remote with provider Other at <endpoint>/s3).
# Idempotent: a no-op when `rclone` is on PATH. Needs root (apt-get); otherwise prints how.
set -euo pipefail

if command -v rclone >/dev/null; then
    echo "rclone already installed: $(command -v rclone)"
    exit 0
fi
if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rclone
    exit 0
fi
echo "warning: rclone not found and cannot apt-get install it (need root):" \
     "sudo apt-get install rclone; the rclone test will be skipped" >&2
