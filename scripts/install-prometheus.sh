#!/usr/bin/env bash
# Install Debian's `prometheus` server binary: the observability test starts one on 127.0.0.1
# and scrapes every node's /metrics (tests/integration/test_metrics_prometheus.py).
# Idempotent: a no-op when `prometheus` is on PATH. Needs root (apt-get); otherwise prints how.
set -euo pipefail

if command -v prometheus >/dev/null; then
    echo "prometheus already installed: $(command -v prometheus)"
    exit 0
fi
if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq
    # --no-install-recommends: the server binary only, not its node exporter and web assets' extras
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    # the package starts a system service where an init system runs; the tests start their own
    exit 0
fi
echo "warning: prometheus not found and cannot apt-get install it (need root):" \
     "sudo apt-get install prometheus; the Prometheus test will be skipped" >&2
