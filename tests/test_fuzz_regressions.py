"""The defects fuzzing and hostile inputs found, kept as small files in tests/data/fuzz/:
each loads with exactly the expected counts and quarantine reasons, or fails with one
sentence giving the true reason, through the CLI (exit 0 or 2, never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app

CORPUS = Path(__file__).parent / "data" / "fuzz"
runner = CliRunner()

# file: (rows_read, loaded, duplicates, quarantined, words every quarantine reason has)
LOADS: dict[str, tuple[int, int, int, int, str]] = {
    "nul_byte_line.jsonl": (4, 3, 0, 1, "NUL byte"),
    "invalid_utf8_line.jsonl": (3, 2, 0, 1, "not valid UTF-8"),
    "stray_cr_between_members.jsonl": (3, 3, 0, 0, ""),
    # CRLF and LF end lines; a lone CR does not, so the line holding it is not JSON.
    "mixed_line_endings.jsonl": (4, 3, 0, 1, "not valid JSON"),
    "escape_sequence_in_bad_line.jsonl": (2, 1, 0, 1, "not valid JSON"),
    "keys_differing_in_case.jsonl": (2, 1, 0, 1, "conflicting values for actor"),
    "repeated_key.jsonl": (2, 1, 0, 1, "repeats the key(s) actor"),
    "empty_key.jsonl": (1, 1, 0, 0, ""),
    "extreme_numbers_and_years.jsonl": (6, 4, 0, 2, "timestamp"),
    "cr_inside_field.csv": (4, 2, 0, 2, "malformed CSV record"),
    "quoted_field_cut_at_end.csv": (2, 1, 0, 1, "malformed CSV record"),
    "invalid_utf8_record.csv": (3, 2, 0, 1, "not valid UTF-8"),
    "nul_in_record.tsv": (2, 1, 0, 1, "NUL byte"),
    "mixed_line_endings.csv": (3, 3, 0, 0, ""),
    "header_only.csv": (0, 0, 0, 0, ""),
    "empty.csv": (0, 0, 0, 0, ""),
    "truncated_array.json": (3, 2, 0, 1, "not valid JSON from here to the end"),
    "k8s_requests_sharing_an_audit_id.jsonl": (3, 1, 1, 1, "conflict: event_id same"),
    "cloudtrail_event_id_on_two_kinds.json": (3, 1, 1, 1, "already loaded as a privileges row"),
}
# file: the true reason, in the one sentence
FAILS: dict[str, str] = {
    "utf16.jsonl": "the text is UTF-16",
    "binary.jsonl": "not valid UTF-8",
    "truncated.jsonl.gz": "the gzip stream is truncated",
    "not_json_at_all.json": "the file is not JSON",
    "damaged.parquet": "the file is truncated or damaged: its footer says",
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert {p.name for p in CORPUS.iterdir()} == set(LOADS) | set(FAILS)


@pytest.mark.parametrize("name", sorted(LOADS))
def test_corpus_file_loads_with_every_bad_row_quarantined(tmp_path: Path, name: str) -> None:
    db = str(tmp_path / "d.duckdb")
    result = runner.invoke(app, ["ingest", str(CORPUS / name), "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    rows_read, loaded, duplicates, quarantined, words = LOADS[name]
    assert (entry["rows_read"], entry["loaded"], entry["duplicates"], entry["quarantined"]) == (
        rows_read, loaded, duplicates, quarantined)
    if name == "empty.csv":
        assert entry["kind"] == "empty"
    with duckdb.connect(db, read_only=True) as con:
        stored = con.execute("SELECT reason, raw FROM quarantine").fetchall()
    assert len(stored) == quarantined
    for reason, raw in stored:
        assert words in reason
        # Raw bytes are kept, escaped: nothing a terminal acts on, invalid bytes as \xNN.
        assert raw and not any(ord(c) < 9 or 13 < ord(c) < 32 or 127 <= ord(c) < 160
                               for c in raw), raw
    # Loading the same file again changes nothing.
    again = runner.invoke(app, ["ingest", str(CORPUS / name), "--db", db, "--format", "json"])
    assert json.loads(again.stdout)[0]["loaded"] == 0


def test_bad_bytes_are_kept_escaped_in_the_quarantine(tmp_path: Path) -> None:
    db = str(tmp_path / "d.duckdb")
    for name in ("nul_byte_line.jsonl", "invalid_utf8_line.jsonl",
                 "escape_sequence_in_bad_line.jsonl"):
        runner.invoke(app, ["ingest", str(CORPUS / name), "--db", db])
    with duckdb.connect(db, read_only=True) as con:
        raws = {path.rsplit("/", 1)[-1]: raw for path, raw in
                con.execute("SELECT path, raw FROM quarantine").fetchall()}
    assert '"X\\x00"' in raws["nul_byte_line.jsonl"]
    assert '"E9\\xff\\xfe"' in raws["invalid_utf8_line.jsonl"]
    assert "\\x1b]8;;http://evil.example\\x1b\\" in raws["escape_sequence_in_bad_line.jsonl"]


@pytest.mark.parametrize("name", sorted(FAILS))
def test_corpus_file_that_cannot_be_read_fails_with_its_true_reason(
        tmp_path: Path, name: str) -> None:
    db = tmp_path / "d.duckdb"
    good = tmp_path / "good.jsonl"
    good.write_text('{"event_id":"G","ts":"2026-01-01T00:00:00Z","actor":"a","action":"x",'
                    '"system":"s"}\n')
    assert runner.invoke(app, ["ingest", str(good), "--db", str(db)]).exit_code == 0
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM actions").fetchall()
    # The console script's own error handling, as a user meets it.
    process = subprocess.run(
        [sys.executable, "-m", "auditlog", "ingest", str(CORPUS / name), "--db", str(db)],
        capture_output=True, text=True, check=False)
    assert process.returncode == 2 and process.stdout == ""
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, process.stderr
    assert name in lines[0] and FAILS[name] in lines[0] and "Traceback" not in lines[0]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM actions").fetchall() == before
