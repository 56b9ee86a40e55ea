# The two commands of the README, and the install step they share.
#   make up    - install (once) and run the whole pipeline: `headwater up`
#   make test  - install (once) and run the test suite against real Kafka and ClickHouse
# Needs Python 3.11+, and Java 17+ with Maven for the local Kafka broker; the client tests also
# need Node.js 18+ with npm, and Chromium (installed from Debian's packages when run as root).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: up test install clients lint bench bench-instructions bench-servers bench-sink bench-processors

up: install
	$(BIN)/headwater up

test: install clients
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

lint: install
	$(BIN)/pip install --quiet ruff mypy
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy runtime headwater gateway processors sinks schemas

# The gateway's throughput and latency (bench/gateway.py); which HTTP server (bench/http_server.py);
# the ClickHouse sink's rows/s and end-to-end freshness (bench/sink.py).
bench: install
	$(BIN)/python bench/gateway.py

bench-instructions: install
	$(BIN)/python -P bench/gateway_instructions.py

bench-servers: install
	$(BIN)/python bench/http_server.py

bench-sink: install
	$(BIN)/python bench/sink.py

bench-processors: install
	$(BIN)/python bench/process.py $(ARGS)
