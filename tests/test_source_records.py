"""The verbatim source record of every standard-format row (issue 12, item 4): kept at
ingest in `source_records`, reachable from the row by (_file, _row), equal to what the
file holds, removed by forget; an older database is refused."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from evtx import PyEvtxParser

from auditlog import store
from auditlog.errors import UsageError
from auditlog.ingest import ingest_paths
from auditlog.ingest.forget import forget
from auditlog.kinds import KINDS
from auditlog.sqltext import sql_string
from tests.conftest import write_rows

DATA = Path(__file__).parent / "data"
# Every real sample of a standard format, by the adapter that reads it.
SOURCES = {
    "cloudtrail": ["cloudtrail", "attacks"],
    "k8s": ["k8s_audit"],
    "gcp": ["gcp"],
    "azure": ["azure"],
    "github": ["github"],
    "okta": ["okta"],
    "workspace": ["workspace"],
    "ocsf": ["ocsf"],
    "windows": ["windows"],
    "auditd": ["auditd"],
}
NOT_LOGS = {".md", ".txt"}


def _samples() -> list[tuple[str, Path]]:
    found = []
    for adapter, folders in SOURCES.items():
        for folder in folders:
            for path in sorted((DATA / folder).rglob("*")):
                if path.is_dir() or path.suffix in NOT_LOGS or "LICENSE" in path.name \
                        or "COPYING" in path.name:
                    continue
                found.append((adapter, path))
    return found


SAMPLES = _samples()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """Every sample, loaded in one ingest (so that copies of one event in two files are
    duplicates, as a user loading a folder of them sees)."""
    con = store.connect(tmp_path_factory.mktemp("records") / "all.duckdb")
    ingest_paths(con, [path for _, path in SAMPLES])
    yield con
    con.close()


def _sha(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    (sha,) = con.execute("SELECT min(sha256) FROM ingested_files WHERE path = $p",
                         {"p": str(path)}).fetchone() or (None,)
    assert sha is not None, path
    return str(sha)


def _records(con: duckdb.DuckDBPyConnection, sha: str) -> dict[int, tuple[str, str]]:
    return {row: (fmt, record) for row, fmt, record in con.execute(
        "SELECT row_number, source_format, record FROM source_records "
        "WHERE file_sha256 = $sha ORDER BY row_number", {"sha": sha}).fetchall()}


def _lines(path: Path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [line.removesuffix(b"\r") for line in data.split(b"\n")]


def _json_elements(path: Path) -> list[Any]:
    """The records of a JSON document, as the reader unwraps it."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(doc, list):
        return doc
    for member in ("Records", "records", "events"):
        if isinstance(doc.get(member), list):
            return list(doc[member])
    return [doc]


def _format(con: duckdb.DuckDBPyConnection, sha: str) -> str:
    (fmt,) = con.execute("SELECT min(format) FROM ingested_files WHERE sha256 = $sha",
                         {"sha": sha}).fetchone() or ("",)
    return str(fmt)


def assert_verbatim(path: Path, fmt: str, records: dict[int, tuple[str, str]]) -> None:
    """Each record is what the file holds at its position: a JSON line byte for byte, a
    JSON element or EVTX record as the same JSON, an auditd event as its lines."""
    if fmt.startswith("jsonl"):
        lines = _lines(path)
        for row, (_, record) in records.items():
            assert record.encode("utf-8") == lines[row - 1], (path.name, row)
    elif fmt.startswith("json"):
        elements = _json_elements(path)
        for row, (_, record) in records.items():
            assert json.loads(record) == elements[row - 1], (path.name, row)
    elif fmt == "evtx":
        parsed = [json.loads(r["data"]) for r in PyEvtxParser(str(path)).records_json()]
        for row, (_, record) in records.items():
            assert json.loads(record) == parsed[row - 1], (path.name, row)
    elif fmt.startswith("auditd"):
        lines = [line.decode("utf-8") for line in _lines(path)]
        for row, (_, record) in records.items():
            event = json.loads(record)
            assert isinstance(event, str)
            event_lines = event.split("\n")
            assert event_lines[0] == lines[row - 1], (path.name, row)
            assert set(event_lines) <= set(lines)
    else:
        raise AssertionError(f"no check for format {fmt}")


@pytest.mark.parametrize(("adapter", "path"), SAMPLES,
                         ids=[f"{a}-{p.name}" for a, p in SAMPLES])
