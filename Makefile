# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run    creates .venv, starts the local servers, runs the pipeline, prints a summary
#   make test   creates .venv and runs ruff, mypy and the whole pytest suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
RUN_ARGS ?=
PYTEST_ARGS ?=
# whole test files go to each of the two workers (a file's tests share its fixtures), each
# worker taking them in the suite's own order (xdist would reorder them by size)
PYTEST_WORKERS ?= 2

.PHONY: help env run test deploy deploy-plan app-deploy app-local ui browser lint format typecheck pytest bench generate-data upload-data quality up down status clean lock snow-env checkov-env infra ddl

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

env: $(STAMP)  ## create .venv with the pinned dependencies

run: env  ## the whole pipeline on the local target, with a summary
	$(BIN)/lake run $(RUN_ARGS)

test: env checkov-env snow-env browser lint typecheck pytest  ## ruff, mypy and pytest (unit, integration, infrastructure)

lint: env  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: env  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: env  ## mypy over lake/, procedures/, tests/ and bench/
	$(BIN)/mypy

pytest: env  ## the test suite on PYTEST_WORKERS processes (PYTEST_ARGS='-m unit' to narrow it)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

bench: env  ## every benchmark under bench/ (each prints a JSON line last)
	@set -e; for f in bench/[!_]*.py; do echo "== $$f"; $(BIN)/python $$f; done

generate-data: env  ## sample producer files into ./sample_data (no servers needed)
	$(BIN)/lake generate --out sample_data --days 3

upload-data: env  ## upload ./sample_data to the landing bucket of the target
	$(BIN)/lake upload sample_data

quality: env  ## reconcile the landing zone, then run the data-quality rules (VALIDATE_DATA)
	$(BIN)/lake quality

up: env  ## start the local servers in the background
	$(BIN)/lake up

down: env  ## stop the local servers
	$(BIN)/lake down

status: env  ## target, servers and last runs
	$(BIN)/lake status

ddl: env  ## regenerate every generated file (sql/035 to 080, dbt's governance spec, the Native App's setup-script blocks)
	$(BIN)/python -m lake.generated

lock: env  ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev --extra infra pyproject.toml -o requirements.lock
	echo "checkov>=3.3.30,<3.4" | $(BIN)/uv pip compile --quiet --python-version 3.11 - -o requirements-checkov.txt

SNOW_VENV := .venv-snow

# a tool whose pins do not fit beside the project's, in its own environment:
# $(call tool_env,<folder>,<requirements file>)
define tool_env
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(1)/bin/uv pip install --quiet --python $(1)/bin/python -r $(2)
	@touch $@
endef

$(SNOW_VENV)/.installed: requirements-snow.txt
	$(call tool_env,$(SNOW_VENV),requirements-snow.txt)

snow-env: $(SNOW_VENV)/.installed  ## snowflake-cli in its own environment (.venv-snow)

# the in-warehouse path on LAKE_TARGET=snowflake (see docs/deploy.md)
deploy: env  ## lake deploy: sql/, the generator's egress, the procedures, the dbt project, the task graph
	$(BIN)/lake deploy

deploy-plan: env  ## every step `make deploy` would run, offline (artifacts in build/deploy/)
	$(BIN)/lake deploy --plan

# the Native App on the Snowflake connection named by SNOWFLAKE_CONNECTION (see native_app/README.md)
app-local: env snow-env  ## the Native App's bundle installed and run on the local engine (lake app install --local)
	$(BIN)/lake app install --local

app-deploy: env snow-env  ## zip the procedures, then `snow app run` (application package + app)
	$(BIN)/python -m lake.app
	$(SNOW_VENV)/bin/snow app run $(if $(SNOWFLAKE_CONNECTION),--connection $(SNOWFLAKE_CONNECTION))

# Debian's chromium, for the test that opens the dashboard in a real browser
browser:  ## install Debian's chromium if it is missing (apt-get; sudo when not root)
	@command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

ui: env  ## the dashboard on http://127.0.0.1:8501 against the current target
	$(BIN)/lake ui

# checkov pins an older boto3 than the project's, so it gets its own environment too
CHECKOV_VENV := .venv-checkov

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(call tool_env,$(CHECKOV_VENV),requirements-checkov.txt)

checkov-env: $(CHECKOV_VENV)/.installed  ## checkov in its own environment (.venv-checkov)

infra: env checkov-env  ## synthesize cdktf/ into cdktf.out/ and gate it with checkov
	$(BIN)/lake infra synth
	$(BIN)/lake infra check

clean:  ## remove the environment and local state
	-$(BIN)/lake down 2>/dev/null
	rm -rf $(VENV) $(SNOW_VENV) $(CHECKOV_VENV) cdktf.out .lake sample_data .pytest_cache .mypy_cache .ruff_cache
