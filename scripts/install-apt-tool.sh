#!/usr/bin/env bash
# install-apt-tool.sh COMMAND [PACKAGE] WHAT: install Debian's PACKAGE (default COMMAND) so that
# COMMAND is on PATH for the test named WHAT. Idempotent: a no-op when COMMAND is on PATH.
# Needs root (apt-get); otherwise prints how, and the test skips itself.
# (scripts/install-prometheus.sh, scripts/install-rclone.sh)
set -euo pipefail

cmd="$1"
pkg="${3:+$2}"; pkg="${pkg:-$cmd}"
what="${3:-$2}"
if command -v "$cmd" >/dev/null; then
    echo "$cmd already installed: $(command -v "$cmd")"
    exit 0
fi
if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq
    # --no-install-recommends: the binary only; a package that starts a system service where an
    # init system runs (prometheus) is harmless: the tests start their own
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg"
    exit 0
fi
echo "warning: $cmd not found and cannot apt-get install it (need root):" \
     "sudo apt-get install $pkg; $what will be skipped" >&2