def test_every_stored_row_reaches_its_verbatim_record(
        loaded: duckdb.DuckDBPyConnection, adapter: str, path: Path) -> None:
    sha = _sha(loaded, path)
    records = _records(loaded, sha)
    stored = 0
    for kind in KINDS:
        total, with_record, formats = loaded.execute(
            f"SELECT count(*), count(record), coalesce(list(DISTINCT source_format), []) "
            f"FROM {kind}_with_record WHERE _file = $sha", {"sha": sha}).fetchone() or (0, 0, [])
        assert with_record == total, (kind, path.name)
        assert formats in ([], [adapter])
        stored += total
    # A record is kept for the rows stored, and for those shared with an earlier file
    # (forget may hand them over); none for a file all of whose rows were quarantined.
    (wanted,) = loaded.execute(
        " UNION ".join([f"SELECT _row FROM {k} WHERE _file = $sha" for k in KINDS]
                       + ["SELECT row_number FROM shared_rows WHERE file_sha256 = $sha"])
        .join(["SELECT count(*) FROM (", ")"]), {"sha": sha}).fetchone() or (0,)
    assert len(records) == wanted
    assert {fmt for fmt, _ in records.values()} <= {adapter}
    assert_verbatim(path, _format(loaded, sha), records)


def test_every_source_is_covered(loaded: duckdb.DuckDBPyConnection) -> None:
    formats = {f for (f,) in loaded.execute(
        "SELECT DISTINCT source_format FROM source_records").fetchall()}
    assert formats == set(SOURCES)


def test_a_record_that_gives_several_rows_is_kept_once_and_shared(
        loaded: duckdb.DuckDBPyConnection) -> None:
    # An OCSF user access event of two privileges, a GitHub event naming two teams, an
    # Okta event of two roles: each row reaches the one record it came from.
    rows = " UNION ALL ".join(f"SELECT _file, _row, record FROM {k}_with_record" for k in KINDS)
    shared = loaded.execute(
        f"SELECT f.path, count(*), count(DISTINCT record) FROM ({rows}) r "
        "JOIN ingested_files f ON f.sha256 = r._file GROUP BY f.path, r._row "
        "HAVING count(*) > 1"
    ).fetchall()
    assert {Path(path).parent.name for path, _, _ in shared} >= {"ocsf", "github", "okta"}
    assert all(records == 1 for _, _, records in shared)
    ((repeated,),) = loaded.execute(
        "SELECT count(*) - count(DISTINCT (file_sha256, row_number)) FROM source_records"
    ).fetchall()
    assert repeated == 0


def test_a_field_no_mapping_kept_is_read_from_the_record(
        loaded: duckdb.DuckDBPyConnection) -> None:
    # CloudTrail's requestParameters are not columns; the record has them.
    names = loaded.execute(
        "SELECT DISTINCT record ->> '$.requestParameters.userName' FROM actions_with_record "
        "WHERE source_format = 'cloudtrail' AND action = 'CreateLoginProfile'").fetchall()
    assert names and all(name is not None for (name,) in names)
    # Over an auditd record (a JSON string) a path is NULL, not an error.
    assert loaded.execute(
        "SELECT count(record ->> '$.eventName') FROM actions_with_record "
        "WHERE source_format = 'auditd'").fetchall() == [(0,)]


def test_a_gzipped_json_lines_file_keeps_its_lines(tmp_path: Path,
                                                  con: duckdb.DuckDBPyConnection) -> None:
    source = DATA / "k8s_audit" / "falco_k8s_audit_rbac_sample.jsonl"
    packed = tmp_path / "audit.log.gz"
    packed.write_bytes(gzip.compress(source.read_bytes(), mtime=0))
    (result,) = ingest_paths(con, [packed])
    records = _records(con, result.sha256)
    assert len(records) == result.loaded > 0
    assert_verbatim(packed, "jsonl", records)


def test_ocsf_in_parquet_keeps_each_row_as_its_json(tmp_path: Path,
                                                   con: duckdb.DuckDBPyConnection) -> None:
    event = DATA / "ocsf" / "api_activity_6003.json"
    parquet = tmp_path / "lake.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_json({sql_string(str(event))}, timestampformat = 'none', "
        f"dateformat = 'none')) TO {sql_string(str(parquet))} (FORMAT parquet)")
    (result,) = ingest_paths(con, [parquet])
    records = _records(con, result.sha256)
    assert result.loaded == 1 and list(records) == [1]
    fmt, record = records[1]
    assert fmt == "ocsf" and json.loads(record) == json.loads(event.read_text())


