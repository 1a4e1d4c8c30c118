"""The load commands from the outside: exit codes, JSON on stdout, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from auditlog.cli import app
from tests.conftest import write_rows

runner = CliRunner()

ROW = {"charge_id": "c1", "ts": "2026-09-01 12:00:00", "account": "C1", "product": "P",
       "amount": "4.99"}


def test_ingest_json_is_exactly_the_per_file_counts(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "x.csv", [ROW, {**ROW, "charge_id": "c2", "amount": "x"}])
    result = runner.invoke(app, ["ingest", str(path), "--db", str(tmp_path / "d.duckdb"),
                                 "--tz", "Europe/Paris", "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry == {"path": str(path), "kind": "charges", "sha256": entry["sha256"],
                     "rows_read": 2, "loaded": 1, "duplicates": 0, "quarantined": 1}
    assert len(entry["sha256"]) == 64


def test_what_a_folder_holds_and_is_not_loaded_is_said_on_stderr(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    write_rows(folder / "charges.csv", [ROW])
    (folder / "README.txt").write_text("These are the billing exports.\nHandle with care.\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00")
    result = runner.invoke(app, ["ingest", str(folder), "--db", str(tmp_path / "d.duckdb"),
                                 "--tz", "UTC", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [entry["loaded"] for entry in json.loads(result.stdout)] == [1]
    assert result.stderr.splitlines() == [
        (f"warning: skipped {folder / 'README.txt'}, not in a format auditlog reads: "
         "text, but not JSON, JSON Lines, CSV, TSV or auditd records (with --strict this "
         "is an error)"),
        (f"note: passed over what is hidden in {folder} (a name starting with '.'), "
         "unread: .DS_Store; name a file on the command line to load it"),
    ]


def test_status_json_reports_kinds_files_and_quarantine(tmp_path: Path) -> None:
    db = str(tmp_path / "d.duckdb")
    path = write_rows(tmp_path / "x.csv", [ROW, {**ROW, "charge_id": "c2", "ts": "?"}])
    runner.invoke(app, ["ingest", str(path), "--db", db, "--tz", "Europe/Paris"])
    result = runner.invoke(app, ["status", "--db", db, "--format", "json"])
    status = json.loads(result.stdout)
    assert status["kinds"]["charges"] == {"rows": 1, "first": "2026-09-01T10:00:00Z",
                                          "last": "2026-09-01T10:00:00Z", "quarantined": 1}
    assert status["quarantined"] == 1
    (file,) = status["files"]
    assert (file["path"], file["tz"], file["rows_read"]) == (str(path), "Europe/Paris", 2)
    rows = json.loads(runner.invoke(app, ["quarantine", "--db", db, "-f", "json"]).stdout)
    assert [(r["location"], r["reason"]) for r in rows] == [
        ("line 3", "unparseable timestamp in ts: ?")]  # record 2, after the header


def test_errors_are_one_sentence_and_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    process = subprocess.run(
        [sys.executable, "-m", "auditlog", "ingest", str(bad), "--db",
         str(tmp_path / "d.duckdb")], capture_output=True, text=True, check=False)
    assert process.returncode == 2
    assert process.stdout == ""
    assert "Traceback" not in process.stderr
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "broken.jsonl.gz" in lines[0] and "gzip" in lines[0]


def test_status_without_a_database_says_what_to_do(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "auditlog", "status", "--db", str(tmp_path / "none.duckdb")],
        capture_output=True, text=True, check=False)
    assert process.returncode == 2
    assert "auditlog ingest" in process.stderr and "Traceback" not in process.stderr


def test_a_generated_world_loads_as_its_sources_say(tmp_path: Path) -> None:
    # `auditlog generate` then `auditlog ingest DIR`: each file with its kind and zone
    # (the billing export is in local time), the ground truth beside the logs left out.
    from auditlog.ingest.world import read_sources
    from auditlog.world import generate_world

    world = tmp_path / "w"
    generate_world(world, customers=100, seed=3, days=21, billing_tz="Europe/Amsterdam")
    db = tmp_path / "w.duckdb"
    result = runner.invoke(app, ["ingest", str(world), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "is a generated world" in result.stderr
    loaded = {(e["path"], e["kind"]) for e in json.loads(result.stdout)}
    assert loaded == {(str(path), kind) for path, kind, _ in read_sources(world)}
    by_world = tmp_path / "by_world.duckdb"
    import auditlog
    with auditlog.open(by_world) as inv:
        inv.ingest_world(world)
    query = "SELECT charge_id, ts FROM charges ORDER BY charge_id"
    with auditlog.open(db) as a, auditlog.open(by_world) as b:
        assert a.sql(query).rows() == b.sql(query).rows()

    # Told how to read it, the folder is files like any other: the ground truth is no log.
    told = runner.invoke(app, ["ingest", str(world), "--db", str(tmp_path / "t.duckdb"),
                               "--tz", "UTC"])
    assert told.exit_code != 0  # (the app raises; main() words it as one sentence)
    assert "ground_truth" in str(getattr(told.exception, "source", ""))


def test_joined_exports_are_said_on_stderr_and_counted_without_their_headers(
        tmp_path: Path) -> None:
    header = "charge_id,ts,account,product,amount\n"
    path = tmp_path / "all.csv"
    path.write_bytes((header + "c1,2026-09-01T12:00:00.1234567Z,C1,P,1\n"
                      + "\ufeff" + header + "c2,2026-09-01T12:00:00Z,C2,P,2\n").encode())
    result = runner.invoke(app, ["ingest", str(path), "--db", str(tmp_path / "d.duckdb"),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (2, 2, 0)
    assert result.stderr.splitlines() == [
        (f"note: 1 line(s) of {path} repeat its header, the first at line 3 (files joined "
         "with their headers?): skipped, not counted as rows"),
        (f"note: 1 timestamp(s) in {path} carried digits below the microsecond, cut to "
         "microseconds where stored; rows apart only by those digits are still told apart "
         "(not taken for duplicates)"),
    ]
