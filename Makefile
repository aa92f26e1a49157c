# sync_workers: `make run` starts everything locally; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency, runtime and dev, pinned with hashes (`make lock` writes both files).
LOCK := requirements/dev.txt
RUNTIME_LOCK := requirements/runtime.txt
LATEST := .venv-latest
UPGRADE ?= --upgrade
COMPILE = $(BIN)/uv pip compile pyproject.toml requirements/build.in --universal \
	--python-version 3.11 --generate-hashes --custom-compile-command "make lock" --quiet

ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: install lock deps-latest run demo test sandbox worker beat webhooks flower bench chaos chaos-smoke chaos-hosts lint migrate services clean help

help:
	@echo "make run      everything up locally (sandboxes when no real credentials are set)"
	@echo "make test     the whole test suite (needs Redis, PostgreSQL and RabbitMQ; starts them when it can)"
	@echo "make install | sandbox | worker | beat | webhooks | flower | migrate | lint | demo | bench | chaos | chaos-smoke"
	@echo "make chaos-hosts  chaos with the workers on 2 hosts (network namespaces; as root), each cut off in turn"
	@echo "make lock     re-resolve the lock within pyproject.toml's ranges (UPGRADE= keeps current pins)"
	@echo "make deps-latest  the suite on the newest versions the ranges allow, in a throwaway venv"

install: $(STAMP)

# Exactly the locked versions, hash-checked; the project itself is built without isolation from
# the locked setuptools, so nothing unlocked is downloaded.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	$(BIN)/python scripts/check-lock.py $(LOCK)
	@touch $(STAMP)

lock: install
	$(COMPILE) --extra dev $(UPGRADE) -o $(LOCK)
	$(COMPILE) -c $(LOCK) -o $(RUNTIME_LOCK)
	@$(BIN)/python scripts/check-lock.py --newer $(LOCK)

deps-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	@echo "Newer than the lock:"; $(LATEST)/bin/python scripts/check-lock.py --newer $(LOCK)
	@scripts/ensure-services.sh redis postgres
	$(LATEST)/bin/python -m pytest -q -p no:cacheprovider \
		--deselect tests/deploy/test_lock.py::test_installed_versions_equal_the_lock $(PYTEST_ARGS)

services:
	@scripts/ensure-services.sh redis

migrate: install
	$(BIN)/python -m sync_workers.ledger upgrade

run: install services migrate
	$(BIN)/python -m sync_workers.devrun

sandbox: install
	$(BIN)/python -m sandboxes --seed

worker: install services
	$(BIN)/celery -A sync_workers worker -l INFO -Q orders,customers,payments,shipments,products,inventory,realtime

flower: install services
	$(BIN)/python -m sync_workers.observability.flower

beat: install services
	$(BIN)/celery -A sync_workers beat -S redbeat.RedBeatScheduler -l INFO

webhooks: install services
	$(BIN)/python -m sync_workers.webhooks

demo: install services migrate
	$(BIN)/python -m sync_workers.demo

bench: install services migrate
	@scripts/ensure-services.sh redis rabbitmq
	$(BIN)/python -m bench

# Every fault over 10,000 orders. `python -m chaos --hosts N` puts the workers on N hosts
# (network namespaces the run makes and removes, loopback-only; needs root and iproute2) and
# `--partition-every S --partition-seconds D` cuts one host at a time off from the broker,
# Redis, the sandboxes and the ledger (`--partition-mode drop|down`); see docs/proof.md.
chaos: install services migrate
	$(BIN)/python -m chaos

# 100 orders, every fault of `make chaos`, the workers on two hosts, each cut off in turn for
# 20 s, the ledger on PostgreSQL (longer cuts settle more slowly: docs/proof.md).
chaos-hosts: install services
	$(BIN)/python -m chaos --orders 100 --rate 5 --kill-every 20 --hosts 2 --workers 2 \
		--partition-every 20 --partition-seconds 20 --database postgres --settle-timeout 600 \
		--output bench/results/chaos-hosts.json

# A few hundred orders under every fault of `make chaos` (kills of pool children and main
# processes, a Redis and a beat restart, API faults), in about four minutes; CI runs it.
chaos-smoke: install services
	$(BIN)/python -m chaos --orders 300 --kill-every 10 --settle-timeout 420 \
		--output bench/results/chaos-smoke.json

test: install
	@scripts/ensure-services.sh redis postgres rabbitmq
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sync_workers sandboxes

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .mypy_cache .ruff_cache
