#!/usr/bin/env bash
# Install the Node-based emulators (azurite, s3rver) into <repo>/.cache/node.
#
# Why a script: tests and benchmarks start these servers themselves, and nothing installed by
# hand survives a new machine. Idempotent: a no-op (well under a second) when both packages are
# already there at the pinned versions; a cold install takes ~30 s (azurite is large).
set -euo pipefail

AZURITE_VERSION="3.37.0"
S3RVER_VERSION="3.7.1"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${AIS_RAY_NODE_PREFIX:-$repo/.cache/node}"

installed_version() {  # prints the installed version of package $1, or nothing
    local pkg_json="$prefix/node_modules/$1/package.json"
    [[ -f "$pkg_json" ]] || return 0
    node -e 'process.stdout.write(require(process.argv[1]).version)' "$pkg_json"
}

if [[ "$(installed_version azurite)" == "$AZURITE_VERSION" \
   && "$(installed_version s3rver)" == "$S3RVER_VERSION" \
   && -x "$prefix/node_modules/.bin/azurite-blob" \
   && -x "$prefix/node_modules/.bin/s3rver" ]]; then
    echo "node tools already installed in $prefix"
    exit 0
fi

if ! command -v npm >/dev/null; then
    if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
    else
        echo "error: npm not found: install Node.js and npm (e.g. sudo apt-get install nodejs npm)" >&2
        exit 1
    fi
fi
mkdir -p "$prefix"
start=$(date +%s)
npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" \
    "azurite@$AZURITE_VERSION" "s3rver@$S3RVER_VERSION"
echo "installed azurite@$AZURITE_VERSION s3rver@$S3RVER_VERSION in $prefix ($(( $(date +%s) - start )) s)"
