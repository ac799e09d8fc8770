# deepdocker: `make` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat: a plain .pth entry; the default editable finder adds ~8 ms to every command's start.
	$(PY) -m pip install -q -e '.[test,lint]' --config-settings editable_mode=compat
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Make .venv: the control plane (editable), JupyterLab, TensorBoard, test and lint tools

.PHONY: test
test: venv ## Run every test: unit, host mode (real daemons), container (needs dockerd)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## ruff, mypy, hadolint, shellcheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: bench-health
bench-health: venv ## Cost of one deepdocker-health call beside `supervisorctl status`
	cd bench && ../$(PY) health.py
