"""A file's format is told by its content, its name only a hint: the real samples load
the same under the names collectors give them (.log, .ocsf, .txt, none, .log.gz); OCSF
events stored as Parquet (AWS Security Lake) load as the same events in JSON do."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app
from auditlog.cli.common import flag
from auditlog.errors import InputError
from auditlog.ingest import ingest_paths, sources
from auditlog.ingest.files import Hidden, InputFile, Unrecognized, identify, text_format
from auditlog.sqltext import sql_string

DATA = Path(__file__).parent / "data"
CLOUDTRAIL_LINES = DATA / "cloudtrail" / "otrf_ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl"
CLOUDTRAIL_RECORDS = DATA / "cloudtrail" / "stratus_aws.persistence.iam-create-admin-user.json"
K8S = DATA / "k8s_audit" / "audit2rbac_demo.log.jsonl"
OCSF_ONE = DATA / "ocsf" / "api_activity_6003.json"
OCSF_LINES = DATA / "ocsf" / "minimal_examples.jsonl"
OCSF_EVENTS = sorted(p for p in (DATA / "ocsf").iterdir() if p.suffix in (".json", ".jsonl"))
JUNK = bytes(range(256)) * 8


def loaded(path: Path, db: Path) -> tuple[list[tuple[Any, ...]], dict[str, list[Any]]]:
    """The results of loading `path` into a fresh database `db`, and every stored row of
    every kind (less the column naming the file), in order."""
    con = store.connect(db)
    try:
        results = [(r.kind, r.rows_read, r.loaded, r.duplicates, r.quarantined)
                   for r in ingest_paths(con, [path])]
        tables = {}
        for kind in ("actions", "privileges", "accounts"):
            columns = [c for (c, *_) in con.execute(f"DESCRIBE {kind}").fetchall() if c != "_file"]
            tables[kind] = con.execute(
                f"SELECT {', '.join(columns)} FROM {kind} ORDER BY _row, event_id"
                if kind != "accounts" else f"SELECT {', '.join(columns)} FROM {kind} ORDER BY 1"
            ).fetchall()
        tables["quarantine"] = con.execute(
            "SELECT row_number, reason FROM quarantine ORDER BY row_number").fetchall()
        return results, tables
    finally:
        con.close()


def renamed(sample: Path, to: Path, *, compress: bool = False) -> Path:
    data = sample.read_bytes()
    to.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return to


@pytest.mark.parametrize(("sample", "name", "compress"), [
    (CLOUDTRAIL_LINES, "cloudtrail.log", False),
    (CLOUDTRAIL_LINES, "cloudtrail.txt", False),
    (CLOUDTRAIL_LINES, "cloudtrail", False),
    (CLOUDTRAIL_LINES, "cloudtrail.log.gz", True),
    (CLOUDTRAIL_LINES, "cloudtrail-no-suffix-gzipped", True),
    (CLOUDTRAIL_RECORDS, "stratus.log", False),
    (CLOUDTRAIL_RECORDS, "stratus", False),
    (CLOUDTRAIL_RECORDS, "stratus.log.gz", True),
    (K8S, "audit.log", False),
    (K8S, "audit.log.1.gz", True),
    (OCSF_ONE, "api_activity.ocsf", False),
    (OCSF_LINES, "minimal_examples.ocsf", False),
])
def test_real_samples_load_the_same_whatever_their_name(
        tmp_path: Path, sample: Path, name: str, compress: bool) -> None:
    expected_results, expected_rows = loaded(sample, tmp_path / "as-named.duckdb")
    assert expected_results[0][2] > 0  # the sample loads rows at all
    results, rows = loaded(renamed(sample, tmp_path / name, compress=compress),
                           tmp_path / "renamed.duckdb")
    assert results == expected_results
    assert rows == expected_rows


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("x.log", b'{"a": 1}\n{"a": 2}\n', ("jsonl", False)),
    ("x.log", b'[{"a": 1},\n {"a": 2}]\n', ("json", False)),
    ("x.log", b'{\n  "Records": [\n    {"a": 1}\n  ]\n}\n', ("json", False)),  # pretty
    ("x.log", b'{"a": 1}{"a": 2}', ("json", False)),  # concatenated on one line
    ("x.log", b'{\n "a": 1\n}\n{\n "a": 2\n}\n', ("json", False)),  # concatenated, pretty
    ("x.log", b'{"a": \n{"a": 2}\n{"a": 3}\n', ("jsonl", False)),  # a damaged first line
    ("x.txt", b"ts,actor,action\n2026-01-01T00:00:00Z,a,login\n", ("csv", False)),
    ("x", b"ts\tactor\taction\n2026-01-01T00:00:00Z\ta\tlogin\n", ("tsv", False)),
    ("audit.log", b"type=ADD_USER msg=audit(1481076992.488:389): pid=1 uid=0 res=success\n",
     ("auditd", False)),
    ("audit.log", b"node=h1 type=SYSCALL msg=audit(1594053514.588:4686): arch=c000003e\n",
     ("auditd", False)),
    ("ausearch.out", (b"----\ntime->Mon Dec  7 01:16:32 2016\n"
     b"type=ADD_GROUP msg=audit(12/07/2016 01:16:32.414:385): pid=1235\n"), ("auditd", False)),
    ("Security", b"ElfFile\x00" + bytes(120), ("evtx", False)),
    ("lake-object", b"PAR1" + bytes(16), ("parquet", False)),
    ("x.json", gzip.compress(b'{"a": 1}\n', mtime=0), ("json", True)),  # gzip, whatever the name
    ("x.log.gz", gzip.compress(b"type=USER_CMD msg=audit(1.2:3): cmd=ls\n", mtime=0), ("auditd", True)),
    ("empty.log", b"", ("jsonl", False)),  # no rows, whatever its format
])
def test_the_content_decides(tmp_path: Path, name: str, content: bytes,
                             expected: tuple[str, bool]) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    told = identify(path)
    assert isinstance(told, InputFile), told
    assert (told.format, told.gzipped) == expected


@pytest.mark.parametrize(("content", "reason"), [
    (JUNK, "binary data"),
    ((b"MIT License\n\nCopyright (c) 2020, Example Corp.\n\nPermission is hereby granted, free"
     b" of charge, to any person obtaining a copy\n"), "text, but not JSON"),
    # Prose with a comma on each line is no table: its "header" is no list of column names.
    ((b"This folder holds samples from one repository, unmodified.\n"
     b"Each file is named after its source, with its license beside it.\n"), "text, but not"),
    ("ts,actor\n".encode("utf-16"), "UTF-16 text"),
    ("ts,actor\nt,a\n".encode("utf-16-le"), "UTF-16LE text without a byte order mark"),
    (gzip.compress(JUNK, mtime=0), "gzip-compressed binary data"),
    (gzip.compress(b"PAR1" + bytes(16), mtime=0), "gzip-compressed parquet"),
    (b"PK\x03\x04" + JUNK, "a zip archive; unpack it"),
    (b"\x28\xb5\x2f\xfd" + JUNK, "a zstd stream"),
])
def test_what_no_reader_recognizes_says_what_it_looked_like(
        tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "LICENSE"
    path.write_bytes(content)
    told = identify(path)
    assert isinstance(told, Unrecognized) and reason in told.reason


@pytest.mark.parametrize(("name", "content", "reason"), [
    # They were "a zip archive; unpack it and load what it holds" and "binary data".
    ("charges.xlsx", b"PK\x03\x04" + JUNK,
     "a spreadsheet workbook (.xlsx); save each sheet as CSV (UTF-8) and load those"),
    ("export", b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml" + b"xl/workbook.xml" + JUNK,
     "a spreadsheet workbook (.xlsx)"),
    ("charges.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + JUNK, "an Excel 97-2003 workbook; save"),
])
def test_a_spreadsheet_workbook_is_told_to_be_saved_as_csv(
        tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    told = identify(path)
    assert isinstance(told, Unrecognized) and reason in told.reason


def test_a_known_suffix_is_kept_for_a_damaged_file(tmp_path: Path) -> None:
    # The reader of the named format then says what is wrong (test_ingest_bad_input).
    for name, content in (("fake.parquet", b"a,b\n1,2\n"), ("fake.json", b"<html>"),
                          ("plain.csv.gz", b"a,b\n1,2\n"), ("x.evtx", b"not an evtx")):
        path = tmp_path / name
        path.write_bytes(content)
        told = identify(path)
        assert isinstance(told, InputFile) and told.format == name.split(".")[1], name


def test_a_long_first_line_is_judged_by_what_fits(tmp_path: Path) -> None:
    # A first record longer than the look-ahead: JSON (concatenated objects), which reads
    # JSON Lines too.
    head = b'{"a": "' + b"x" * 300_000
    assert text_format(head, whole=False)[0] == "json"


# --- folders: what is not a log is passed over, with a warning ---------------------------

def junk_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(CLOUDTRAIL_RECORDS, folder / "cloudtrail.log")
    (folder / "core.bin").write_bytes(JUNK)
    (folder / ".hidden").write_bytes(JUNK)  # hidden: passed over, not "skipped"
    return folder


def test_hidden_files_and_folders_in_a_folder_are_named_not_read(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # They were passed over without a word: a .DS_Store, but also a hidden export.
    folder = junk_folder(tmp_path)
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "objects" / "ab").write_bytes(JUNK)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    shutil.copy(CLOUDTRAIL_RECORDS, folder / ".cloudtrail.log")
    told: list[Hidden] = []
    results = ingest_paths(con, [folder], skipped=lambda _: None, hidden=told.append)
    assert [Path(r.path).name for r in results] == ["cloudtrail.log"]
    assert [(h.folder, h.entries) for h in told] == [
        (folder, [".cloudtrail.log", ".git/", ".hidden"])]
    assert str(told[0]).startswith(f"passed over what is hidden in {folder} ")
    # Not an error with --strict (no one exported them), and by default a warning.
    (folder / "core.bin").unlink()
    with pytest.warns(UserWarning, match=r"hidden .*\.cloudtrail\.log, \.git/, \.hidden; "
                                         "name a file on the command line to load it"):
        ingest_paths(con, [folder], strict=True)


def test_a_junk_file_in_a_folder_is_skipped_with_a_warning(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    folder = junk_folder(tmp_path)
    passed_over: list[Unrecognized] = []
    results = ingest_paths(con, [folder], skipped=passed_over.append)
    assert [(Path(r.path).name, r.loaded) for r in results] == [("cloudtrail.log", 3)]
    assert [(s.path.name, s.reason) for s in passed_over] == [("core.bin", "binary data")]
    # By default (no one to tell) it is a warning.
    with pytest.warns(UserWarning, match="skipped .*core.bin.*binary data"):
        ingest_paths(con, [folder])


def test_with_strict_a_junk_file_in_a_folder_is_an_error(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputError) as info:
        ingest_paths(con, [junk_folder(tmp_path)], strict=True)
    assert "core.bin (binary data)" in str(info.value)
    assert "--strict" in info.value.worded(flag)
    assert con.execute("SELECT count(*) FROM actions").fetchone() == (0,)


def test_a_junk_file_named_alone_is_an_error_naming_what_was_tried(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "core.bin"
    path.write_bytes(JUNK)
    with pytest.raises(InputError) as info:
        ingest_paths(con, [path])
    message = str(info.value)
    assert "core.bin" in message and "binary data" in message
    for tried in ("JSON Lines", "CSV", "TSV", "Parquet", "EVTX", "auditd", "gzip"):
        assert tried in message


def test_a_folder_of_nothing_readable_and_an_empty_folder_say_which(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no log files found"):
        ingest_paths(con, [tmp_path / "empty"])
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "core.bin").write_bytes(JUNK)
    with pytest.raises(InputError, match=r"none of the 1 file\(s\).*core.bin \(binary data\)"):
        ingest_paths(con, [tmp_path / "docs"])


def test_the_cli_warns_on_stderr_and_strict_fails(tmp_path: Path) -> None:
    folder = junk_folder(tmp_path)
    db = str(tmp_path / "cli.duckdb")
    ok = CliRunner().invoke(app, ["ingest", str(folder), "--db", db, "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert [Path(r["path"]).name for r in json.loads(ok.stdout)] == ["cloudtrail.log"]
    assert "warning: skipped" in ok.stderr and "core.bin" in ok.stderr
    assert "--strict" in ok.stderr
    for args, words in ([str(folder), "--strict"], ("core.bin", "--strict is on")), (
            [str(folder / "core.bin")], ("unsupported file type", "binary data")):
        failed = subprocess.run([sys.executable, "-m", "auditlog", "ingest", *args, "--db", db],
                                capture_output=True, text=True, check=False)
        assert failed.returncode == 2, failed.stderr
        assert all(word in failed.stderr for word in words), failed.stderr
        assert "Traceback" not in failed.stderr


def test_a_format_without_a_registered_reader_is_a_clear_error(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "READERS",
                        {f: r for f, r in sources.READERS.items() if f != "evtx"})
    path = tmp_path / "Security"
    path.write_bytes(b"ElfFile\x00" + bytes(4088))
    with pytest.raises(InputError, match="recognized as evtx, but .* no reader"):
        ingest_paths(con, [path])


# --- OCSF in Parquet (AWS Security Lake) -------------------------------------------------

def to_parquet(con: duckdb.DuckDBPyConnection, events: list[Path], out: Path) -> Path:
    """The events of `events` as one Parquet file: nested objects become struct columns,
    as Security Lake stores them. Strings stay strings (no timestamp guessing), so the
    JSON each row is read back as is the event's own."""
    files = "[" + ", ".join(sql_string(str(p)) for p in events) + "]"
    con.execute(f"COPY (SELECT * FROM read_json({files}, union_by_name = true, "
                f"timestampformat = 'none', dateformat = 'none')) TO {sql_string(str(out))} "
                "(FORMAT parquet)")
    return out


