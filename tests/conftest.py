"""Shared fixtures: a fresh database, and writing the same rows in any input format."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

# pytest-xdist starts its workers with COLUMNS/LINES set to the terminal's size, and a
# Rich console created at import fixes its width from them; the tests that ask for a
# width say so themselves (CliRunner env), as under a plain pytest run.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
# The tests keep auditlog's cache (what each SQL unit reads, pack/reads_cache.py) out of
# the user's home: one fresh directory per test process.
os.environ["AUDITLOG_CACHE_DIR"] = tempfile.mkdtemp(prefix="auditlog-cache-")

import typer.testing

from auditlog import store

# CliRunner.invoke(app, ...) turns the Typer app into a Click command on every call:
# Typer inspects the signature of each of the ~90 commands again (~0.1 s a call, minutes
# over the suite). The command line itself builds it once a process, so the tests build
# it once per app and set of registered commands too; any change to them builds anew.
_BUILT: dict[tuple[int, int, int], Any] = {}
_build_command = typer.testing._get_command


def _built_once(app: typer.Typer) -> Any:
    key = (id(app), len(app.registered_commands), len(app.registered_groups))
    if key not in _BUILT:
        _BUILT[key] = _build_command(app)
    return _BUILT[key]


typer.testing._get_command = _built_once

# Files of independent cases, each case building its own database, that pytest-xdist
# shares out test by test; every other file stays on one worker (--dist loadfile), so
# its module fixtures (a generated world, a Spark session) are built once. The rule-case
# harness is the slowest file: on one worker it would be the last to finish.
SPREAD_OVER_WORKERS = frozenset({"tests/test_rule_cases.py"})
# The files that take longest (the Spark one several minutes: a JVM, every rule case in
# one batch), started first so that the workers end together: the many short files fill
# in behind them, and the spread cases last of all.
LONGEST_FIRST = ("tests/test_spark.py", "tests/test_content_detection.py",
                 "tests/test_attack_detections.py", "tests/test_ingest_formats.py",
                 "tests/test_text_safety.py", "tests/test_ingest_detection.py",
                 "tests/test_source_records.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first, spread files last, every other file in between in its own
    order (the same on every worker, as xdist requires)."""
    def rank(item: pytest.Item) -> int:
        file = item.nodeid.split("::")[0]
        if file in LONGEST_FIRST:
            return LONGEST_FIRST.index(file)
        return len(LONGEST_FIRST) + (file in SPREAD_OVER_WORKERS)

    items.sort(key=rank)  # stable: a file's tests keep their order


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, except for the files in SPREAD_OVER_WORKERS. (xdist's own
    `loadgroup` would do it with marks, but it does not see them under pytest 9.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    # xdist would sort the files by their number of tests, undoing LONGEST_FIRST.
    config.option.loadscopereorder = False

    class SpreadSomeFiles(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            file = str(super()._split_scope(nodeid))
            return nodeid if file in SPREAD_OVER_WORKERS else file

    return SpreadSomeFiles(config, log)


@pytest.fixture(scope="session")
def sample_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample incident (sample_logs) with every pack run once, built once per test
    process: loading and running it is the costly part, copying the file is not."""
    import auditlog
    from auditlog.ingest.world import sample_logs_dir

    path = tmp_path_factory.mktemp("golden-template") / "sample.duckdb"
    with auditlog.open(path) as inv:
        inv.ingest_world(sample_logs_dir())
        inv.run()
    return path


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture()
def con(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = store.connect(db_path)
    yield connection
    connection.close()


def write_rows(path: Path, rows: list[dict[str, Any]], *, wrapper: str | None = None) -> Path:
    """Write `rows` in the format `path`'s name says (.jsonl .ndjson .json .csv .tsv
    .parquet, text ones optionally .gz). `wrapper` names the member of a JSON object
    holding the array (Records, records, events)."""
    name = path.name.removesuffix(".gz")
    suffix = name.rsplit(".", 1)[-1]
    if suffix == "parquet":
        pl.DataFrame(rows).write_parquet(path)
        return path
    if suffix in ("jsonl", "ndjson"):
        text = "".join(json.dumps(r) + "\n" for r in rows)
    elif suffix == "json":
        text = json.dumps({wrapper: rows} if wrapper else rows, indent=1)
    else:
        buffer = io.StringIO()
        columns = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(buffer, fieldnames=columns,
                                delimiter="\t" if suffix == "tsv" else ",", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    """A table's canonical content, in a stable order, without source bookkeeping."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()
               if not r[0].startswith("_")]
    return con.execute(
        f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL"
    ).fetchall()


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a load can change, to compare before and after."""
    tables = ["actions", "privileges", "changes", "charges", "accounts"]
    result = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    result["quarantine"] = con.execute(
        "SELECT * EXCLUDE (ingested_at) FROM quarantine ORDER BY ALL").fetchall()
    result["files"] = con.execute(
        "SELECT * EXCLUDE (ingested_at) FROM ingested_files ORDER BY ALL").fetchall()
    return result


def kill_when_marked(code: str, args: list[str], marker: Path, what: str,
                     *, patience: float = 120.0) -> None:
    """Run `python -c code *args`, kill -9 it as soon as it writes `marker` (the moment a
    test wants it dead), and check it died of that kill. `patience` is a safety net for a
    child that never gets there, not a measurement."""
    child = subprocess.Popen([sys.executable, "-c", code, *args])
    try:
        deadline = time.monotonic() + patience
        while not marker.exists():
            assert child.poll() is None, f"the {what} ended before it was killed"
            assert time.monotonic() < deadline, f"the {what} never got going"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
