"""A Parquet file of native columns is read as CSV is (issue 14): a view over the file
and a parallel scan in file order, a row's text built only when it is quarantined. The
accounting, row numbers, texts and verdicts must be what a fully staged read gave."""

from __future__ import annotations

from pathlib import Path

import duckdb

from auditlog.ingest import ingest_paths


def write_parquet(path: Path, rows: list[tuple[str | None, str | None, str, str]]) -> Path:
    """Rows of (event_id, ts, actor, result) with action and system fixed; ts as text."""
    con = duckdb.connect()
    values = ", ".join(
        "(" + ", ".join("NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in row)
        + ")" for row in rows)
    con.execute(
        f"COPY (SELECT event_id, ts, actor, 'login' AS action, 'crm' AS system, result "
        f"FROM (VALUES {values}) t(event_id, ts, actor, result)) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


ROWS = [
    ("E1", "2026-03-01T10:00:00Z", "alice", "success"),
    ("E2", "yesterday", "bob", "success"),            # row 2: unparseable timestamp
    ("E3", "2026-03-01T10:02:00Z", "carol", "maybe"),  # row 3: unknown result
    ("E1", "2026-03-01T10:00:00Z", "alice", "success"),  # row 4: duplicate of row 1
    ("E1", "2026-03-01T10:09:00Z", "alice", "success"),  # row 5: conflict with row 1
    ("E6", "2026-03-01T10:06:00Z", "dave", "failure"),
]


def test_rows_numbers_texts_and_verdicts(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_parquet(tmp_path / "a.parquet", ROWS)
    (result,) = ingest_paths(con, [path], kind="actions", tz="UTC")
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (
        6, 2, 1, 3)
    assert con.execute("SELECT event_id, _row FROM actions ORDER BY _row").fetchall() == [
        ("E1", 1), ("E6", 6)]
    quarantined = con.execute(
        "SELECT row_number, location, reason, raw FROM quarantine ORDER BY row_number"
    ).fetchall()
    assert [(n, loc) for n, loc, _, _ in quarantined] == [(2, "row 2"), (3, "row 3"),
                                                          (5, "row 5")]
    assert quarantined[0][2] == "unparseable timestamp in ts: yesterday"
    assert quarantined[1][2].startswith("unknown value maybe for result")
    assert quarantined[2][2].startswith("conflict: event_id E1 appears at row 1")
    # The text of a quarantined row is its fields as a JSON object, by their names.
    assert quarantined[0][3] == ('{"event_id":"E2","ts":"yesterday","actor":"bob",'
                                 '"action":"login","system":"crm","result":"success"}')
    assert quarantined[2][3].startswith('{"event_id":"E1","ts":"2026-03-01T10:09:00Z"')


def test_a_reload_is_every_row_again_and_nothing_stored(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_parquet(tmp_path / "a.parquet", ROWS)
    ingest_paths(con, [path], kind="actions", tz="UTC")
    (again,) = ingest_paths(con, [path], kind="actions", tz="UTC")
    assert (again.rows_read, again.loaded, again.duplicates, again.quarantined) == (6, 0, 3, 3)
    assert con.execute("SELECT count(*) FROM actions").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (3,)


def test_a_timestamp_column_loads_as_its_instant(tmp_path: Path,
                                                 con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "typed.parquet"
    writer = duckdb.connect()
    writer.execute("SET TimeZone = 'Asia/Kolkata'")
    writer.execute(
        "COPY (SELECT 'E1' AS event_id, TIMESTAMPTZ '2026-03-01 10:00:00+00' AS ts, "
        f"'alice' AS actor, 'login' AS action, 'crm' AS system) TO '{path}' (FORMAT parquet)")
    writer.close()
    (result,) = ingest_paths(con, [path], kind="actions", tz="UTC")
    assert (result.loaded, result.quarantined) == (1, 0)
    assert con.execute("SELECT epoch(ts) FROM actions").fetchone() == (1772359200.0,)


def test_a_timestamp_column_is_typed_as_its_value_and_digests_as_its_text_would(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A TIMESTAMPTZ column is taken as it is (Staged.instants), not printed and parsed
    # back; the row is the same content as the same event written as text elsewhere.
    typed = tmp_path / "typed.parquet"
    writer = duckdb.connect()
    writer.execute(
        "COPY (SELECT * FROM (VALUES ('E1', TIMESTAMPTZ '2026-03-01 10:00:00.123456+00'), "
        "('E2', NULL)) t(event_id, ts), (SELECT 'alice' AS actor, 'login' AS action, "
        f"'crm' AS system)) TO '{typed}' (FORMAT parquet)")
    writer.close()
    (result,) = ingest_paths(con, [typed], kind="actions", tz="UTC")
    assert (result.loaded, result.quarantined, result.naive_times) == (1, 1, 0)
    assert con.execute("SELECT reason FROM quarantine").fetchall() == [
        ("missing required field ts",)]
    assert con.execute("SELECT epoch_us(ts) FROM actions").fetchall() == [(1772359200123456,)]
    as_text = tmp_path / "a.csv"
    as_text.write_text("event_id,ts,actor,action,system\n"
                       "E1,2026-03-01T10:00:00.123456Z,alice,login,crm\n", encoding="utf-8")
    (again,) = ingest_paths(con, [as_text], kind="actions", tz="UTC")
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 1, 0)


def test_columns_the_schema_names_twice_keep_their_names_and_conflicts_stay_apart(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # DuckDB's reader renames `TS` beside `ts` to `TS_1` and a second `note` to `note_1`:
    # a second timestamp was silently kept in extra, under a name the file never had.
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    instants = [dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)] * 2
    table = pa.Table.from_arrays(
        [pa.array(["E1", "E2"]), pa.array(instants),
         pa.array([instants[0], instants[0] + dt.timedelta(hours=1)]),
         pa.array(["op", "op"]), pa.array(["login", "login"]), pa.array(["crm", "crm"]),
         pa.array(["a", "a"]), pa.array([None, "a"])],
        names=["event_id", "ts", "TS", "actor", "action", "system", "note", "note"])
    pq.write_table(table, tmp_path / "x.parquet")
    (result,) = ingest_paths(con, [tmp_path / "x.parquet"])
    assert (result.loaded, result.quarantined) == (1, 1)
    assert con.execute("SELECT event_id, CAST(extra AS VARCHAR) FROM actions").fetchall() == [
        ("E1", '{"note":"a"}')]
    (reason, raw), = con.execute("SELECT reason, raw FROM quarantine").fetchall()
    assert reason == "conflicting values for ts under the keys ts, TS"
    assert '"ts":"2026-09-01 12:00:00+00","TS":"2026-09-01 13:00:00+00"' in raw