@pytest.mark.parametrize("sample", OCSF_EVENTS, ids=lambda p: p.name)
def test_ocsf_in_parquet_loads_as_the_same_events_in_json(tmp_path: Path, sample: Path) -> None:
    # One Parquet file per event, so that its row holds the event's members in their order:
    # then every stored column is the same, the content-hash ids and `extra` included.
    converter = duckdb.connect()
    if sample.suffix == ".json":
        events = [sample]
    else:
        lines = sample.read_text().splitlines()
        events = [tmp_path / f"event{n}.json" for n in range(len(lines))]
        for event, line in zip(events, lines, strict=True):
            event.write_text(line)
    for event in events:
        expected = loaded(event, tmp_path / f"{event.stem}-json.duckdb")
        parquet = to_parquet(converter, [event], tmp_path / f"{event.stem}.parquet")
        assert loaded(parquet, tmp_path / f"{event.stem}-parquet.duckdb") == expected


def test_a_security_lake_file_of_many_classes_loads_every_event(tmp_path: Path) -> None:
    # One Parquet file of every sample event: columns an event lacks are null in Parquet,
    # and left out of the record the adapter reads, as in the JSON.
    converter = duckdb.connect()
    lake = to_parquet(converter, OCSF_EVENTS, tmp_path / "lake.parquet")
    json_rows: dict[str, list[Any]] = {}
    con = store.connect(tmp_path / "json.duckdb")
    results = ingest_paths(con, OCSF_EVENTS)
    json_results = [sum(getattr(r, n) for r in results)
                    for n in ("rows_read", "loaded", "duplicates", "quarantined")]
    columns = ("event_id", "ts", "actor", "subject", "privilege", "operation", "system")
    json_rows["privileges"] = sorted(con.execute(
        f"SELECT {', '.join(columns)} FROM privileges").fetchall())
    action_columns = "ts, actor, action, system, target_account, object, result, source_ip"
    json_rows["actions"] = sorted(
        con.execute(f"SELECT {action_columns} FROM actions").fetchall(), key=repr)
    json_rows["quarantine"] = sorted(con.execute("SELECT reason FROM quarantine").fetchall())
    con.close()
    con = store.connect(tmp_path / "parquet.duckdb")
    (result,) = ingest_paths(con, [lake])
    assert [result.rows_read, result.loaded, result.duplicates, result.quarantined] == \
        json_results
    assert sorted(con.execute(f"SELECT {', '.join(columns)} FROM privileges").fetchall()) == \
        json_rows["privileges"]
    assert sorted(con.execute(f"SELECT {action_columns} FROM actions").fetchall(), key=repr) == \
        json_rows["actions"]
    assert sorted(con.execute("SELECT reason FROM quarantine").fetchall()) == \
        json_rows["quarantine"]
    # The admin grant is there, by the event's own id, located by its Parquet row.
    assert con.execute(
        "SELECT actor, subject, privilege, operation FROM privileges "
        "WHERE event_id = '0a1b2c3d-eventID'").fetchall() == [
        ("alice", "bob", "arn:aws:iam::aws:policy/AdministratorAccess", "grant")]
    con.close()


def test_native_columns_in_parquet_still_load_as_their_kind(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "actions"  # no suffix: PAR1 says Parquet
    duckdb.connect().execute(
        "COPY (SELECT TIMESTAMPTZ '2026-09-01 00:00:00+00' AS ts, 'op' AS actor, "
        f"'login' AS action, 'crm' AS system) TO {sql_string(str(path))} (FORMAT parquet)")
    (result,) = ingest_paths(con, [path])
    assert (result.kind, result.loaded) == ("actions", 1)


def test_a_timestamp_column_is_read_as_utc_iso_text(tmp_path: Path) -> None:
    # Security Lake types `time_dt` as a timestamp: the adapter's record holds it as ISO
    # 8601 in UTC, whatever the session's zone.
    path = tmp_path / "lake.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_json({sql_string(str(OCSF_ONE))})) TO "
        f"{sql_string(str(path))} (FORMAT parquet)")
    con = store.connect(tmp_path / "x.duckdb")
    con.execute("SET TimeZone = 'Europe/Paris'")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded) == (1, 1)
    assert con.execute(
        "SELECT ts, extra->>'$.ocsf.time_dt' FROM privileges").fetchone()[1] == \
        "2023-11-14T22:13:20.000Z"
    con.close()
