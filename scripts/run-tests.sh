#!/usr/bin/env bash
# Run the whole suite once: unit tests (no Ray) and integration tests (one real ais-ray
# cluster for the session, real emulators). Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run-tests: pytest collected no tests (exit 5) - treating as a failure" >&2
    exit 1
fi
exit "$rc"
