# deepdocker: `make` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

# Image builds: see README "Building the image".
BASE_IMAGE ?= ubuntu:24.04
GPU_BASE_IMAGE ?= nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04
# FRAMEWORKS unset: every framework, less torch where PyTorch's index does not answer.
TORCH_INDEX_CPU ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX_GPU ?= https://download.pytorch.org/whl/cu130
INSTALL_RSTUDIO ?= auto
INSTALL_TEX ?= 1
CHP_VERSION ?= 4.6.3
# A folder of wheels pip looks in first, torch's included (README, "Building the image").
WHEELHOUSE ?=
WHEELHOUSE_PORT ?= 8799
export WHEELHOUSE WHEELHOUSE_PORT
# Trust what this host trusts inside the build (TLS-intercepting proxies); 0 to turn off.
TRUST_HOST_CAS ?= 1
HOST_CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# PIP_LOCK=0: install without the locks (scripts/locks). Every INSTALL_* switch given here, on
# make's command line or in the environment (INSTALL_CODE, INSTALL_SHINY_SERVER, ...) reaches the build; one not given keeps its Dockerfile default.
IMAGE_ARGS = --build-arg "FRAMEWORKS=$(FRAMEWORKS)" $(if $(PIP_LOCK),--build-arg "PIP_LOCK=$(PIP_LOCK)") $(foreach v,$(sort $(filter INSTALL_%,$(.VARIABLES))),--build-arg "$(v)=$($(v))")

