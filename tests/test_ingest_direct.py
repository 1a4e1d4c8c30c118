"""A fresh file read by a parallel scan is typed straight into its kind's table
(check._check_direct): blank lines, refused rows, duplicates and conflicts are written
there first and taken out before the commit, and the rows are numbered afterwards. The
stored tables must be exactly what the typed-table path (every row into `_typed_scan`,
then copied) stores: the same rows in the same order with the same `_row`, `_file` and
`_digest`, the same quarantine, shared rows, files and naive-time records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog import store
from auditlog.errors import InputError
from auditlog.ingest import check as check_module
from auditlog.ingest import ingest_paths
from auditlog.ingest import pipeline as pipeline_module
from tests.test_ingest_lazy import CSV_TEXT, JSONL_LINES, MALFORMED, ROW

NAIVE = [  # Europe/Paris: a time in the spring gap and one in the autumn overlap
    json.dumps({**ROW, "event_id": "n1", "ts": "2026-03-29T02:30:00"}),
    json.dumps({**ROW, "event_id": "n2", "ts": "2026-10-25T02:30:00"}),
    json.dumps({**ROW, "event_id": "n3", "ts": "2026-06-01 12:00"}),
]


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


def _load(db: Path, calls: list[list[Path]], *, direct: bool, tz: str | None,
          monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], dict[str, list[tuple[Any, ...]]]]:
    written: list[object] = []
    original = check_module._check_direct

    def spy(*args: Any, **kwargs: Any) -> Any:
        done = original(*args, **kwargs)
        written.append(done)
        return done

    with monkeypatch.context() as patch:
        patch.setattr(check_module, "_check_direct", spy)
        if not direct:  # as if every content had been loaded before: the typed-table path
            patch.setattr(pipeline_module, "_loaded_before", lambda con, sha256: True)
        con = store.connect(db)
        try:
            results = [[r.as_dict() | {"naive": r.naive_times, "dst": r.dst_resolved}
                        for r in ingest_paths(con, paths, kind="actions", tz=tz)]
                       for paths in calls]
            # (A file beginning with stored ids takes the typed table: check.SAMPLE.)
            assert any(d is not None for d in written) == direct
            return results, _stored(con)
        finally:
            con.close()


@pytest.mark.parametrize("name", ["a.jsonl", "a.csv", "bad.csv", "a.parquet"])
def test_direct_writes_store_exactly_what_the_typed_table_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    if name.endswith(".jsonl"):
        text = "\n".join(JSONL_LINES + NAIVE) + "\n\n"
    else:
        text = CSV_TEXT + (MALFORMED if name.startswith("bad") else "")
        text += "n1,2026-03-29T02:30:00,op.1,login,crm,\nn2,2026-10-25T02:30:00,op.1,login,crm,\n"
    source = tmp_path / name
    other = tmp_path / f"b.{name}"
    if name.endswith(".parquet"):
        csv_file = tmp_path / "a.csv"
        csv_file.write_text(text)
        duckdb.execute(f"COPY (SELECT * FROM read_csv('{csv_file}', all_varchar = true)) "
                       f"TO '{source}' (FORMAT parquet)")
        duckdb.execute(f"COPY (SELECT * REPLACE (CASE WHEN actor = 'op.1' THEN 'op.9' "
                       f"ELSE actor END AS actor) FROM '{source}') TO '{other}' (FORMAT parquet)")
    else:
        source.write_text(text)
        # Some of the same ids: duplicates of and conflicts with the stored rows.
        other.write_text(text.replace("op.1", "op.9", 1))
    # One call with both files (the second meets rows the same call stored), then each
    # file again alone (a reload: every row stored already), then both again.
    calls = [[source, other], [other], [source], [other, source]]
    direct = _load(tmp_path / "direct.duckdb", calls, direct=True, tz="Europe/Paris",
                   monkeypatch=monkeypatch)
    typed = _load(tmp_path / "typed.duckdb", calls, direct=False, tz="Europe/Paris",
                  monkeypatch=monkeypatch)
    assert direct == typed
    results, stored = direct
    assert stored["actions"] and stored["quarantine"] and stored["shared_rows"]
    assert any(r["duplicates"] for call in results for r in call)
    assert stored["naive_files"] and any(r["dst"] for call in results for r in call)


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


def test_a_refused_direct_load_leaves_nothing(tmp_path: Path,
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


def test_a_file_of_stored_events_takes_the_typed_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same events as JSON Lines and as CSV: every row of the second file is a
    # duplicate of a stored row, so writing it into the kind table would only delete it.
    rows = [{**ROW, "event_id": f"e{i}", "actor": f"op.{i % 3}"} for i in range(50)]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("event_id,ts,actor,action,system\n" + "".join(
        f"{r['event_id']},{r['ts']},{r['actor']},{r['action']},{r['system']}\n" for r in rows))
    written: list[object] = []
    original = check_module._check_direct

    def spy(*args: Any, **kwargs: Any) -> Any:
        written.append(done := original(*args, **kwargs))
        return done

    scans: list[bool] = []
    scan = check_module._check_scan

    def scan_spy(*args: Any, **kwargs: Any) -> Any:
        scans.append(done := scan(*args, **kwargs))
        return done

    monkeypatch.setattr(check_module, "_check_direct", spy)
    monkeypatch.setattr(check_module, "_check_scan", scan_spy)
    con = store.connect(tmp_path / "x.duckdb")
    try:
        (first,) = ingest_paths(con, [jsonl], kind="actions")
        (second,) = ingest_paths(con, [csv_file], kind="actions")
        # Written straight into the table, then typed by the parallel scan.
        assert written[0] is not None and written[1] is None and scans == [True]
        assert (first.loaded, second.duplicates) == (50, 50)
        assert con.execute("SELECT count(*) FROM shared_rows").fetchone() == (50,)
    finally:
        con.close()
