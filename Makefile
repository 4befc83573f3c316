# One command surface for people and CI. Each target creates .venv if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test check lint format bench clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e ./clients/python  # the researchers' client (tests/client)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/amaan demo

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# Everything, with a coverage floor (of the code run in the test processes: the servers the
# tests start in processes of their own are not counted).
COVERAGE_FLOOR := 90

test: lint
	$(BIN)/python -m pytest --durations=30 --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

# The fast loop: lint and the tests not marked slow (no servers, browsers or long audits).
check: lint
	$(BIN)/python -m pytest -m "not slow"

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.etl
	$(BIN)/python -m bench.privacy
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.sealing
	$(BIN)/python -m bench.extracts
	$(BIN)/python -m bench.summaries

clean:
	rm -rf $(VENV) demo-data amaan.db .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
