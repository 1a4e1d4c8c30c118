"""JSON Lines and CSV files are read lazily (staged as a view, read in parallel, raw text
kept only for quarantined rows). The result must be exactly what reading every row into a
staging table first gives: same stored rows (digests, extra, positions), same quarantine
(reasons, positions, raw text), same counts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog import store
from auditlog.ingest import ingest_paths
from auditlog.ingest import pipeline as pipeline_module
from auditlog.ingest.sources import read
from tests.conftest import snapshot

ROW = {"event_id": "e1", "ts": "2026-03-01T10:00:00Z", "actor": "op.1", "action": "login",
       "system": "crm"}

# Lines of a JSON Lines file that exercise every path: blank and space-only lines (not
# rows, but they count as lines), text that is not JSON, JSON that is not an object, an
# empty object, padded and escaped values, a key in another case, extra columns of every
# JSON type, rows without event_id, and ids repeated with the same and other content.
JSONL_LINES = [
    json.dumps(ROW),
    "",
    "   ",
    "not json at all",
    "[1, 2]",
    "{}",
    json.dumps({**ROW, "event_id": "e2", "actor": "  op.2\u00a0", "action": 'say "hi"\\'}),
    json.dumps({**ROW, "event_id": "e3", "TS": "2026-03-01T11:00:00Z", "ts": None}),
    json.dumps({**ROW, "event_id": "e4", "n": 5, "f": 1.50, "b": True, "o": {"x": [1]}}),
    json.dumps({k: v for k, v in ROW.items() if k != "event_id"}),
    json.dumps({k: v for k, v in ROW.items() if k != "event_id"}),
    json.dumps(ROW),
    json.dumps({**ROW, "system": "billing"}),
    json.dumps({**ROW, "event_id": "e5", "ts": "yesterday", "actor": ""}),
    "\u00a0{\"event_id\": \"e6\"}",
    json.dumps({**ROW, "event_id": "e7", "system": "caf\u00e9 \u2603"}, ensure_ascii=False),
]

CSV_TEXT = (
    "event_id,ts,actor,action,system,note\n"
    "e1,2026-03-01T10:00:00Z,op.1,login,crm,\n"
    'e2,2026-03-01T10:00:00Z," op.2 ",login,crm,"two\nlines"\n'
    "e1,2026-03-01T10:00:00Z,op.1,login,crm,\n"
    "e1,2026-03-01T10:00:00Z,op.1,login,billing,x\n"
    ",2026-03-01T10:00:00Z,op.3,login,crm,\n"
    ",2026-03-01T10:00:00Z,op.3,login,crm,\n"
    "e8,never,op.1,login,crm,\n"
)
MALFORMED = "e9,2026-03-01T10:00:00Z,op.1\n"


def _load(db: Path, paths: list[Path], *, lazy: bool,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[Any, ...]]]:
    staged: list[bool] = []

    def spy(con: duckdb.DuckDBPyConnection, source: Any, **_: object) -> Any:
        result = read(con, source, lazy=lazy)
        staged.extend(s.lazy for s in result)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(pipeline_module, "read", spy)
        con = store.connect(db)
        try:
            for path in paths:
                ingest_paths(con, [path], kind="actions")
            assert staged and set(staged) == {lazy}
            return snapshot(con)
        finally:
            con.close()


def _write(path: Path, text: str) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz", "none.jsonl", "a.csv", "a.tsv",
                                  "bad.csv"])
def test_lazy_reads_give_exactly_what_staged_reads_give(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    if name.startswith("none"):
        # None of the named kind's columns: every row is quarantined.
        text = '{"foo": 1}\n\n{"bar": "x"}\n[]\n'
    elif "jsonl" in name:
        text = "\n".join(JSONL_LINES) + "\n"
    else:
        text = CSV_TEXT + (MALFORMED if name.startswith("bad") else "")
        if name.endswith(".tsv"):
            text = text.replace(",", "\t")
    source = _write(tmp_path / name, text)
    # A second file with some of the same ids: duplicates and conflicts with stored rows.
    other = _write(tmp_path / f"b.{name}", text.replace("op.1", "op.9", 1))
    lazy = _load(tmp_path / "lazy.duckdb", [source, other, source], lazy=True,
                 monkeypatch=monkeypatch)
    eager = _load(tmp_path / "eager.duckdb", [source, other, source], lazy=False,
                  monkeypatch=monkeypatch)
    assert lazy == eager
    assert lazy["quarantine"] and (lazy["actions"] or name.startswith("none"))


def test_conflicts_keep_their_position_and_raw_text(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = _write(tmp_path / "a.jsonl", "\n".join(JSONL_LINES) + "\n")
    (result,) = ingest_paths(con, [path], kind="actions")
    assert result.rows_read == len(JSONL_LINES) - 2  # blank and space-only lines
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read
    rows = con.execute(
        "SELECT row_number, location, reason, raw FROM quarantine ORDER BY row_number"
    ).fetchall()
    by_line = {row: (location, reason, raw) for row, location, reason, raw in rows}
    assert by_line[4] == ("line 4", "not valid JSON", "not json at all")
    assert by_line[5][1:] == ("not a JSON object", "[1, 2]")
    location, reason, raw = by_line[13]
    assert location == "line 13" and reason.startswith("conflict: event_id e1 appears at line 1")
    assert raw == JSONL_LINES[12]
    assert by_line[15][2] == JSONL_LINES[14]
    # Padded and escaped values are trimmed and unescaped; line 12 is a duplicate.
    assert con.execute("SELECT actor, action FROM actions WHERE event_id = 'e2'").fetchone() == (
        "op.2", 'say "hi"\\')
    assert con.execute("SELECT _row FROM actions WHERE event_id = 'e7'").fetchone() == (16,)


def test_csv_conflicts_keep_their_record_number_and_fields(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = _write(tmp_path / "a.csv", CSV_TEXT + MALFORMED + CSV_TEXT.split("\n", 1)[1])
    (result,) = ingest_paths(con, [path], kind="actions")
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read == 15
    rows = con.execute(
        "SELECT location, reason, raw FROM quarantine ORDER BY row_number").fetchall()
    # Located by file line (the header is line 1), with the line's own text.
    conflict = [r for r in rows if r[0] == "line 6"]  # record 4, after record 2's two lines
    assert conflict and conflict[0][1].startswith("conflict: event_id e1 appears at line 2")
    assert conflict[0][2] == CSV_TEXT.split("\n")[5]
    assert any(r[0] == "line 10" and r[1].startswith("malformed CSV record") for r in rows)
    # Records after the malformed one keep their numbers.
    assert ("line 18", "unparseable timestamp in ts: never") in [(r[0], r[1]) for r in rows]
