# The two commands of the README. Everything installs into ./.venv (and ./.cache/node for the
# npm-based emulators); nothing is needed beyond python3 (with venv), make and npm.
VENV   ?= .venv
PYTHON ?= python3
PIP    := $(VENV)/bin/pip

.PHONY: demo test setup setup-test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

setup-test: setup
	scripts/install-node-tools.sh

demo: setup                ## start a local cluster and download a sample dataset into it, with progress
	scripts/demo.sh

test: setup-test           ## unit + integration tests (real Ray cluster, real emulators)
	scripts/run-tests.sh

bench: setup-test          ## benchmarks (see benchmarks/README.md)
	$(PIP) install --quiet -e '.[bench]'
	$(VENV)/bin/python benchmarks/bench_objects.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
