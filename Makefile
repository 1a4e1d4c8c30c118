# Everything a newcomer or CI needs: `make demo`, `make test`. Only python3, pip and make
# are assumed; the virtual environment is created on first use, and `make test` installs
# Chromium and Java 17 with apt-get when missing (scripts/system-deps).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-spark-all lint bench clean

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
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=15

# The Spark case matrix, every case of every rule (make test runs each rule's first fire case).
test-spark-all: $(VENV)/.installed-test
	scripts/system-deps
	AUDITLOG_SPARK_ALL_CASES=1 $(BIN)/python -m pytest tests/test_spark.py

lint: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	$(BIN)/ruff check auditlog tests benchmarks
	$(BIN)/mypy auditlog
	$(BIN)/lint-imports

# The quick versions of the benchmarks, a few minutes in all (BENCHMARKS.md says how to
# run the full ones, at 1M and 10M rows): start time, ingest of 100k rows, every pack and
# a trace at 100k charges + 100k actions, a trace after ingest and after forget at 100k.
# Each prints its figures; the JSON and the databases go to $(BENCH_OUT), never over
# benchmarks/results/. Not in CI: no figure is asserted.
BENCH_OUT ?= bench-data/quick
bench: $(VENV)/.installed-test
	mkdir -p $(BENCH_OUT)
	$(BIN)/python benchmarks/bench_start.py --runs 5
	$(BIN)/python benchmarks/bench_ingest.py --sizes 100000 --data-dir $(BENCH_OUT) \
		--output $(BENCH_OUT)/ingest-100k.json
	$(BIN)/python benchmarks/bench_rules.py --charges 100000 --actions 100000 \
		--data-dir $(BENCH_OUT) --output $(BENCH_OUT)/rules-100k.json
	$(BIN)/python benchmarks/bench_trace_refresh.py --rows 100000 --data-dir $(BENCH_OUT) \
		--output $(BENCH_OUT)/trace-refresh-100k.json

clean:
	rm -rf $(VENV) build dist *.egg-info auditlog.duckdb
