# The order engine. `make dev` runs it, `make test` tests it; both install what they need first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS ?= .tools
UV := $(TOOLS)/uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin

# Local defaults that work on a machine with Postgres and RabbitMQ on localhost; the environment wins.
DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/orders
AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/%2F
API_PORT ?= 8000
NOTIFIER_PORT ?= 8001
WORKER_PORT ?= 8002
export DATABASE_URL AMQP_URL API_PORT NOTIFIER_PORT WORKER_PORT
# uv must use this machine's interpreter: it cannot download one here.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

PYTEST_ARGS ?=

.PHONY: help install lint fmt test test-fast soak api-key launch migrate run-api run-worker run-notifier dev dev-down clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The stamp is newer than every file that decides the environment: nothing changed, nothing to do.
$(VENV)/.installed: $(UV) uv.lock pyproject.toml $(wildcard */pyproject.toml services/*/pyproject.toml clients/*/pyproject.toml)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

# The venues' own npm SDKs, which the differential tests quote against (Node.js from the machine).
SDK := tests/venues/sdk
$(SDK)/node_modules/.installed: $(SDK)/package-lock.json
	npm ci --prefix $(SDK) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed $(SDK)/node_modules/.installed ## Build the environment (uv, the workspace, dev tools, the venue SDKs)

lint: install ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install ## Format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint tools browser-test-deps newman-deps container-deps ## Lint, then every test (the images and compose on Docker too)
	$(BIN)/pytest $(PYTEST_ARGS)

# No lint and no service processes: the pure code, and each part on its own against the real Postgres and
# RabbitMQ (the venue SDK differential tests included: they take seconds).
test-fast: install ## Unit and focused tests, under a minute: the inner loop
	$(BIN)/pytest tests/unit tests/integration tests/venues -m "not e2e" $(PYTEST_ARGS)

soak: install ## 10,000 orders through faults, then an exact reconciliation (minutes; not in make test)
	$(BIN)/python -m soak $(SOAK_ARGS)

api-key: install ## Create an API key: make api-key NAME=desk-a [ADMIN=1] (also: CMD=list, CMD="revoke ID")
	$(BIN)/orders-api-key $(if $(CMD),$(CMD),create "$(NAME)" $(if $(ADMIN),--admin))

launch: install ## Launch a token: make launch SYMBOL=PUMP [PRICE=0.0001 LIQUIDITY=500 DECIMALS=6 QUOTE=SOL IN=30s]
	$(BIN)/orders-admin launch "$(SYMBOL)" --decimals $(or $(DECIMALS),6) --quote $(or $(QUOTE),SOL) \
	  --price $(or $(PRICE),0.0001) --liquidity $(or $(LIQUIDITY),500) $(if $(IN),--in $(IN)) $(if $(AT),--at $(AT))

# At a person's terminal a missing Postgres or RabbitMQ is said at once; in a cluster the services wait
# STARTUP_TIMEOUT_S (60 s) for them.
migrate dev run-api run-worker run-notifier: export STARTUP_TIMEOUT_S ?= 0

migrate: install ## Create the database if needed and migrate it to the newest schema
	$(BIN)/orders-migrate --create-database

run-api: install ## The api in the foreground
	$(BIN)/orders-api

run-worker: install ## One worker in the foreground
	$(BIN)/orders-worker

run-notifier: install ## The notifier in the foreground
	$(BIN)/orders-notifier

dev: export LOG_FORMAT ?= console
# A local demo runs the seed's open API unless asked otherwise: make dev AUTH_REQUIRED=true
dev: export AUTH_REQUIRED ?= false
# Postgres and RabbitMQ that do not answer at DATABASE_URL / AMQP_URL are started in Docker (compose
# project DEV_PROJECT), or the message says what to install; `make dev-down` stops them.
DEV_PROJECT ?= order-engine-dev
DEV_DEPS = $(BIN)/python -m deploy.dev_deps --docker '$(DOCKER)' --compose '$(COMPOSE)' --project '$(DEV_PROJECT)' \
	--install-compose '$(MAKE) --no-print-directory $(TOOLS_STAMPS)/compose-$(COMPOSE_VERSION)' \
	--build-offline '$(MAKE) --no-print-directory offline-images OFFLINE_IMAGES="postgres rabbitmq"'

dev: install ## Start Postgres/RabbitMQ in Docker if missing, migrate, run all three services; Ctrl-C stops them
	@$(DEV_DEPS) up
	$(BIN)/orders-migrate --create-database
	@echo "api http://127.0.0.1:$(API_PORT)/docs  websocket ws://127.0.0.1:$(NOTIFIER_PORT)/api/orders/ws?orderId=…"
	@if [ "$$AUTH_REQUIRED" = "false" ]; then \
	  echo "!!! AUTH_REQUIRED=false: API keys are NOT checked; anyone reaching these ports can trade. Local demo only."; \
	  echo "!!! Run 'make dev AUTH_REQUIRED=true' and create a key with 'make api-key NAME=me' to turn auth on."; fi
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	$(BIN)/orders-api & $(BIN)/orders-worker & $(BIN)/orders-notifier & \
	wait -n; echo "a service stopped; stopping the others"; exit 1

dev-down: install ## Stop the Postgres/RabbitMQ containers `make dev` started (WIPE=1: and delete their data)
	@$(DEV_DEPS) down $(if $(filter 1 yes true,$(WIPE)),--wipe)

clean: ## Remove the environment and caches
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache .hypothesis

include deploy/deploy.mk
include bench/bench.mk
include demo/demo.mk
