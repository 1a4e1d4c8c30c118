"""Records in the wrappers real exporters save them in: CloudWatch Logs events as a Lambda
function receives them (`{"awslogs": {"data": ...}}`), Kubernetes audit EventLists on
lines of JSON Lines, JSON arrays written back to back; and what CloudTrail Lake writes
out, which holds no CloudTrail records, said so."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest import ingest_paths

runner = CliRunner()
DATA = Path(__file__).parent / "data"
LAMBDA_SAMPLE = DATA / "cloudwatch_lambda" / "example-cloudwatch_logs-event.json"
AUDIT2RBAC = DATA / "k8s_audit" / "audit2rbac_demo.log.jsonl"


def cloudtrail_lines() -> list[str]:
    """Real CloudTrail records (Elastic's pipeline samples), each as written; without
    the sample that reuses another's eventID with other content (a conflict anywhere)."""
    folder = DATA / "elastic_cloudtrail"
    return [line for path in sorted(folder.glob("test-*.log")) if "digest" not in path.name
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and "RoleToBeAssumed" not in line]


def payload(messages: list[str], kind: str = "DATA_MESSAGE") -> dict[str, Any]:
    """A subscription payload of the trail's log group, as CloudWatch Logs writes one."""
    return {"messageType": kind, "owner": "111122223333", "logGroup": "aws-cloudtrail-logs",
            "logStream": "111122223333_CloudTrail_us-east-1",
            "subscriptionFilters": ["to-lambda"],
            "logEvents": [{"id": f"3720{i:052}", "timestamp": 1728396737000 + i,
                           "message": m} for i, m in enumerate(messages)]}


def lambda_event(data: bytes) -> dict[str, Any]:
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


def wrapped(value: dict[str, Any]) -> dict[str, Any]:
    return lambda_event(gzip.compress(json.dumps(value, separators=(",", ":")).encode()))


def ingest(path: Path, db: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["rows_read"] == entry["loaded"] + entry["duplicates"] + entry["quarantined"]
    return dict(entry)


def quarantine(db: Path) -> list[tuple[str, str]]:
    result = runner.invoke(app, ["quarantine", "--db", str(db), "--all", "-f", "json"])
    assert result.exit_code == 0, result.output
    return sorted((row["location"], row["reason"]) for row in json.loads(result.stdout))


# --- (a) CloudWatch Logs events for Lambda ---------------------------------------------


def test_lambda_events_saved_one_per_line_or_as_an_array_are_their_cloudtrail_records(
        tmp_path: Path) -> None:
    lines = cloudtrail_lines()
    events = [wrapped(payload(["CWL CONTROL MESSAGE: Checking health of destination Lambda."],
                              "CONTROL_MESSAGE")),
              wrapped(payload(lines[:4])), wrapped(payload(lines[4:]))]
    as_lines = tmp_path / "lambda-events.jsonl"
    as_lines.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    as_array = tmp_path / "lambda-events.json"
    as_array.write_text(json.dumps(events, indent=2), encoding="utf-8")
    db = tmp_path / "d.duckdb"
    first, second = ingest(as_lines, db), ingest(as_array, db)
    assert (first["rows_read"], first["loaded"], first["quarantined"]) == (
        len(lines), len(lines), 0)
    # The same records again: every one a duplicate, none merged or lost.
    assert (second["rows_read"], second["duplicates"]) == (len(lines), len(lines))
    with duckdb.connect(str(db), read_only=True) as con:
        kept = con.execute(
            "SELECT record FROM actions_with_record UNION ALL "
            "SELECT record FROM privileges_with_record").fetchall()
        logs = con.execute("SELECT DISTINCT extra ->> '$.cloudwatch_logs.logGroup' "
                           "FROM actions").fetchall()
    # Each row's source record is the message as CloudTrail wrote it.
    assert sorted(r for (r,) in kept) == sorted(lines)
    assert logs == [("aws-cloudtrail-logs",)]


def test_the_documented_lambda_event_of_a_plain_text_log_is_quarantined_per_message(
        tmp_path: Path) -> None:
    # The AWS sample: two "[ERROR] ..." lines of a log group that holds no CloudTrail.
    db = tmp_path / "d.duckdb"
    entry = ingest(LAMBDA_SAMPLE, db)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (2, 0, 2)
    reason = ('CloudWatch Logs event of log group "testLogGroup" whose message is not a '
              "CloudTrail record: it is not a JSON object (CloudTrail writes one JSON "
              "record per event)")
    assert quarantine(db) == [("value 1 event 1", reason), ("value 1 event 2", reason)]


def test_a_wrapper_that_cannot_be_decoded_is_quarantined_at_its_line(tmp_path: Path) -> None:
    (record, *_) = cloudtrail_lines()
    good = wrapped(payload([record]))
    lines = [
        good,
        {"awslogs": {"data": "this is not base64!"}},
        lambda_event(json.dumps(payload([record])).encode()),  # base64, but not gzip
        lambda_event(gzip.compress(b"START RequestId: 8b1d")),  # gzip, but not JSON
        lambda_event(gzip.compress(json.dumps(payload([record])).encode())[:-12]),  # cut
        lambda_event(gzip.compress(b'{"level": "info"}')),  # JSON, but no payload
        {"awslogs": {}},
    ]
    path = tmp_path / "lambda.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    db = tmp_path / "d.duckdb"
    entry = ingest(path, db)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (7, 1, 6)
    what = "CloudWatch Logs event for Lambda (awslogs)"
    assert quarantine(db) == [
        ("line 2", f"{what} whose data is not base64 text"),
        ("line 3", f"{what} whose data is not gzip-compressed (base64 of gzip expected)"),
        ("line 4", f"{what} whose data does not inflate to JSON text"),
        ("line 5", f"{what} whose data is cut short (its gzip stream ends early)"),
        ("line 6", (f"{what} whose data is not a CloudWatch Logs subscription payload "
                    "(an object with messageType and logEvents)")),
        ("line 7", f"{what} without its data (a text member awslogs.data)"),
    ]


def test_lambda_events_of_control_messages_alone_hold_nothing(tmp_path: Path) -> None:
    control = payload(["CWL CONTROL MESSAGE: Checking health of destination Lambda."],
                      "CONTROL_MESSAGE")
    path = tmp_path / "control.jsonl"
    path.write_text(json.dumps(wrapped(control)) + "\n", encoding="utf-8")
    entry = ingest(path, tmp_path / "d.duckdb")
    assert (entry["kind"], entry["rows_read"]) == ("empty", 0)


# --- (c) Kubernetes audit EventLists on lines of JSON Lines ----------------------------


def audit_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in AUDIT2RBAC.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def event_list(items: list[Any]) -> dict[str, Any]:
    # What the API server's webhook backend posts, and a receiver appends as a line.
    return {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
            "items": items}


def test_event_lists_on_lines_are_read_as_their_items_in_file_order(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    events = audit_events()
    assert len(events) >= 6
    lines = [events[0], event_list(events[1:4]), event_list([]), events[4],
             event_list(events[5:])]
    path = tmp_path / "webhook.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (
        len(events), len(events), 0)
    rows = con.execute("SELECT _row, event_id FROM actions ORDER BY _row").fetchall()
    # One row per event, numbered in the order the file holds them.
    assert rows == [(n, e["auditID"]) for n, e in enumerate(events, 1)]
    # Loaded again (a copy under another name): the same rows, every one a duplicate.
    copy = tmp_path / "again.jsonl"
    copy.write_bytes(path.read_bytes())
    (again,) = ingest_paths(con, [copy])
    assert (again.rows_read, again.duplicates) == (len(events), len(events))


def test_an_item_of_a_listed_line_that_is_no_event_is_quarantined_at_its_item(
        tmp_path: Path) -> None:
    events = audit_events()[:3]
    path = tmp_path / "webhook.jsonl"
    path.write_text(json.dumps(events[0]) + "\n"
                    + json.dumps(event_list([events[1], "gone", events[2]])) + "\n",
                    encoding="utf-8")
    db = tmp_path / "d.duckdb"
    entry = ingest(path, db)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (4, 3, 1)
    assert [loc for loc, _ in quarantine(db)] == ["line 2 item 2"]


# --- (d) JSON documents written back to back ---------------------------------------------

STRATUS = [DATA / "cloudtrail" / "stratus_aws.persistence.iam-create-admin-user.json",
           DATA / "cloudtrail" / "stratus_aws.defense-evasion.organizations-leave.json"]


def event_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(i for (i,) in con.execute(
        "SELECT event_id FROM actions UNION ALL SELECT event_id FROM privileges").fetchall())


def test_arrays_written_back_to_back_are_read_one_after_another(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Two real detonation logs joined as `cat a.json b.json > joined.json` writes them.
    joined = tmp_path / "joined.json"
    joined.write_bytes(b"".join(p.read_bytes().strip() for p in STRATUS))
    arrays = [json.loads(p.read_text(encoding="utf-8")) for p in STRATUS]
    (result,) = ingest_paths(con, [joined])
    total = sum(len(a) for a in arrays)
    assert (result.rows_read, result.loaded + result.duplicates, result.quarantined) == (
        total, total, 0)
    assert event_ids(con) == sorted(r["eventID"] for a in arrays for r in a)
    stored = con.execute(
        "SELECT _row, record FROM actions_with_record UNION ALL "
        "SELECT _row, record FROM privileges_with_record ORDER BY _row").fetchall()
    # Each element as written, the second array's numbered after the first's.
    assert [(row, json.loads(rec)) for row, rec in stored] == list(
        enumerate((r for a in arrays for r in a), 1))


def test_cloudtrail_objects_joined_by_zcat_are_their_records(tmp_path: Path) -> None:
    records = [json.loads(line) for line in cloudtrail_lines()]
    parts = [{"Records": records[:5]}, {"Records": records[5:]}]
    joined = tmp_path / "all.json"  # zcat AWSLogs/.../*.json.gz > all.json
    joined.write_text("".join(json.dumps(p) + "\n" for p in parts), encoding="utf-8")
    entry = ingest(joined, tmp_path / "d.duckdb")
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (
        len(records), len(records), 0)


def test_a_damaged_second_array_keeps_what_parses_and_quarantines_the_rest(
        tmp_path: Path) -> None:
    first, second = (p.read_text(encoding="utf-8").strip() for p in STRATUS)
    cut = second[: second.rindex('"AssumeRole"')]  # its last record cut short
    path = tmp_path / "joined.json"
    path.write_text(first + "\n" + cut, encoding="utf-8")
    db = tmp_path / "d.duckdb"
    entry = ingest(path, db)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (6, 5, 1)
    ((location, reason),) = quarantine(db)
    assert location == "value 2 element 3"
    assert reason.startswith("not valid JSON from here to the end of the file")


def test_text_after_an_array_is_quarantined_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    array = STRATUS[0].read_text(encoding="utf-8").strip()
    path.write_text(array + "\n-- end of export --\n", encoding="utf-8")
    db = tmp_path / "d.duckdb"
    entry = ingest(path, db)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (4, 3, 1)
    ((location, reason),) = quarantine(db)
    assert location == "value 2"
    assert reason == ("not valid JSON from here to the end of the file (after the array "
                      f"ending on line {array.count(chr(10)) + 1})")


# --- (b) CloudTrail Lake ------------------------------------------------------------------

LAKE = DATA / "cloudtrail_lake"


def refused(path: Path, db: Path) -> str:
    """The one line the command line says when it refuses to load `path`."""
    process = subprocess.run([sys.executable, "-m", "auditlog", "ingest", str(path),
                              "--db", str(db)], capture_output=True, text=True, check=False)
    assert (process.returncode, process.stdout) == (2, "")
    (line,) = process.stderr.strip().splitlines()  # one sentence, no traceback
    return line


def test_the_sign_file_of_saved_lake_results_is_said_to_hold_no_events(
        tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(LAKE / "result_sign.json"),
                                 "--db", str(tmp_path / "d.duckdb"), "--format", "json"])
    assert result.exit_code == 0, result.output
    ((entry),) = json.loads(result.stdout)
    assert (entry["kind"], entry["rows_read"]) == ("empty", 0)
    assert ("is the sign file of CloudTrail Lake query results (hashes and a signature of "
            "the result files, no events): nothing in it to load") in result.stderr


def test_lake_query_results_are_refused_saying_what_they_are_and_what_to_load(
        tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    csv_result = ("this is a CloudTrail Lake query result (its columns eventid, eventname, "
                  "eventsource, eventtime, useridentity)")
    api_result = "this is a CloudTrail Lake query result as GetQueryResults returns it"
    for name, what in [("result_1.csv.gz", csv_result),
                       ("get-query-results.json", api_result)]:
        path = LAKE / name
        line = refused(path, db)
        assert line.startswith(f"error: {path}: {what}")
        assert "not CloudTrail records; load the trail's own log files" in line
    status = runner.invoke(app, ["status", "--db", str(db), "--format", "json"])
    assert json.loads(status.stdout)["files"] == []


def test_a_lake_result_of_a_kinds_columns_loads_as_that_kind(tmp_path: Path) -> None:
    # What the refusal advises: the query selects the columns of actions.
    path = tmp_path / "result_1.csv.gz"
    path.write_bytes(gzip.compress(
        b"event_id,ts,actor,action,system\n"
        b"0b5e6ab3-4fb7-4b4f-a16e-7e1bEXAMPLE,2022-05-10 21:58:12.000,"
        b"arn:aws:iam::123456789012:user/Alice,AttachUserPolicy,iam.amazonaws.com\n"))
    result = runner.invoke(app, ["ingest", str(path), "--db", str(tmp_path / "d.duckdb"),
                                 "--tz", "UTC", "--format", "json"])
    assert result.exit_code == 0, result.output
    ((entry),) = json.loads(result.stdout)
    assert (entry["kind"], entry["loaded"]) == ("actions", 1)


def test_a_cloudtrail_record_is_not_taken_for_a_lake_result(tmp_path: Path) -> None:
    # Without eventVersion no format claims it, but its names are a record's own.
    record = json.loads(cloudtrail_lines()[0])
    del record["eventVersion"]
    path = tmp_path / "ct.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    line = refused(path, tmp_path / "d.duckdb")
    assert "cannot tell which kind of log this is" in line
    assert "CloudTrail Lake" not in line
