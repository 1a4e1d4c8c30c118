# Everything a newcomer or CI needs: `make demo`, `make test`. Only python3, pip and make
# are assumed; the virtual environment is created on first use, and `make test` installs
# Chromium and Java 17 with apt-get when missing (scripts/system-deps).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests also need the test and Spark extras, Chromium and Java.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $@

demo: setup
	$(BIN)/auditlog demo

# One worker per core (pytest-xdist); a file's tests stay on one worker, so module-level
# fixtures (a generated world, a Spark session) are built once per file, except files of
# independent cases named in tests/conftest.py's SPREAD_OVER_WORKERS.
test: $(VENV)/.installed-test
	scripts/system-deps
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	$(BIN)/ruff check auditlog tests benchmarks
	$(BIN)/mypy auditlog
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) build dist *.egg-info auditlog.duckdb
