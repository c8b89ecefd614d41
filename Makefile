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
# stripe-mock serves Stripe's API from its OpenAPI spec for the billing tests and the demo.
STRIPE_MOCK_VERSION := v0.203.0
STRIPE_MOCK_STAMP := .cache/go/stripe-mock-$(STRIPE_MOCK_VERSION).stamp

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## install Python, Java and OS dependencies that are missing
$(VENV)/.installed: uv.lock pyproject.toml shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	@command -v uv >/dev/null || python3 -m pip install --quiet uv
	@command -v java >/dev/null && command -v mvn >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven; }
	@# WeasyPrint (billing's invoice PDFs) needs Pango and HarfBuzz's subsetter, and a font.
	@ldconfig -p | grep -q libpangoft2-1.0 && ldconfig -p | grep -q libharfbuzz-subset && [ -d /usr/share/fonts/truetype/dejavu ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; }
	@# The console's browser tests drive Debian's Chromium (Playwright's own browsers cannot be fetched); npm builds the console.
	@command -v chromium >/dev/null && command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium $$(command -v npm >/dev/null || echo nodejs npm); }
	uv sync --locked --quiet
	@touch $@

tools: $(STRIPE_MOCK_STAMP) ## build the pinned test tools (stripe-mock) into .cache/go/bin
$(STRIPE_MOCK_STAMP):
	@command -v go >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go; }
	GOBIN=$(abspath .cache/go/bin) go install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)
	@touch $@

# The console (console/): npm packages from its lock, then a Vite build into console/dist, which the
# gateway serves at `/`. Both steps run only when their inputs changed.
CONSOLE_SOURCES := $(shell find console/src -type f 2>/dev/null) console/index.html console/vite.config.js
console: console/dist/index.html ## build the web console (npm ci + vite build) when its sources changed
console/node_modules/.package-lock.json: console/package-lock.json console/package.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
console/dist/index.html: console/node_modules/.package-lock.json $(CONSOLE_SOURCES)
	cd console && npm run --silent build -- --logLevel warn
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

run: infra-up migrate tools console ## start everything, run the demo, keep serving until Ctrl-C
	@$(WITH_ENV) $(PY) scripts/run_stack.py --demo

demo: infra-up migrate tools console ## start everything, run the demo, print the summary and stop
	@$(WITH_ENV) $(PY) scripts/run_stack.py --demo --exit-after-demo

credits: install ## buy credits for ACCOUNT=<id> [PACKAGE=<code>] on the running `make run` stack (checkout + signed Stripe webhook)
	@[ -n "$(ACCOUNT)" ] || { echo "usage: make credits ACCOUNT=<account id> [PACKAGE=<package code>]"; exit 2; }
	@$(WITH_ENV) $(PY) scripts/credits.py --account "$(ACCOUNT)" $(if $(PACKAGE),--package "$(PACKAGE)")

test: install tools console ## the whole suite on its own infrastructure (starts and stops it)
	@$(PY) infra/local.py up; \
	$(WITH_ENV) CI=$${CI:-} $(VENV)/bin/pytest $(TEST_REPORT) $(PYTEST_ARGS); status=$$?; \
	$(PY) infra/local.py down; exit $$status

test-unit: install ## unit tests only (no infrastructure)
	$(VENV)/bin/pytest -m "not integration" $(PYTEST_ARGS)

lint: install k8s-schemas ## ruff, ruff format --check, mypy, import-linter, AsyncAPI/OpenAPI drift, deploy/ checks (no infrastructure)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/*/src
	$(VENV)/bin/lint-imports
	$(PY) scripts/asyncapi.py --check
	$(PY) scripts/openapi.py --check
	$(PY) deploy/tools/check.py

# Kubernetes validation, offline: tools and schemas come from package registries at pinned versions
# into the git-ignored .cache/k8s (deploy/README.md, "Validation").
K8S_CACHE := .cache/k8s
KUBECONFORM := $(K8S_CACHE)/bin/kubeconform
KUBECONFORM_VERSION := v0.8.0

$(KUBECONFORM):
	@command -v go >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go; }
	GOBIN=$(abspath $(K8S_CACHE)/bin) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

$(K8S_CACHE)/schemas/.complete: deploy/tools/k8s_schemas.py deploy/tools/strimzi/pom.xml $(VENV)/.installed
	@command -v mvn >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven; }
	$(PY) deploy/tools/k8s_schemas.py

k8s-schemas: install $(KUBECONFORM) $(K8S_CACHE)/schemas/.complete ## build the offline schema cache kubeconform validates against

deploy-generate: install ## regenerate deploy/base (KafkaTopics, consumer groups) from the code
	$(PY) deploy/tools/generate.py

deploy-check: k8s-schemas ## render every overlay, validate it offline, check policy and the Dockerfile
	$(PY) deploy/tools/check.py

IMAGE_TAG ?= dev
# The build host's CA bundle reaches the build as a secret (deploy/Dockerfile explains why).
comma := ,
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
BUILD_SECRET := $(if $(wildcard $(CA_BUNDLE)),--secret id=ca-bundle$(comma)src=$(CA_BUNDLE))
PYTHON_IMAGE ?=
# vfs and chroot work anywhere root does (no overlay filesystem, no user namespaces), if slowly.
BUILDAH_FLAGS ?= --storage-driver vfs
BUILD_ARGS := $(BUILD_SECRET) $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE))
CONTAINER_TOOL := $(shell for t in docker podman buildah; do command -v $$t >/dev/null && { [ $$t != docker ] || docker info >/dev/null 2>&1; } && { echo $$t; break; }; done)

images: ## build every service image (deploy/Dockerfile) with docker, podman or buildah, whichever works
	@[ -n "$(CONTAINER_TOOL)" ] || { echo "no working docker, podman or buildah (make image-tools installs buildah)"; exit 1; }
	@for s in $(SERVICES); do \
		echo "building igny8/$$s:$(IMAGE_TAG) with $(CONTAINER_TOOL)"; \
		if [ "$(CONTAINER_TOOL)" = buildah ]; then \
			buildah $(BUILDAH_FLAGS) bud --isolation chroot --layers $(BUILD_ARGS) -f deploy/Dockerfile --build-arg SERVICE=$$s -t igny8/$$s:$(IMAGE_TAG) . || exit 1; \
		else \
			$(CONTAINER_TOOL) build $(BUILD_ARGS) -f deploy/Dockerfile --build-arg SERVICE=$$s -t igny8/$$s:$(IMAGE_TAG) . || exit 1; \
		fi; \
	done

image-tools: ## install buildah and mmdebstrap from Debian (for images without a registry)
	@command -v buildah >/dev/null && command -v mmdebstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah mmdebstrap uidmap; }

IMAGE_SERVICE ?= billing
image-debian: image-tools install ## build one service image from Debian packages only (IMAGE_SERVICE=billing)
	deploy/tools/image_from_debian.sh $(IMAGE_SERVICE) $(IMAGE_TAG)

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
	@$(WITH_ENV) $(PY) bench/publishing_bench.py
	@$(WITH_ENV) $(PY) bench/multisite.py

clean: infra-down ## remove infrastructure state (keeps the jar cache)
	rm -rf .infra .env.infra

.PHONY: help install tools console lock infra-up infra-down infra-status migrate run demo credits test test-unit lint fmt asyncapi openapi bench clean k8s-schemas deploy-generate deploy-check images image-tools image-debian
