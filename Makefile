# Two commands do everything on a fresh machine: `make demo` and `make test`.
# The virtual environment is built once from requirements.lock and reused by every target.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9

.DEFAULT_GOAL := help
.PHONY: help install demo test up down lint fmt lock bench clean bi bi-lock test-ui compat

help:
	@echo "make demo   install, run the whole pipeline on the embedded warehouse, print the marts"
	@echo "make test   install and run the test suite"
	@echo "make up     start the warehouse, the source emulators and Dagster (http://127.0.0.1:3000) in the background"
	@echo "make down   stop everything 'make up' started"
	@echo "make lint   ruff check and format check, sqlfluff on the dbt models"
	@echo "make lock   re-resolve requirements.lock from pyproject.toml"
	@echo "make bi     install Superset once (.venv-bi), start it on loopback with the dashboards"
	@echo "make test-ui  drive chromium through every dashboard (needs make demo, make bi deps, chromium)"
	@echo "make compat run the ClickHouse clients' own suites against the endpoint (checkouts in FUNNELHOUSE_COMPAT_CONNECT/_JS/_DBT, see README)"

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

lock:
	test -x $(BIN)/uv || (test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)")
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements.lock

demo: $(STAMP)
	$(BIN)/funnelhouse demo

test: $(STAMP)
	$(BIN)/python -m pytest

up: $(STAMP)
	$(BIN)/funnelhouse up

down: $(STAMP)
	$(BIN)/funnelhouse down

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && ../$(BIN)/sqlfluff lint models --disable-progress-bar

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Superset has its own environment: its SQLAlchemy and pandas pins differ from the project's.
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed

$(BI_STAMP): bi/requirements.lock $(STAMP)
	test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	$(BIN)/uv pip sync --quiet --python $(BI_VENV)/bin/python bi/requirements.lock
	touch $(BI_STAMP)

bi: $(BI_STAMP)
	$(BIN)/python -m bi.launch

bi-lock: $(STAMP)
	$(BIN)/uv pip compile bi/requirements.in --python-version 3.11 --quiet -o bi/requirements.lock

test-ui: bi
	$(BI_VENV)/bin/python -m pytest -c tests_ui/pytest.ini tests_ui

bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.ingest_rate

# The upstream clients' integration suites against the embedded endpoint (not part of `make test`).
compat: $(STAMP)
	$(BIN)/python -m compat run

clean:
	rm -rf $(VENV) $(BI_VENV) .data dbt_project/target dbt_project/logs
