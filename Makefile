# The two commands of the README. Everything installs into ./.venv (and ./.cache/node for the
# npm-based emulators); nothing is needed beyond python3 (with venv), make and npm.
VENV   ?= .venv
PYTHON ?= python3
PIP    := $(VENV)/bin/pip

.PHONY: demo test fuzz setup setup-test setup-bench bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

setup-test: setup
	scripts/install-node-tools.sh
	scripts/install-prometheus.sh
	scripts/install-rclone.sh

PORT     ?= 8080
DATA_DIR ?=

demo: setup                ## start a local cluster and download a sample dataset into it, with progress (PORT=, DATA_DIR=)
	PORT=$(PORT) DATA_DIR=$(DATA_DIR) scripts/demo.sh

test: setup-test           ## unit + integration tests (real Ray cluster, real emulators)
	scripts/run-tests.sh

FUZZ_TIME ?= 600

fuzz: setup-test           ## schemathesis over /openapi.json for FUZZ_TIME seconds (default 600): no input may answer 5xx
	AIS_RAY_FUZZ_TIME=$(FUZZ_TIME) AIS_RAY_FUZZ_SEED=$$RANDOM $(VENV)/bin/python -m pytest tests/integration/test_fuzz.py -x -p no:cacheprovider

setup-bench: setup-test
	$(PIP) install --quiet -e '.[bench]'
	scripts/install-bench-tools.sh

bench: setup-bench         ## every benchmark, one after another (~1 h; see benchmarks/README.md)
	$(VENV)/bin/python benchmarks/bench_objects.py --no-fsync-rows
	$(VENV)/bin/python benchmarks/bench_remote.py
	$(VENV)/bin/python benchmarks/bench_download.py
	$(VENV)/bin/python benchmarks/bench_blob.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
