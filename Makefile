# The front door of the CRM suite. `make help` lists what is here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=
# Test files can run on pytest-xdist workers, each file whole on one worker and in collection
# order (docs/adr/0071-parallel-test-workers.md). 0 (the default) runs everything in this one
# process: on a 2-core machine 4 workers were slower than one (concurrent stacks' start-up starves
# the CPU). WORKERS=4 is for machines with more cores.
WORKERS ?= 0
XDIST = -n $(WORKERS) --dist loadfile --no-loadscope-reorder

.DEFAULT_GOAL := help
.PHONY: help install up up-distributed services migrate tenant test test-unit test-integration test-e2e test-fault lint fmt typecheck bench protos openapi clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create .venv and install the suite with its dev tools (pinned in pyproject.toml)

up: install ## run the whole suite in one process (SQLite, in-process bus) on 127.0.0.1:8080
	@$(BIN)/crm migrate
	@echo ""
	@echo "  CRM suite: gateway on http://$${CRM_GATEWAY_ADDR:-127.0.0.1:8080}  (API reference: /openapi.json)"
	@echo "  In another terminal, create a tenant and its admin API key:"
	@echo "      make tenant NAME=acme        (or: $(BIN)/crm admin create-tenant acme)"
	@echo "  then follow README.md: curl -H 'Authorization: Bearer <apiKey>' .../v1/contacts"
	@echo ""
	@$(BIN)/crm run --target all

up-distributed: install services ## every target its own process on PostgreSQL/RabbitMQ/Redis, 2 replicas of contacts, marketing, relay
	$(BIN)/python tools/run_distributed.py $(if $(REPLICAS),--replicas $(REPLICAS))

migrate: install ## create databases and apply every migration (and declare queues on RabbitMQ)
	$(BIN)/crm migrate

tenant: install ## create a tenant and print its admin API key: make tenant NAME=acme
	@$(BIN)/crm admin create-tenant "$(or $(NAME),demo)"

test: install services lint typecheck ## lint, type-check and run every test (WORKERS=N: on N parallel workers; needs PostgreSQL and RabbitMQ: see README)
	$(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

test-unit: install ## only the unit tests (no services needed)
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

test-integration: install services ## only the integration tests (PostgreSQL, RabbitMQ)
	$(BIN)/python -m pytest -q $(XDIST) tests/integration $(PYTEST_ARGS)

test-e2e: install services ## only the end-to-end tests (the suite as separate processes)
	$(BIN)/python -m pytest -q $(XDIST) tests/e2e $(PYTEST_ARGS)

test-fault: install services ## only the fault tests (kill -9 brokers, databases, processes; about 2 minutes)
	$(BIN)/python -m pytest -q -s tests/fault $(PYTEST_ARGS)

services: ## start the local PostgreSQL, RabbitMQ and Redis if down; raise their limits for the suite (ADR 89)
	@bash tools/local-services.sh

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install ## format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy on the shared library, the domain modules and the gateway
	$(BIN)/mypy crmkit gateway suite services/*/domain.py services/support/domain services/sales/domain services/contacts/dedup.py services/contacts/survivorship.py services/marketing/domain

bench: install services ## benchmarks next to raw baselines; writes bench/report.md (SIZE=2000 by default)
	$(BIN)/python -m bench.run --size $(or $(SIZE),2000)

protos: install ## regenerate gen/ from protos/ (a test fails when gen/ is stale)
	$(BIN)/python tools/gen_protos.py

openapi: install ## print the generated OpenAPI document
	@$(BIN)/crm openapi

clean: ## remove the virtualenv, local databases and caches
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
