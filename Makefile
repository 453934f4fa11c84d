# The README's two commands live here: `make demo` and `make test`.
# Both bootstrap .venv themselves; `make test` also installs (as root) or names
# (otherwise) the Debian packages the suite needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# System packages the suite needs: a virtual screen for the Kivy windows, the
# input library Kivy loads, GL for rendering, `ip` for network namespaces.
SYSTEM_PACKAGES := xvfb xauth libmtdev1 libgl1-mesa-dri libxtst6 iproute2 postgresql
export DEBIAN_FRONTEND := noninteractive

.PHONY: all demo test lint typecheck pytest bench soak clean system-deps venv

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tablemesh needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,bench]'
	@touch $@

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "MISSING system packages:$$missing"; \
	  echo "  install them with: sudo apt-get install$$missing"; \
	  echo "  (tests that need them are skipped, each saying why)"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

# pytest exits 5 when it collected nothing; make treats that, like any failure, as red.
test: system-deps lint typecheck pytest

demo: $(STAMP)
	$(BIN)/tablemesh demo

# Quick runs by default; `make bench BENCH=--full` for the full ones (docs/benchmarks.md).
BENCH ?= --quick
# etcd is one of the peers bench/peers.py compares against; installed here when root.
bench: $(STAMP)
	@command -v etcd >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends etcd-server >/dev/null; } || \
	  echo "etcd missing: bench/peers.py skips it (sudo apt-get install etcd-server)"
	$(BIN)/tablemesh bench $(BENCH)

# Fault-injection soak: SEEDS random schedules on real processes in network
# namespaces (needs root); see docs/testing.md. `make soak SEEDS=20 SEED=501`.
SEEDS ?= 5
soak: system-deps $(STAMP)
	$(BIN)/python -m tests.fault.soak --seeds $(SEEDS) $(if $(SEED),--seed $(SEED))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis tests/artifacts bench/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
