# Everything a newcomer or CI needs: `make demo`, `make test`. Only python3, pip and make
# are assumed; the virtual environment is created on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: setup
	$(BIN)/auditlog demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check auditlog tests benchmarks
	$(BIN)/mypy auditlog

bench: setup
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) build dist *.egg-info auditlog.duckdb
