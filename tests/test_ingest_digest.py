"""The content digest (`_digest`, schema version 4): the md5 of a JSON array of a row's
typed values, stored as a number. It must tell a duplicate (same id, same content) from a conflict (same id,
other content) whatever the values hold, and must not depend on the session."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from auditlog import store
from auditlog.errors import UsageError
from auditlog.ingest import ingest_paths

ROW = {"event_id": "E1", "ts": "2026-03-01T10:00:00+02:00", "actor": "svc",
       "action": "login", "system": "crm"}


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def counts(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, int, int]:
    (result,) = ingest_paths(con, [path], kind="actions", tz="UTC")
    return result.loaded, result.duplicates, result.quarantined


def test_values_that_concatenate_alike_are_a_conflict(tmp_path: Path,
                                                      con: duckdb.DuckDBPyConnection) -> None:
    # Joined with any separator these two rows read the same; as JSON arrays they differ.
    first = write_jsonl(tmp_path / "a.jsonl", [{**ROW, "actor": 'a","b', "action": "c"}])
    second = write_jsonl(tmp_path / "b.jsonl", [{**ROW, "actor": "a", "action": 'b","c'}])
    assert counts(con, first) == (1, 0, 0)
    assert counts(con, second) == (0, 0, 1)
    assert con.execute("SELECT actor FROM actions").fetchall() == [('a","b',)]


def test_a_null_and_the_text_null_are_a_conflict(tmp_path: Path,
                                                 con: duckdb.DuckDBPyConnection) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [{**ROW, "object": None}])
    second = write_jsonl(tmp_path / "b.jsonl", [{**ROW, "object": "null"}])
    assert counts(con, first) == (1, 0, 0)
    assert counts(con, second) == (0, 0, 1)


def test_the_digest_does_not_depend_on_the_session_time_zone(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = write_jsonl(tmp_path / "a.jsonl", [ROW, {**ROW, "event_id": "E2",
                                                    "amount_text": "12.50"}])
    assert counts(con, rows) == (2, 0, 0)
    con.execute("SET TimeZone = 'Asia/Kolkata'")
    again = write_jsonl(tmp_path / "b.jsonl", [ROW])
    assert counts(con, again) == (0, 1, 0)


def test_the_same_row_as_csv_and_json_lines_is_a_duplicate(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [{**ROW, "session_id": "s-1", "note": " 7 "}]
    csv = tmp_path / "a.csv"
    csv.write_text("note,system,action,actor,ts,event_id,session_id\n"
                   "7,crm,login,svc,2026-03-01T08:00:00Z,E1,s-1\n", encoding="utf-8")
    assert counts(con, write_jsonl(tmp_path / "a.jsonl", rows)) == (1, 0, 0)
    assert counts(con, csv) == (0, 1, 0)


def test_a_database_of_schema_version_3_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v3.duckdb"
    con = store.connect(path)
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(UsageError, match=r"schema version 3, this one reads 4\); load the "
                       r"logs again into a new database"):
        store.connect(path)


def test_a_generated_id_is_the_md5_hex_of_the_content_as_before_version_4(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Version 4 stores the digest as a number; the id of a row without one stays the
    # first 24 hex characters of the md5 of the same text, so ids (and the finding ids
    # made from them) are those version 3 gave.
    row = {k: v for k, v in ROW.items() if k != "event_id"}
    assert counts(con, write_jsonl(tmp_path / "a.jsonl", [row])) == (1, 0, 0)
    # ts as epoch microseconds (10:00+02:00 is 08:00Z), then the other columns in the
    # kind's order, result's default, and no extras.
    content = json.dumps(["1772352000000000", "svc", None, "login", "crm", None, None, None,
                          None, None, "success", None, None, None], separators=(",", ":"))
    expected = "auto-" + hashlib.md5(content.encode()).hexdigest()[:24]
    assert con.execute("SELECT event_id, typeof(_digest) FROM actions").fetchall() == [
        (expected, "UBIGINT")]


SAMPLE = (Path(__file__).parent / "data/cloudtrail"
          / "otrf_ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl")


def test_an_adapters_text_that_looks_like_json_stays_text(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # An adapter's text values are staged as text, not as JSON (staging.split_by_kind):
    # a value spelled like a JSON object or number is still the string the log wrote.
    record = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])
    record["userAgent"] = ' {"a": 1} '
    record["sourceIPAddress"] = "12"
    path = write_jsonl(tmp_path / "ct.jsonl", [record])
    (result,) = ingest_paths(con, [path], tz="UTC")
    assert (result.loaded, result.quarantined) == (1, 0)
    assert con.execute("SELECT extra ->> '$.user_agent', json_type(extra, '$.user_agent'), "
                       "source_ip FROM actions").fetchall() == [(' {"a": 1} ', "VARCHAR", "12")]
    (again,) = ingest_paths(con, [write_jsonl(tmp_path / "b.jsonl", [record])], tz="UTC")
    assert (again.loaded, again.duplicates) == (0, 1)


def test_the_digest_reaches_a_notebook_whole(tmp_path: Path) -> None:
    # `SELECT *` of a kind table into polars (Investigation.sql) gives each row's digest
    # as DuckDB stores it: a 64-bit unsigned number, not a decimal it overflows.
    import auditlog

    with auditlog.open(tmp_path / "n.duckdb") as inv:
        inv.ingest([write_jsonl(tmp_path / "a.jsonl", [ROW, {**ROW, "event_id": "e2",
                                                              "action": "logout"}])])
        frame = inv.sql("SELECT * FROM actions ORDER BY event_id")
        stored = inv.sql("SELECT CAST(_digest AS VARCHAR) AS d FROM actions "
                         "ORDER BY event_id")["d"].to_list()
    assert [str(d) for d in frame["_digest"].to_list()] == stored
    assert len(set(stored)) == 2
