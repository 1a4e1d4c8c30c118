"""A file read by the parallel scan (rows numbered by their row ids, check._check_scan)
keeps file order and line numbers across DuckDB's row groups, and a load refused under
--strict leaves every table an ingest writes as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog.errors import InputError
from auditlog.ingest import ingest_paths
from tests.test_ingest_lazy import JSONL_LINES, ROW


def _stored(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every table an ingest writes; the kind tables in storage order (rowid)."""
    tables = ["actions", "privileges", "changes", "charges", "accounts"]
    result = {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    for table in ("quarantine", "ingested_files"):
        result[table] = con.execute(
            f"SELECT * EXCLUDE (ingested_at) FROM {table} ORDER BY ALL").fetchall()
    for table in ("shared_rows", "naive_files", "file_locations"):
        result[table] = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    return result


def test_rows_of_a_parallel_read_keep_file_order_and_line_numbers(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Several row groups (122,880 rows each), so DuckDB reads and inserts in parallel;
    # blank lines and refused rows between them still count as lines.
    path = tmp_path / "big.jsonl"
    duckdb.execute(
        f"""COPY (SELECT CASE WHEN i % 1000 = 7 THEN ''
                              WHEN i % 1000 = 8 THEN '{{"event_id": "e' || i || '"}}'
                              ELSE '{{"event_id": "e' || i || '", "ts": "2026-03-01T10:00:00Z",'
                                   || ' "actor": "a", "action": "x", "system": "s"}}' END
                  FROM range(300000) t(i))
            TO '{path}' (FORMAT csv, HEADER false, QUOTE '', DELIMITER '\x01')""")
    (result,) = ingest_paths(con, [path], kind="actions")
    assert (result.rows_read, result.loaded, result.quarantined) == (299700, 299400, 300)
    mismatched = con.execute(
        """SELECT count(*) FILTER (WHERE _row <> CAST(substr(event_id, 2) AS BIGINT) + 1),
                  count(*) FILTER (WHERE _row <= previous), count(*) FILTER (WHERE _file <> f)
           FROM (SELECT *, lag(_row, 1, 0) OVER (ORDER BY rowid) AS previous,
                        (SELECT sha256 FROM ingested_files) AS f FROM actions)"""
    ).fetchone()
    assert mismatched == (0, 0, 0)
    assert con.execute("SELECT min(row_number), count(*) FROM quarantine").fetchone() == (9, 300)


def test_a_refused_strict_load_leaves_every_table_as_it_was(tmp_path: Path,
                                              con: duckdb.DuckDBPyConnection) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(ROW) + "\n")
    ingest_paths(con, [good], kind="actions")
    before = _stored(con)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(JSONL_LINES) + "\n")
    with pytest.raises(InputError):
        ingest_paths(con, [bad], kind="actions", strict=True)
    assert _stored(con) == before
