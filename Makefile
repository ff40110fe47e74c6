# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := dev,redis,server,crypto,demo,docs

.PHONY: demo test lint types pytest docs docs-test system-deps client client-test bench bench-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

# Debian packages the tests use: real redis-server, PostgreSQL, MariaDB and memcached
# servers, and Chromium. Installed when missing and we are root (as in CI); otherwise the
# tests that need them skip outside CI.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-sentinel >/dev/null || missing="$$missing redis-sentinel"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null \
		|| missing="$$missing postgresql"; \
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing="$$missing mariadb-server"; \
	command -v memcached >/dev/null || missing="$$missing memcached"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "not root: cannot install$$missing"; fi; \
	fi

# The paywall lab's React client: installed from the lockfile, built into client/dist and
# copied into the lab's package data (src/sessionlab/paywall/client), which the wheel ships.
CLIENT_SOURCES := $(wildcard client/src/*) client/index.html client/vite.config.js
PACKAGED_CLIENT := src/sessionlab/paywall/client

client/node_modules/.installed: client/package-lock.json
	cd client && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(PACKAGED_CLIENT)/index.html: client/node_modules/.installed $(CLIENT_SOURCES)
	cd client && npm run build --silent

client: $(PACKAGED_CLIENT)/index.html

client-test: client/node_modules/.installed
	cd client && npm test --silent

lint: $(STAMP)
	$(BIN)/ruff check src tests docs $(wildcard bench)
	$(BIN)/ruff format --check src tests docs $(wildcard bench)

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps client
	$(BIN)/pytest

# The documentation site (docs/, Sphinx): `make docs` builds it into docs/_build/html with
# warnings as errors; `docs-test` also runs its code samples (the doctest builder).
SPHINX := $(BIN)/sphinx-build -W --keep-going -q -d docs/_build/doctrees

docs: $(STAMP)
	$(SPHINX) -b html docs docs/_build/html

docs-test: docs
	$(SPHINX) -b doctest docs docs/_build/doctest

test: lint types docs-test client-test pytest

demo: $(STAMP) client docs
	$(BIN)/sessionkeeper demo

# Benchmarks (bench/): wrk, redis-server and redis-benchmark from Debian, the competitors
# (Flask-Session, SQLAlchemy) from the `bench` extra. Not needed by `make test`.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[$(EXTRAS),bench]'
	touch $@

bench-deps:
	@missing=""; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-benchmark >/dev/null || missing="$$missing redis-tools"; \
	command -v taskset >/dev/null || missing="$$missing util-linux"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "not root: cannot install$$missing"; exit 1; fi; \
	fi

bench: $(BENCH_STAMP) bench-deps
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache client/node_modules client/dist $(PACKAGED_CLIENT) build docs/_build
