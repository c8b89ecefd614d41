# IGNY8 platform — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3
SERVICES := gateway billing automation integration publishing
VENV := .venv
PY := $(VENV)/bin/python
WITH_ENV := set -a; [ -f .env.infra ] && . ./.env.infra; set +a;
PYTEST_ARGS ?=
# The 30 slowest tests are printed after every `make test`, so a slow one is seen when it lands.
TEST_REPORT := --durations=30

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## install Python, Java and OS dependencies that are missing
$(VENV)/.installed: uv.lock pyproject.toml shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	@command -v uv >/dev/null || python3 -m pip install --quiet uv
	@command -v java >/dev/null && command -v mvn >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven; }
	uv sync --locked --quiet
	@touch $@

lock: ## refresh uv.lock after changing a pyproject.toml
	uv lock

infra-up: install ## start private Kafka (KRaft) and PostgreSQL; writes .env.infra
	$(PY) infra/local.py up

infra-down: ## stop private Kafka and PostgreSQL
	@[ -x $(PY) ] && $(PY) infra/local.py down || true

infra-status: ## show what runs where
	@$(PY) infra/local.py status

migrate: infra-up ## migrate every service database to head
	@$(WITH_ENV) for s in $(SERVICES); do $(VENV)/bin/$$s migrate || exit 1; echo "migrated $$s"; done

run: infra-up migrate ## start everything, run the demo, keep serving until Ctrl-C
	@$(WITH_ENV) $(PY) scripts/run_stack.py --demo

demo: infra-up migrate ## start everything, run the demo, print the summary and stop
	@$(WITH_ENV) $(PY) scripts/run_stack.py --demo --exit-after-demo

test: install ## the whole suite on its own infrastructure (starts and stops it)
	@$(PY) infra/local.py up; \
	$(WITH_ENV) CI=$${CI:-} $(VENV)/bin/pytest $(TEST_REPORT) $(PYTEST_ARGS); status=$$?; \
	$(PY) infra/local.py down; exit $$status

test-unit: install ## unit tests only (no infrastructure)
	$(VENV)/bin/pytest -m "not integration" $(PYTEST_ARGS)

lint: install ## ruff, ruff format --check, mypy, import-linter, AsyncAPI and OpenAPI drift (no infrastructure)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/*/src
	$(VENV)/bin/lint-imports
	$(PY) scripts/asyncapi.py --check
	$(PY) scripts/openapi.py --check

fmt: install ## format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

asyncapi: install ## regenerate docs/asyncapi/ from the topic registry
	$(PY) scripts/asyncapi.py

openapi: install ## regenerate docs/openapi/ from every service's routes
	$(PY) scripts/openapi.py

bench: infra-up ## benchmarks; each prints JSON
	@$(WITH_ENV) $(PY) bench/bus.py
	@$(WITH_ENV) $(PY) bench/billing_ledger.py
	@$(WITH_ENV) $(PY) bench/gateway.py
	@$(WITH_ENV) $(PY) bench/pipeline.py

clean: infra-down ## remove infrastructure state (keeps the jar cache)
	rm -rf .infra .env.infra

.PHONY: help install lock infra-up infra-down infra-status migrate run demo test test-unit lint fmt asyncapi openapi bench clean