# The platforms `make image` builds for (PLATFORM=...): a file each in scripts/platforms. The
# default is this machine's; a foreign one runs through emulation (qemu-user-static). A PLATFORM
# this cannot build stops here rather than build another.
include scripts/gpu.env
GPU_PLATFORM_NAMES := $(addprefix linux/,$(GPU_PLATFORMS))
PLATFORMS := $(patsubst scripts/platforms/%.env,linux/%,$(sort $(wildcard scripts/platforms/*.env)))
NATIVE_PLATFORM := linux/$(if $(filter aarch64 arm64,$(shell uname -m)),arm64,amd64)
PLATFORM ?= $(NATIVE_PLATFORM)
export PLATFORM
# deepdocker:cpu on amd64, deepdocker:cpu-arm64 on arm64 (its platform file's PLATFORM_TAG_SUFFIX);
# the image of this machine's own platform is deepdocker:cpu too, for make run and compose.
CPU_TAG = deepdocker:cpu$(shell sed -n 's/^PLATFORM_TAG_SUFFIX=//p' scripts/platforms/$(patsubst linux/%,%,$(PLATFORM)).env)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat: a plain .pth entry; the default editable finder adds ~8 ms to every command's start.
	$(PY) -m pip install -q -e '.[test,lint]' --config-settings editable_mode=compat
	# compat puts the checkout on sys.path; supervisor/ too, for the plug-in deepdocker_supervisor.
	echo '$(abspath supervisor)' > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/deepdocker-supervisor.pth"
	# JupyterHub's proxy for the hub tests (npm), trusting the system's CAs as pip does; without it
	# those tests say so and skip (not in CI, where they fail).
	if command -v npm >/dev/null; then NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
	  npm install --loglevel=error --no-audit --no-fund --prefix $(VENV)/node \
	  configurable-http-proxy@$(CHP_VERSION) || echo "npm install failed: the hub tests will say so"; fi
	# code-server for SERVICES=code in host mode, as the image gets it (on a Node.js of its own, from
	# the npm registry); without it the code host tests say why and skip (not in CI, where they fail).
	INSTALL_CODE=auto CODE_PREFIX=$(abspath $(VENV))/code scripts/install-code.sh
	if [ -x $(VENV)/code/bin/code-server ]; then ln -sf ../code/bin/code-server $(VENV)/bin/code-server; fi
	# shiny-apps (SERVICES=shiny) for host mode, where R and its shiny package are installed.
	SHINY_PREFIX=$(abspath $(VENV))/shiny scripts/install-shiny.sh
	if [ -x $(VENV)/shiny/bin/shiny-apps ]; then ln -sf ../shiny/bin/shiny-apps $(VENV)/bin/shiny-apps; fi
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Make .venv: the control plane (editable), JupyterLab, TensorBoard, test and lint tools

.PHONY: test
test: venv ## Run every test: unit, host mode (real daemons), container (needs dockerd)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: docs
docs: venv ## Rewrite README.md's tables that the service registry decides (entrypoint/docs.py)
	$(PY) -m entrypoint.docs README.md

.PHONY: lock
lock: venv ## Pin every Python environment of both images, with hashes: scripts/locks (WHEELHOUSE=... holds a CPU torch)
	$(PY) scripts/lock.py $(if $(WHEELHOUSE),--wheelhouse "$(WHEELHOUSE)")

.PHONY: lint
lint: venv ## ruff, mypy, hadolint, shellcheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile.cpu Dockerfile.gpu
	shellcheck scripts/*.sh entrypoint/stacks/run-hooks.sh .ci/run

.PHONY: bench
bench: venv ## Start/restart/stop times, health-probe cost, RSS beside stock supervisord; then bench-lean
	cd bench && ../$(PY) run.py
	cd bench && ../$(PY) lean.py

.PHONY: bench-lean
bench-lean: venv ## A default container at rest: idle memory, first TensorBoard request, 8 at once (Docker)
	cd bench && ../$(PY) lean.py $(or $(ROUNDS),3) $(or $(N),8)

.PHONY: bench-stacks
bench-stacks: venv ## docker-stacks' options (remap, rename): entrypoint to first daemon, beside deepdocker:before
	cd bench && ../$(PY) stacks.py $(or $(ROUNDS),5)

.PHONY: bench-env
bench-env: venv ## The user's layer: start to healthy with 200 packages, imports, uv vs pip (Docker)
	cd bench && ../$(PY) userlayer.py $(or $(ROUNDS),5)

.PHONY: bench-hub
bench-hub: venv ## Spawns through a real JupyterHub (DockerSpawner): 1 user and 8 at once, beside a bare jupyterhub-singleuser
	cd bench && ../$(PY) hub.py $(or $(ROUNDS),3) $(or $(N),8)

.PHONY: bench-platforms
bench-platforms: venv ## deepdocker:cpu-arm64 (emulated here) beside deepdocker:cpu: size, start to healthy
	cd bench && ../$(PY) platforms.py $(or $(ROUNDS),3)

.PHONY: bench-health
bench-health: venv ## Cost of one deepdocker-health call beside `supervisorctl status`
	cd bench && ../$(PY) health.py

.PHONY: bench-liveness
bench-liveness: venv ## Liveness watchdog: idle CPU on vs off, repair after SIGSTOP, no false alarm under load (MINUTES=10)
	cd bench && ../$(PY) liveness.py $(or $(MINUTES),10)

.PHONY: platform
platform:
	@:$(if $(filter-out $(PLATFORMS),$(PLATFORM))$(word 2,$(PLATFORM))$(if $(strip $(PLATFORM)),,none),$(error PLATFORM=$(PLATFORM) is not one this builds; accepted: $(PLATFORMS)))
	@:$(if $(filter-out 0 1,$(PIP_LOCK))$(word 2,$(PIP_LOCK)),$(error PIP_LOCK=$(PIP_LOCK) is not one the build takes; accepted: 1 (install from scripts/locks, the default), 0 (without)))

.PHONY: certs
certs: platform
	@if [ "$(TRUST_HOST_CAS)" = 1 ] && [ -f "$(HOST_CA_BUNDLE)" ]; then \
	  cp "$(HOST_CA_BUNDLE)" certs/host-ca-bundle.crt; \
	  echo "certs: the build trusts this host's CA bundle ($(HOST_CA_BUNDLE)); TRUST_HOST_CAS=0 to stop"; \
	else rm -f certs/host-ca-bundle.crt; fi

.PHONY: image
image: FRAMEWORKS ?= $(shell WHEELHOUSE='$(WHEELHOUSE)' scripts/default-frameworks.sh $(TORCH_INDEX_CPU))
image: certs ## Build deepdocker:cpu (PLATFORM=linux/amd64|linux/arm64: deepdocker:cpu-arm64, FRAMEWORKS=..., INSTALL_RSTUDIO=auto|1|0, INSTALL_TEX=1|0, BASE_IMAGE=..., WHEELHOUSE=...)
	scripts/build-image.sh Dockerfile.cpu $(CPU_TAG) "$(BASE_IMAGE)" $(IMAGE_ARGS)
	$(if $(filter-out deepdocker:cpu,$(CPU_TAG)),$(if $(filter $(NATIVE_PLATFORM),$(PLATFORM)),docker tag $(CPU_TAG) deepdocker:cpu))

.PHONY: image-gpu
# Every framework: where PyTorch's index does not answer, torch comes from PyPI (build-image.sh).
image-gpu: FRAMEWORKS ?= torch tensorflow keras pytensor onnx
image-gpu: certs ## Build deepdocker:gpu (CUDA 13 / cuDNN 9 base, for the platforms of scripts/gpu.env; same knobs)
	@:$(if $(filter-out $(GPU_PLATFORM_NAMES),$(PLATFORM)),$(error PLATFORM=$(PLATFORM): the GPU image is built for $(GPU_PLATFORM_NAMES) alone; accepted: $(GPU_PLATFORM_NAMES)))
	TORCH_INDEX=$(TORCH_INDEX_GPU) scripts/build-image.sh Dockerfile.gpu deepdocker:gpu "$(GPU_BASE_IMAGE)" $(IMAGE_ARGS)

.PHONY: size-gate
size-gate: ## Each image's layers by build step against scripts/size-budgets.json, 5% over fails (IMAGES=deepdocker:cpu deepdocker:gpu)
	@for i in $(or $(IMAGES),deepdocker:cpu deepdocker:gpu); do $(PYTHON) scripts/size_gate.py $$i || exit 1; done

.PHONY: release
release: ## Push deepdocker:cpu of amd64 and arm64 as one multi-arch tag and a version tag: REGISTRY=host:port (build both first)
	scripts/release.sh "$(REGISTRY)"

.PHONY: test-arm64
test-arm64: venv ## Build the full arm64 image under emulation (35-50 min) and run its container checks
	DEEPDOCKER_TEST_ARM64_FULL=1 $(PY) -m pytest tests/container/test_arm64.py $(PYTEST_ARGS)

.PHONY: compose
compose:
	@$(COMPOSE) version >/dev/null 2>&1 || { echo "make run needs Docker Compose: apt-get install docker-compose (Debian), or Docker's compose plugin" >&2; exit 2; }

.PHONY: run
run: platform compose image ## Build deepdocker:cpu (PLATFORM=...: its image) and run it with its default services (compose.yaml); Ctrl-C stops it
	@# Yours, so the notebook user takes your UID; made by root, it is opened like /tmp
	@# instead, since the notebook user is never root.
	@if [ ! -d sharedfolder ]; then mkdir sharedfolder && { [ "$$(id -u)" != 0 ] || chmod 1777 sharedfolder; }; fi
	DEEPDOCKER_IMAGE=$(CPU_TAG) $(COMPOSE) up --no-build
