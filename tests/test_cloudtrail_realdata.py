"""Real CloudTrail records the adapter was not written from (Elastic's pipeline test
samples, tests/data/elastic_cloudtrail/): each one's kind, actor, result and channel, as
delivered one per line, in an S3 `{"Records": [...]}` object gzip-compressed and inside
an EventBridge envelope; and what is not an account's event (a digest file, an Insights
event, another EventBridge event) said, not taken for a kind."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog.ingest import ingest_paths
from auditlog.investigation import Investigation
from auditlog.notices import NoEvents, Notice

DATA = Path(__file__).parent / "data" / "elastic_cloudtrail"
DIGEST = DATA / "test-cloudtrail-digest-json.log"
LOGS = sorted(p for p in DATA.glob("*.log") if p != DIGEST)

# eventID → (kind, actor, action, result, channel, subject, privilege) of every record.
EXPECTED = {
    # IAMUser by userName; a console sign-in of eventVersion 1.05 has no eventType.
    "3fcfb182-98f8-4744-bd45-10aEXAMPLE":
        ("actions", "JohnDoe", "ConsoleLogin", "success", "console", None, None),
    "11ea990b-4678-4bcd-8fbe-625EXAMPLE":
        ("actions", "JaneDoe", "ConsoleLogin", "failure", "console", None, None),
    # AWSService by invokedBy.
    "b3d7f1a2-6c4e-4d8b-8e21-5a9c0e7f4d33":
        ("actions", "ec2.amazonaws.com", "AssumeRole", "success", "api", None, None),
    # AssumedRole: <sessionIssuer.userName>/<session>.
    "2a17948f-3042-46ec-98e2-62865EXAMPLE":
        ("actions", "AWSReservedSSO_SecurityAudit_8df5ccd37b/firstname.lastname@example.com",
         "AssumeRole", "success", "api", None, None),
    "46a04795-4e02-4710-a395-5a0f578cfEXAMPLE":
        ("actions", "ExampleRole/i-example1234567890", "UpdateInstanceInformation",
         "success", "api", None, None),
    "e51da5f9-14be-4742-af9f-e867abab0c9c":
        ("actions", "SomeRole/some.user@my.company.com", "ListDirectoryBuckets", "success",
         "console", None, None),
    # IdentityCenterUser by onBehalfOf.userId.
    "redacted": ("actions", "redacted", "UserAuthentication", "success", "console", None, None),
    # SAMLUser by userName; Grafana's errorCode "200" is its HTTP status: a success.
    "6136b8c9-4628-482b-918c-504829ab1871":
        ("actions", "some.user@my.company.com", "action", "success", "api", None, None),
    # A credential is an action on its owner.
    "EXAMPLE-9a9d-4da4-9998-EXAMPLE":
        ("actions", "Alice", "UploadSSHPublicKey", "success", "api", None, None),
    "6bf9a009-b248-415d-a8a9-63b7fe5621c0":
        ("privileges", "test@elastic.co", "AttachGroupPolicy", None, None, "TestGroupPolicy",
         "arn:aws:iam::aws:policy/ReadOnlyAccess"),
    "235db27d-d82f-41e1-b3e2-342752eca2dc":
        ("privileges", "test@elastic.co", "AttachUserPolicy", None, None, "test-cloudtrail",
         "arn:aws:iam::aws:policy/SecurityAudit"),
    "200661bf-fe5a-46c4-b098-d57a761c741b":
        ("privileges", "test@elastic.co", "UpdateAssumeRolePolicy", None, None,
         "cloudtrail-role", "assume-role-policy"),
}
# The third record of the console sign-ins reuses JaneDoe's eventID with other content.
CONFLICT = ("test-console-login-json.log", "line 3")


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def loaded(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Any, ...]]:
    rows = con.execute(
        "SELECT event_id, 'actions', actor, action, result, channel, NULL, NULL FROM actions "
        "UNION ALL SELECT event_id, 'privileges', actor, event_name, NULL, NULL, subject, "
        "privilege FROM (SELECT *, extra ->> '$.event_name' AS event_name FROM privileges)"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_every_record_as_delivered_one_per_line(con: duckdb.DuckDBPyConnection) -> None:
    results = ingest_paths(con, LOGS)
    assert all(r.loaded + r.duplicates + r.quarantined == r.rows_read for r in results)
    assert loaded(con) == EXPECTED
    assert con.execute("SELECT path, location, reason FROM quarantine").fetchall() == [
        (str(DATA / CONFLICT[0]), CONFLICT[1],
         ("conflict: event_id 11ea990b-4678-4bcd-8fbe-625EXAMPLE appears at line 2 of this "
         "file with different content"))]


def test_empty_identity_fields_are_no_identity(con: duckdb.DuckDBPyConnection) -> None:
    # Identity Center writes `"arn": ""` and `"accessKeyId": ""`: no raw form, no session.
    ingest_paths(con, [DATA / "test-user-authentication.log"])
    assert con.execute("SELECT actor, extra ->> '$.actor_raw', session_id FROM actions"
                       ).fetchall() == [("redacted", None, None)]


def s3_object(path: Path, recs: list[dict[str, Any]]) -> Path:
    path.write_bytes(gzip.compress(json.dumps({"Records": recs}).encode()))
    return path


def eventbridge(path: Path, recs: list[dict[str, Any]]) -> Path:
    kinds = {"AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
             "AwsServiceEvent": "AWS Service Event via CloudTrail"}
    envelopes = [{"version": "0", "id": f"eb-{i}",
                  "detail-type": kinds.get(r.get("eventType", ""), "AWS API Call via CloudTrail"),
                  "source": "aws." + r["eventSource"].split(".")[0],
                  "account": r.get("recipientAccountId", "123456789012"),
                  "time": r["eventTime"], "region": r["awsRegion"], "resources": [],
                  "detail": r} for i, r in enumerate(recs)]
    path.write_text("".join(json.dumps(e) + "\n" for e in envelopes), encoding="utf-8")
    return path


def every_record() -> list[dict[str, Any]]:
    recs = [r for path in LOGS for r in records(path)]
    # Without the conflicting copy, which would be quarantined in any container.
    return [r for r in recs if r["userIdentity"].get("arn", "").find("RoleToBeAssumed") < 0]


@pytest.mark.parametrize("container", ["s3", "eventbridge"])
def test_every_record_in_an_s3_object_or_an_eventbridge_envelope(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, container: str) -> None:
    write = s3_object if container == "s3" else eventbridge
    recs = every_record()
    path = write(tmp_path / ("ct.json.gz" if container == "s3" else "eb.jsonl"), recs)
    (result,) = ingest_paths(con, [path])
    assert (result.kind, result.rows_read, result.loaded, result.quarantined) == (
        "privileges+actions", len(EXPECTED), len(EXPECTED), 0)
    assert loaded(con) == EXPECTED
    if container == "eventbridge":
        # The envelope is kept beside the record, less the record itself.
        grant = "6bf9a009-b248-415d-a8a9-63b7fe5621c0"
        (i,) = [i for i, r in enumerate(recs) if r["eventID"] == grant]
        assert con.execute("SELECT extra -> '$.eventbridge' FROM privileges "
                           "WHERE event_id = $id", {"id": grant}
                           ).fetchone() == (json.dumps({
                               "version": "0", "id": f"eb-{i}",
                               "detail-type": "AWS API Call via CloudTrail",
                               "source": "aws.iam", "account": "000000000",
                               "time": "2024-10-08T14:12:17Z", "region": "us-east-1",
                               "resources": []}, separators=(",", ":")),)


def test_an_eventbridge_rows_source_record_is_the_cloudtrail_record(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # So a Sigma rule on CloudTrail fields (userIdentity.type, requestParameters...) reads
    # them where it would in a record from S3.
    (rec,) = records(DATA / "test-attach-group-policy-json.log")
    ingest_paths(con, [eventbridge(tmp_path / "eb.jsonl", [rec])])
    ((record, envelope),) = con.execute(
        "SELECT record, extra -> '$.eventbridge' FROM privileges_with_record").fetchall()
    assert json.loads(record) == rec
    assert json.loads(envelope)["detail-type"] == "AWS API Call via CloudTrail"


def test_a_record_from_s3_and_from_eventbridge_is_one_event(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    recs = every_record()
    s3, eb = s3_object(tmp_path / "ct.json.gz", recs), eventbridge(tmp_path / "eb.jsonl", recs)
    first, second = ingest_paths(con, [s3, eb])
    assert (first.loaded, second.duplicates, second.quarantined) == (len(recs), len(recs), 0)


def test_an_eventbridge_event_that_is_no_cloudtrail_record_says_so(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Its `account` member must not make it an accounts row.
    (rec,) = records(DATA / "test-attach-user-role-json.log")
    path = eventbridge(tmp_path / "eb.jsonl", [rec])
    other = {"version": "0", "id": "gd-1", "detail-type": "GuardDuty Finding",
             "source": "aws.guardduty", "account": "123456789012",
             "time": "2024-10-08T14:12:17Z", "region": "us-east-1", "resources": [],
             "detail": {"type": "Recon:EC2/PortProbeUnprotectedPort"}}
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(other) + "\n")
    (result,) = ingest_paths(con, [path])
    assert (result.kind, result.loaded, result.quarantined) == ("privileges+actions", 1, 1)
    assert con.execute("SELECT location, reason FROM quarantine").fetchall() == [
        ("line 2", ('EventBridge event of detail-type "GuardDuty Finding" from aws.guardduty '
                   'is not a CloudTrail record (those come as "... via CloudTrail")'))]
    assert con.execute("SELECT count(*) FROM accounts").fetchone() == (0,)


INSIGHT = {  # as the CloudTrail User Guide shows an Insights event for trails
    "eventVersion": "1.07", "eventTime": "2019-11-14T00:51:00Z", "awsRegion": "us-east-1",
    "eventID": "EXAMPLE8-9621-4d00-b913-beca2EXAMPLE", "eventType": "AwsCloudTrailInsight",
    "recipientAccountId": "123456789012",
    "sharedEventID": "EXAMPLE2-1729-42f1-b735-5d8c0EXAMPLE",
    "insightDetails": {"state": "Start", "eventSource": "ssm.amazonaws.com",
                       "eventName": "UpdateInstanceAssociationStatus",
                       "insightType": "ApiCallRateInsight",
                       "insightContext": {"statistics": {"baseline": {"average": 85.42},
                                                         "insight": {"average": 664}}}},
    "eventCategory": "Insight"}


def test_an_insights_event_is_quarantined_saying_what_it_is(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Delivered alone (CloudTrail-Insight/ in the bucket) or among the trail's records.
    alone = s3_object(tmp_path / "insight.json.gz", [INSIGHT])
    mixed = s3_object(tmp_path / "mixed.json.gz",
                      [*records(DATA / "test-attach-user-role-json.log"),
                       {**INSIGHT, "eventID": "other", "insightDetails": {
                           **INSIGHT["insightDetails"], "state": "End"}}])
    first, second = ingest_paths(con, [alone, mixed])
    assert (first.rows_read, first.quarantined, second.loaded, second.quarantined) == (1, 1, 1, 1)
    reasons = [r for (r,) in con.execute("SELECT reason FROM quarantine ORDER BY path").fetchall()]
    assert reasons == [
        f"CloudTrail Insights event (ApiCallRateInsight {state} on ssm.amazonaws.com "
        "UpdateInstanceAssociationStatus): a measure of unusual API call or error rates, not "
        "an action by an account; the calls themselves are in the trail's records"
        for state in ("Start", "End")]


@pytest.mark.parametrize("kind", [None, "actions"])
def test_a_digest_file_is_said_and_skipped(tmp_path: Path, kind: str | None) -> None:
    told: list[Notice] = []
    inv = Investigation(tmp_path / "d.duckdb", notify=told.append)
    digest = tmp_path / "123_CloudTrail-Digest_us-west-2_trail_20200911T193649Z.json.gz"
    digest.write_bytes(gzip.compress(DIGEST.read_bytes()))
    (result,) = inv.ingest_results([digest], kind=kind)
    assert (result.kind, result.rows_read, result.quarantined) == ("empty", 0, 0)
    assert [str(n) for n in told if isinstance(n, NoEvents)] == [
        (f"{digest} is a CloudTrail digest file (hashes and signatures of the trail's log "
        "files, no events): nothing in it to load")]
    with inv.connect() as con:
        assert con.execute("SELECT kind FROM ingested_files").fetchall() == [("empty",)]


# --- CloudWatch Logs subscriptions and Firehose -----------------------------------------
# The payload a subscription filter delivers (AWS CloudWatch Logs User Guide, "Log data
# format" of subscriptions): each event's message one CloudTrail record as written.

CONTROL = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
           "logStream": "", "subscriptionFilters": [],
           "logEvents": [{"id": "", "timestamp": 1728396737000,
                          "message": "CWL CONTROL MESSAGE: Checking health of destination "
                                     "Firehose."}]}


def subscription(messages: list[str], group: str = "aws-cloudtrail-logs") -> dict[str, Any]:
    return {"messageType": "DATA_MESSAGE", "owner": "000000000",
            "logGroup": group, "logStream": "000000000_CloudTrail_us-east-1",
            "subscriptionFilters": ["to-firehose"],
            "logEvents": [{"id": f"3195310660696698337880902507980421114328961542429822{i:04}",
                           "timestamp": 1728396737000 + i, "message": m}
                          for i, m in enumerate(messages)]}


def lines_of(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def every_line() -> list[str]:
    return [line for path in LOGS for line in lines_of(path) if "RoleToBeAssumed" not in line]


@pytest.mark.parametrize("container", ["jsonl", "json.gz", "firehose.gz"])
def test_every_record_from_a_cloudwatch_logs_subscription(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, container: str) -> None:
    msgs = every_line()
    payloads = [CONTROL, subscription(msgs[:5]), subscription(msgs[5:])]
    if container == "jsonl":  # a Lambda's or Kinesis consumer's dump, one per line
        path = tmp_path / "cwl.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in payloads), encoding="utf-8")
    elif container == "json.gz":  # one payload per object
        path = tmp_path / "cwl.json.gz"
        path.write_bytes(gzip.compress(json.dumps(payloads[1]).encode()))
        payloads = payloads[1:2]
    else:  # Firehose to S3: the gzipped payloads one after another, no delimiter
        path = tmp_path / "firehose-1-2024-10-08-14-12-17-abc"
        path.write_bytes(b"".join(gzip.compress(json.dumps(p).encode()) for p in payloads))
    (result,) = ingest_paths(con, [path])
    expected = {k: v for k, v in EXPECTED.items()
                if container != "json.gz" or any(k in m for m in msgs[:5])}
    assert (result.kind, result.rows_read, result.loaded, result.quarantined) == (
        "privileges+actions", len(expected), len(expected), 0)
    assert loaded(con) == expected
    # The source record is the message as written; the envelope and event are in extra.
    grant = "6bf9a009-b248-415d-a8a9-63b7fe5621c0"
    if grant in expected:
        (i,) = [i for i, m in enumerate(msgs) if grant in m]
        ((record, envelope),) = con.execute(
            "SELECT record, extra -> '$.cloudwatch_logs' FROM privileges_with_record "
            "WHERE event_id = $id", {"id": grant}).fetchall()
        assert record == msgs[i]
        k = i if i < 5 else i - 5  # its index in its payload
        assert json.loads(envelope) == {
            "owner": "000000000", "logGroup": "aws-cloudtrail-logs",
            "logStream": "000000000_CloudTrail_us-east-1",
            "subscriptionFilters": ["to-firehose"],
            "id": f"3195310660696698337880902507980421114328961542429822{k:04}",
            "timestamp": 1728396737000 + k}


def test_a_record_from_s3_and_from_a_subscription_is_one_event(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "cwl.jsonl"
    path.write_text(json.dumps(subscription(every_line())) + "\n", encoding="utf-8")
    first, second = ingest_paths(con, [s3_object(tmp_path / "ct.json.gz", every_record()),
                                       path])
    assert (first.loaded, second.rows_read, second.duplicates, second.quarantined) == (
        len(EXPECTED), len(EXPECTED), len(EXPECTED), 0)


def test_a_subscription_message_that_is_no_cloudtrail_record_is_quarantined(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    (rec,) = lines_of(DATA / "test-attach-user-role-json.log")
    lambda_log = subscription(['{"level": "info", "msg": "started"}',
                               "START RequestId: 8b1d Version: $LATEST"], "/aws/lambda/f")
    path = tmp_path / "cwl.jsonl"
    path.write_text(json.dumps(subscription([rec])) + "\n" + json.dumps(lambda_log) + "\n",
                    encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 1, 2)
    assert con.execute("SELECT location, raw, reason FROM quarantine ORDER BY location"
                       ).fetchall() == [
        ("line 2 event 1", '{"level": "info", "msg": "started"}',
         ('CloudWatch Logs event of log group "/aws/lambda/f" whose message is not a '
          "CloudTrail record (nor a record of another log auditlog reads): its keys are "
          "level, msg")),
        ("line 2 event 2", "START RequestId: 8b1d Version: $LATEST",
         ('CloudWatch Logs event of log group "/aws/lambda/f" whose message is not a '
          "CloudTrail record: it is not a JSON object (CloudTrail writes one JSON record "
          "per event)"))]
    # A file of nothing else is quarantined the same way, not refused as of no kind.
    alone = tmp_path / "lambda.jsonl"
    alone.write_text(json.dumps(lambda_log) + "\n", encoding="utf-8")
    (result,) = ingest_paths(con, [alone])
    assert (result.rows_read, result.loaded, result.quarantined) == (2, 0, 2)


def test_control_messages_are_said_to_hold_nothing(tmp_path: Path) -> None:
    told: list[Notice] = []
    inv = Investigation(tmp_path / "d.duckdb", notify=told.append)
    path = tmp_path / "control.json"
    path.write_text(json.dumps(CONTROL), encoding="utf-8")
    (result,) = inv.ingest_results([path])
    assert (result.kind, result.rows_read, result.quarantined) == ("empty", 0, 0)
    assert [str(n) for n in told if isinstance(n, NoEvents)] == [
        (f"{path} is CloudWatch Logs control messages (a subscription filter's checks that "
         "its destination is reachable, no log events): nothing in it to load")]


@pytest.mark.parametrize("name", ["firehose.jsonl", "firehose.jsonl.gz", "firehose"])
def test_records_firehose_concatenated_without_a_delimiter(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, name: str) -> None:
    # Kinesis Firehose writes records to S3 one after another: `{...}{...}` on one line.
    text = "".join(every_line()).encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (
        len(EXPECTED), len(EXPECTED), 0)
    assert loaded(con) == EXPECTED


def test_a_damaged_line_keeps_a_json_lines_file_json_lines(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    msgs = every_line()
    path = tmp_path / "ct.jsonl"
    path.write_text("\n".join([msgs[0], msgs[1][:-3], *msgs[2:]]) + "\n", encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.quarantined) == (len(msgs), 1)
    assert con.execute("SELECT location FROM quarantine").fetchall() == [("line 2",)]
