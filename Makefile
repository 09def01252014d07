# carsbot developer entry points. Each target creates the virtualenv it needs.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
# pip chatter about optional local indexes that do not exist on this machine
PIP_QUIET := 2>&1 | { grep -v "^WARNING: Location 'file://" || true; }
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
PY_DIRS := $(wildcard functions monitor dev tests infra)
# sam build needs an interpreter matching the Lambda runtime (python3.12) on PATH.
PY312_DIR := $(dir $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null)))

.PHONY: venv demo test lint typecheck unit quality compat template sam-build bench clean deploy-check

$(VENV)/.installed: pyproject.toml dev/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip $(PIP_QUIET)
	$(PY) -m pip install --quiet -e . -e ./dev $(PIP_QUIET)
	touch $@

venv: $(VENV)/.installed

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip $(PIP_QUIET)
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli>=1.120,<2' $(PIP_QUIET)
	touch $@

## Run the whole pipeline locally on the embedded default (no credentials needed).
demo: venv
	$(VENV)/bin/carsbot demo

## Lint, type checks, template checks, sam build and the test suite.
test: lint typecheck template quality unit compat

lint: venv
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	PYTHONPATH=functions $(VENV)/bin/lint-imports --no-cache

typecheck: venv
	$(VENV)/bin/mypy

template: venv $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region eu-central-1
	$(MAKE) sam-build

## Everything checkable offline before `sam deploy` (docs/operations.md "Deploy safety"): template lint,
## sam build, every secret the code reads is declared, every setting a function reads is set for it.
deploy-check: template
	$(VENV)/bin/python -m carsbot_dev.deploy_check

## One package per function (functions/Makefile), with the dependency versions installed in .venv.
sam-build: venv $(SAM_VENV)/.installed
	mkdir -p .aws-sam
	$(PY) -m pip list --format=freeze --exclude-editable --exclude pip --exclude setuptools --exclude wheel \
	  > .aws-sam/constraints.txt
	PATH="$(PY312_DIR):$$PATH" LAMBDA_CONSTRAINTS="$(CURDIR)/.aws-sam/constraints.txt" \
	  $(SAM_VENV)/bin/sam build --template template.yaml --build-dir .aws-sam/build --cached --parallel

## Extraction quality gate on every labelled set (issue 13's bar; exits non-zero below it).
QUALITY_SETS := tests/data/corpus.jsonl tests/data/holdout.jsonl tests/data/field_tune.jsonl tests/data/field_gate.jsonl
quality: venv
	@for set in $(QUALITY_SETS); do \
	  out=$$($(VENV)/bin/carsbot eval $$set --engine rules --check --show-errors 40) || { echo "$$out"; exit 1; }; \
	  echo "$$set: $$(echo "$$out" | grep -E '^classification:' | cut -c17-) $$(echo "$$out" | tail -n 1)"; \
	done

unit: venv
	$(VENV)/bin/pytest -q

## The unit tests on the other supported Pythons (3.12 = the Lambda runtime, 3.13), where installed.
COMPAT_PYTHONS := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12)) \
                  $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13))
compat:
	@if [ -z "$(strip $(COMPAT_PYTHONS))" ]; then echo "compat: no Python 3.12/3.13 found, skipped"; fi
	@for py in $(COMPAT_PYTHONS); do \
	  v=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  if [ ! -f .venv-$$v/.installed ]; then \
	    $$py -m venv .venv-$$v && .venv-$$v/bin/python -m pip install --quiet -e . -e ./dev $(PIP_QUIET) \
	      && touch .venv-$$v/.installed; \
	  fi; \
	  echo "unit tests on Python $$v"; \
	  .venv-$$v/bin/pytest -q -p no:cacheprovider tests/unit || exit 1; \
	done

bench: venv
	$(VENV)/bin/python -m carsbot_dev.bench
	$(VENV)/bin/python -m carsbot_dev.monitor.bench
	$(VENV)/bin/python -m carsbot_dev.bench_bot
	$(VENV)/bin/python -m carsbot_dev.bench_payments
	$(VENV)/bin/python -m carsbot_dev.bench_sheets
	$(VENV)/bin/python -m carsbot_dev.bench_cost
	$(MAKE) --no-print-directory sam-build > /dev/null
	$(VENV)/bin/python -m carsbot_dev.bench_sizes

## Targeted mutation check: break each guarded guarantee in a temp copy, the tests must fail
## (docs/testing.md). Slow; not part of make test.
.PHONY: mutants
mutants: venv
	$(VENV)/bin/python -m carsbot_dev.mutants

clean:
	rm -rf $(VENV) $(SAM_VENV) .venv-3.* .aws-sam .mypy_cache .ruff_cache .pytest_cache
