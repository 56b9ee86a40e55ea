# The two commands of the README, and the install step they share.
#   make up    - install (once) and run the whole pipeline: `headwater up`
#   make test  - install (once) and run the test suite against real Kafka and ClickHouse
# Needs Python 3.11+, and Java 17+ with Maven for the local Kafka broker; the client tests also
# need Node.js 18+ with npm, and Chromium (installed from Debian's packages when run as root).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: up test install clients containers compose-e2e lint bench bench-gateway bench-instructions bench-servers bench-sink \
	bench-processors bench-workflows

up: install
	$(BIN)/headwater up

test: install clients containers
	$(BIN)/pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Headwater needs Python 3.11+, found " + sys.version)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,test]'
	@touch $@

# tests/clients/: the vendors' JavaScript clients (npm ci) and Chromium for the browser trackers.
clients:
	@bash tests/clients/setup.sh

# tests/deploy/test_compose_live.py: podman, runc and debootstrap (installed as root when missing).
containers:
	@bash deploy/standins/setup.sh

# The ops path alone: build the images, run the compose stack, check it end to end, tear it down.
compose-e2e: install containers
	$(BIN)/pytest tests/deploy/test_compose_live.py

lint: install
	$(BIN)/pip install --quiet ruff mypy
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy runtime headwater gateway processors engine sinks schemas bench

# Every benchmark in turn (python -m bench): docs/benchmarks.json and the latest results on
# docs/performance.md. ARGS="--quick" runs each briefly, to check the wiring. Each target below
# runs one benchmark alone (BENCH_QUICK=1 makes it brief); bench/__init__.py lists what they measure.
bench: install
	$(BIN)/python -m bench $(ARGS)

bench-gateway: install
	$(BIN)/python -m bench.gateway

bench-instructions: install
	$(BIN)/python -m bench.gateway.instructions

bench-servers: install
	$(BIN)/python -m bench.gateway.servers

bench-sink: install
	$(BIN)/python -m bench.sinks

bench-processors: install
	$(BIN)/python -m bench.processors $(ARGS)

bench-workflows: install
	$(BIN)/python -m bench.workflows

.PHONY: bench-engine
bench-engine: install
	$(BIN)/python -m bench.engine $(ARGS)

.PHONY: bench-peer
bench-peer: install
	$(BIN)/python -m bench.peer

.PHONY: bench-pipeline
bench-pipeline: install
	$(BIN)/python -m bench.pipeline $(ARGS)
