#!/usr/bin/env bash
# Install Debian's `prometheus` server binary: the observability test starts one on 127.0.0.1
# and scrapes every node's /metrics (tests/integration/test_metrics_prometheus.py).
exec "$(dirname "$0")/install-apt-tool.sh" prometheus "the Prometheus test"
