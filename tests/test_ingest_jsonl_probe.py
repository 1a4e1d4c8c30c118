"""The first look at a JSON Lines file (readers._jsonl_keys) also says whether every line
that is not blank is JSON; only then does the typed read parse without `try` (issue 14).
Either way a line that is not JSON is quarantined with its number and text, never an
error of the whole file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from auditlog.ingest import ingest_paths

GOOD = '{"event_id": "E%d", "ts": "2026-03-01T10:00:0%dZ", "actor": "a", "action": "login", "system": "crm"}'


def load(con: duckdb.DuckDBPyConnection, path: Path, lines: list[str]) -> tuple[int, ...]:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (result,) = ingest_paths(con, [path], kind="actions", tz="UTC")
    return result.rows_read, result.loaded, result.duplicates, result.quarantined


def test_blank_lines_in_a_file_of_json_keep_the_line_numbers(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    lines = [GOOD % (1, 1), "", "   ", GOOD % (2, 2), "[1, 2]", "{}", GOOD % (3, 3)]
    assert load(con, tmp_path / "a.jsonl", lines) == (5, 3, 0, 2)
    assert con.execute("SELECT event_id, _row FROM actions ORDER BY _row").fetchall() == [
        ("E1", 1), ("E2", 4), ("E3", 7)]
    assert con.execute("SELECT location, reason FROM quarantine ORDER BY row_number"
                       ).fetchall() == [
        ("line 5", "not a JSON object"),
        ("line 6", ("missing required field ts; missing required field actor; missing "
                    "required field action; missing required field system"))]


def test_a_line_that_is_not_json_is_quarantined_in_a_file_of_json(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    lines = [GOOD % (1, 1), '{"event_id": "E2", "ts": ', "", GOOD % (3, 3), "nul"]
    assert load(con, tmp_path / "a.jsonl", lines) == (4, 2, 0, 2)
    assert con.execute("SELECT row_number, reason, raw FROM quarantine ORDER BY row_number"
                       ).fetchall() == [(2, "not valid JSON", '{"event_id": "E2", "ts": '),
                                        (5, "not valid JSON", "nul")]