def test_native_rows_keep_no_record(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [{"event_id": "e1", "ts": "2026-01-01T00:00:00Z", "actor": "op1",
             "action": "login", "system": "crm"}]
    for name in ("actions.jsonl", "actions.csv"):
        ingest_paths(con, [write_rows(tmp_path / name, rows)])
    assert con.execute("SELECT count(*) FROM source_records").fetchall() == [(0,)]
    assert con.execute("SELECT record, source_format FROM actions_with_record").fetchall() \
        == [(None, None)]


def _two_copies(tmp_path: Path) -> tuple[Path, Path]:
    source = DATA / "cloudtrail" / "otrf_ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl"
    first, second = tmp_path / "first.jsonl", tmp_path / "copy" / "second.log"
    second.parent.mkdir()
    shutil.copy(source, first)
    # The same events, one line fewer: another content that shares every other row.
    second.write_bytes(b"\n".join(source.read_bytes().split(b"\n")[1:]))
    return first, second


def test_reloading_adds_no_record_and_forget_removes_them(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    first, second = _two_copies(tmp_path)
    (one,) = ingest_paths(con, [first])
    assert len(_records(con, one.sha256)) == one.loaded == 103
    ingest_paths(con, [first])  # the same content again: nothing new
    assert con.execute("SELECT count(*) FROM source_records").fetchall() == [(103,)]
    (two,) = ingest_paths(con, [second])
    assert two.duplicates == 102 and two.loaded == 0
    # The duplicates' records are kept: forget hands their rows over to this file.
    assert len(_records(con, two.sha256)) == 102
    forget(con, [str(first)])
    assert _records(con, one.sha256) == {}
    # Every row left (handed over to the second file) still reaches its record, the
    # second file's own line.
    rows = con.execute("SELECT _file, _row, record FROM actions_with_record").fetchall()
    assert len(rows) == 102
    lines = _lines(second)
    assert all(f == two.sha256 and r.encode() == lines[n - 1] for f, n, r in rows)
    forget(con, [str(second)])
    assert con.execute("SELECT count(*) FROM source_records").fetchall() == [(0,)]


def test_a_failed_ingest_keeps_no_record(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    first, _ = _two_copies(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"eventVersion": "1.08", "eventTime": "not a time", '
                   '"eventSource": "iam.amazonaws.com", "eventName": "X"}\n')
    with pytest.raises(Exception, match="strict"):
        ingest_paths(con, [first, bad], strict=True)
    assert con.execute("SELECT count(*) FROM source_records").fetchall() == [(0,)]


def _aged(path: Path, version: str) -> None:
    con = store.connect(path)
    con.execute("UPDATE meta SET value = $v WHERE key = 'schema_version'", {"v": version})
    con.close()


def test_a_database_of_an_older_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _aged(path, "1")
    for read_only in (False, True):
        with pytest.raises(UsageError, match=r"older auditlog \(schema version 1, this one "
                           r"reads 4\); load the logs again into a new database"):
            store.connect(path, read_only=read_only)


def test_the_cli_refuses_an_older_database_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _aged(path, "1")
    done = subprocess.run([sys.executable, "-m", "auditlog", "status"], capture_output=True,
                          text=True, env={"AUDITLOG_DB": str(path), "PATH": "/usr/bin:/bin"},
                          check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "re-ingest" in done.stderr or "load the logs again" in done.stderr


# --- traces and the evidence export show the record ----------------------------------

ADMIN_GRANT = DATA / "attacks" / "aws.persistence.iam-create-admin-user.json"


@pytest.fixture(scope="module")
def attack_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real detonation (an IAM user created and given AdministratorAccess), loaded
    and run through every pack."""
    from auditlog.analysis.findings import run_packs
    from auditlog.pack import load_rules

    db = tmp_path_factory.mktemp("attack") / "attack.duckdb"
    con = store.connect(db)
    ingest_paths(con, [ADMIN_GRANT])
    con.close()
    run_packs(db, load_rules())
    return db


def _grant() -> dict[str, Any]:
    (element,) = [e for e in _json_elements(ADMIN_GRANT) if e["eventName"] == "AttachUserPolicy"]
    return element


def test_a_trace_shows_its_rows_source_records_only_when_asked(attack_db: Path) -> None:
    from auditlog import investigation

    inv = investigation.Investigation(attack_db)
    assert "source_records" not in inv.trace_account("malicious-iam-user")
    doc = inv.trace_account("malicious-iam-user", records=True)
    (entry,) = doc["source_records"]
    assert entry["kind"] == "privileges" and entry["id"] == _grant()["eventID"]
    assert entry["source_format"] == "cloudtrail" and entry["row"] == 1 + [
        e["eventID"] for e in _json_elements(ADMIN_GRANT)].index(entry["id"])
    assert entry["path"] == str(ADMIN_GRANT)
    # The record is the event as the file has it, fields no mapping kept included.
    assert entry["record"] == _grant()
    assert doc["privileges"][0]["id"] == entry["id"]


def test_trace_records_from_the_command_line(attack_db: Path) -> None:
    from typer.testing import CliRunner

    from auditlog.cli import app

    env = {"AUDITLOG_DB": str(attack_db), "COLUMNS": "80", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, ["trace", "account", "malicious-iam-user", "--records",
                                      "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["source_records"]
    assert entry["record"] == _grant()
    shown = CliRunner().invoke(app, ["trace", "account", "malicious-iam-user", "--records"],
                               env=env)
    assert shown.exit_code == 0, shown.output
    assert f"file sha256 {entry['file_sha256']}" in shown.stdout  # ids never cut
    assert '"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"' in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80


def test_a_trace_of_native_rows_says_they_have_no_record(tmp_path: Path) -> None:
    from auditlog.analysis.attribution import trace_change

    con = store.connect(tmp_path / "native.duckdb")
    change = {"change_id": "CHG-1", "system": "billing", "implementer": "op1",
              "started_at": "2026-01-01T00:00:00Z"}
    (result,) = ingest_paths(con, [write_rows(tmp_path / "changes.jsonl", [change])])
    (entry,) = trace_change(con, "CHG-1", records=True).as_json()["source_records"]
    assert entry == {"kind": "changes", "id": "CHG-1", "file_sha256": result.sha256,
                     "row": 1, "path": str(tmp_path / "changes.jsonl"),
                     "source_format": None, "record": None}
    con.close()


def test_the_evidence_export_carries_each_rows_record(attack_db: Path, tmp_path: Path) -> None:
    from auditlog.export.bundle import export_bundle

    export_bundle(attack_db, tmp_path / "out", ["json"])
    rows = json.loads((tmp_path / "out" / "evidence_privileges.json").read_text())
    grants = [r for r in rows if r["event_id"] == _grant()["eventID"]]
    assert grants, "no finding names the AdministratorAccess grant"
    assert all(r["source_format"] == "cloudtrail" for r in grants)
    assert all(json.loads(r["source_record"]) == _grant() for r in grants)


def test_a_mapping_files_rows_keep_the_records_it_read(tmp_path: Path,
                                                      con: duckdb.DuckDBPyConnection) -> None:
    import csv

    mappings = Path(__file__).parent.parent / "auditlog" / "ingest" / "mappings"
    jira = DATA / "jira" / "elastic_jira_test-audit-cloud.log"
    (result,) = ingest_paths(con, [jira], mapping=mappings / "jira_cloud_audit.toml")
    records = _records(con, result.sha256)
    assert len(records) == result.loaded > 0
    assert {fmt for fmt, _ in records.values()} == {"mapping:jira_cloud_audit"}
    assert_verbatim(jira, "jsonl", records)  # the lines, byte for byte
    # A CSV record: its fields as a JSON object, header names as keys (an empty field,
    # which DuckDB's CSV reader reads as no value, as null).
    examples = Path(__file__).parent.parent / "examples" / "mappings"
    billing = examples / "billing_export_nl.csv"
    (result,) = ingest_paths(con, [billing], mapping=examples / "billing_export_nl.toml")
    with billing.open(newline="", encoding="utf-8") as handle:
        rows = [{k: v or None for k, v in row.items()} for row in csv.DictReader(handle)]
    records = _records(con, result.sha256)
    assert len(records) == result.loaded == len(rows)
    assert all(json.loads(record) == rows[n - 1] for n, (_, record) in records.items())
