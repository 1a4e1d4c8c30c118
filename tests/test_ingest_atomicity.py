"""One ingest call is all or nothing, even when the process is killed mid-load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from auditlog import store
from auditlog.errors import AuditlogError
from auditlog.ingest import ingest_paths
from tests.conftest import kill_when_marked, snapshot, write_rows

# The child loads a first file, announces it through a marker file, then hangs inside
# the same ingest call (in the progress callback) until it is killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from auditlog import store
    from auditlog.ingest import ingest_paths

    db, marker, *paths = sys.argv[1:]
    con = store.connect(db)

    def progress(index, total, result):
        if index == 0:
            Path(marker).write_text(str(result.loaded))
            time.sleep(600)

    ingest_paths(con, [Path(p) for p in paths], progress=progress)
    """
)


def _rows(prefix: str, n: int) -> list[dict[str, str]]:
    return [{"event_id": f"{prefix}{i}", "ts": "2026-09-01T10:00:00Z", "actor": f"op{i % 7}",
             "action": "subscribe", "system": "orders", "target_account": f"C{i}"}
            for i in range(n)]


def test_kill_9_mid_load_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    con = store.connect(db)
    ingest_paths(con, [write_rows(tmp_path / "before.jsonl", _rows("before-", 100))])
    before = snapshot(con)
    con.close()

    first = write_rows(tmp_path / "first.jsonl", _rows("first-", 50_000))
    second = write_rows(tmp_path / "second.csv", _rows("second-", 10))
    marker = tmp_path / "loaded"
    kill_when_marked(CHILD, [str(db), str(marker), str(first), str(second)], marker,
                     "loading process")
    assert marker.read_text() == "50000"  # the first file was loaded, uncommitted

    con = store.connect(db)
    assert snapshot(con) == before
    # and the database is healthy: the same load now goes through in full
    results = ingest_paths(con, [first, second])
    assert [r.loaded for r in results] == [50_000, 10]


def test_a_failing_file_rolls_back_the_whole_call(tmp_path: Path,
                                                  con: duckdb.DuckDBPyConnection) -> None:
    good = write_rows(tmp_path / "a.jsonl", _rows("a-", 10))
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    before = snapshot(con)
    with pytest.raises(AuditlogError):  # which error, and its sentence, is tested elsewhere
        ingest_paths(con, [good, broken])
    assert snapshot(con) == before
