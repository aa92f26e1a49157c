# sync_workers: `make run` starts everything locally; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: install run demo test sandbox worker beat webhooks flower bench chaos lint migrate services clean help

help:
	@echo "make run      everything up locally (sandboxes when no real credentials are set)"
	@echo "make test     the whole test suite (needs Redis and PostgreSQL; starts them when it can)"
	@echo "make install | sandbox | worker | beat | webhooks | flower | migrate | lint | demo | bench | chaos"

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

services:
	@scripts/ensure-services.sh redis

migrate: install
	$(BIN)/python -m sync_workers.ledger upgrade

run: install services migrate
	$(BIN)/python -m sync_workers.devrun

sandbox: install
	$(BIN)/python -m sync_workers.sandboxes --seed

worker: install services
	$(BIN)/celery -A sync_workers worker -l INFO -Q orders,customers,payments,shipments,products,inventory,realtime

flower: install services
	$(BIN)/python -m sync_workers.observability.flower

# A target whose subsystem is not in this checkout says so and exits non-zero.
define need
@test -e $(1) || { echo "make $@: not available yet ($(1) is not built); see the README's status section." >&2; exit 2; }
endef

beat: install services
	$(call need,schedules/beat.py)
	$(BIN)/celery -A sync_workers beat -S redbeat.RedBeatScheduler -l INFO

webhooks: install services
	$(call need,sync_workers/webhooks)
	$(BIN)/python -m sync_workers.webhooks

demo: install services migrate
	$(call need,sync_workers/demo.py)
	$(BIN)/python -m sync_workers.demo

bench: install services migrate
	$(call need,bench/__main__.py)
	$(BIN)/python -m bench

chaos: install services migrate
	$(call need,chaos/__main__.py)
	$(BIN)/python -m chaos

test: install
	@scripts/ensure-services.sh redis postgres
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sync_workers

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
