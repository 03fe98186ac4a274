# demo.mk: the demo and what the page's and Postman's tests need, included by the top-level Makefile.
#
#   make demo                5 concurrent orders on a live terminal board, then a limit order that fills as a
#                            large buy moves the market and one cancelled (against `make dev`, or a stack of
#                            its own when nothing answers; DEMO_ARGS="--start" always starts its own)
#   make browser-test-deps   Debian's chromium for tests/browser (apt-get; does nothing when installed)
#   make newman-deps         newman from docs/newman/package-lock.json, for tests/docs/test_postman.py
#   make asyncapi            regenerate docs/asyncapi.yaml from the models

PY ?= .venv/bin/python
DEMO_ARGS ?=
CHROMIUM ?= /usr/bin/chromium
# apt-get needs root: sudo when we are not.
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NEWMAN_DIR := docs/newman

.PHONY: demo browser-test-deps newman-deps asyncapi

demo: install ## Five concurrent orders, then a limit order filling and one cancelled, live in the terminal (DEMO_ARGS="--api URL --ws URL" or "--start")
	$(PY) -m demo $(DEMO_ARGS)

browser-test-deps: ## Debian's Chromium for the browser test (once; needs apt)
	@if [ -x $(CHROMIUM) ]; then echo "chromium: $$($(CHROMIUM) --version 2>/dev/null)"; else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; fi

$(NEWMAN_DIR)/node_modules/.installed: $(NEWMAN_DIR)/package-lock.json
	npm ci --prefix $(NEWMAN_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

newman-deps: $(NEWMAN_DIR)/node_modules/.installed ## newman, pinned, for the Postman collection's test

asyncapi: install ## Regenerate docs/asyncapi.yaml from the pydantic models
	$(PY) -m docs.asyncapi > docs/asyncapi.yaml
