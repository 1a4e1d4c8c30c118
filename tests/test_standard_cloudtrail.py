"""CloudTrail records → privileges and actions: every container form, every privilege call,
credentials, failures and every userIdentity type."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog.ingest import ingest_paths
from auditlog.ingest.standard.aws import CREDENTIAL_CALLS, PRIVILEGE_CALLS

ACCOUNT = "111122223333"


def record(event_id: str, name: str, params: dict[str, Any] | None = None,
           source: str = "iam.amazonaws.com", identity: dict[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.08", "eventID": event_id, "eventTime": "2026-03-01T10:00:00Z",
        "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15",
        "userIdentity": identity or {"type": "IAMUser", "userName": "alice",
                                     "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLE"},
        "requestParameters": params, "responseElements": None,
        "recipientAccountId": ACCOUNT, **extra,
    }


def load(con: duckdb.DuckDBPyConnection, path: Path, records: list[dict[str, Any]],
         form: str = "records") -> None:
    if form == "records":
        text = json.dumps({"Records": records})
    elif form == "array":
        text = json.dumps(records)
    else:
        text = "".join(json.dumps(r) + "\n" for r in records)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    (result,) = ingest_paths(con, [path])
    assert result.quarantined == 0


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


@pytest.mark.parametrize(("name", "form"), [("ct.json.gz", "records"), ("ct.json", "array"),
                                            ("ct.jsonl", "lines"), ("ct.jsonl.gz", "lines")])
def test_every_container_form_loads_the_same(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                             name: str, form: str) -> None:
    load(con, tmp_path / name, [
        record("e1", "AttachUserPolicy",
               {"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        record("e2", "ListUsers"),
    ], form)
    assert rows(con, "SELECT event_id, actor, subject, privilege, operation, system, "
                     "extra ->> '$.aws_account' FROM privileges") == [
        ("e1", "alice", "bob", "arn:aws:iam::aws:policy/AdministratorAccess", "grant", None,
         ACCOUNT)]
    assert rows(con, "SELECT event_id, actor, action, system, channel, result, session_id "
                     "FROM actions") == [
        ("e2", "alice", "ListUsers", "iam.amazonaws.com", "api", "success", "AKIAEXAMPLE")]


def test_every_privilege_call_is_a_grant_or_revoke_of_its_subject(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    records = []
    for i, (service, name, _, subject, privilege) in enumerate(PRIVILEGE_CALLS):
        params: dict[str, Any] = {}
        for key, value in ((subject, f"subject-{i}"), (privilege, f"privilege-{i}")):
            if not key.startswith("'"):
                head, _, tail = key.partition(".")  # memberId.userId
                params[head] = {tail: value} if tail else value
        records.append(record(f"e{i}", name, params, source=f"{service}.amazonaws.com"))
    load(con, tmp_path / "calls.json", records)
    got = {r[0]: r[1:] for r in rows(
        con, "SELECT event_id, subject, privilege, operation, system FROM privileges")}
    assert len(got) == len(PRIVILEGE_CALLS)
    for i, (service, _, operation, _, privilege) in enumerate(PRIVILEGE_CALLS):
        expected = privilege.strip("'") if privilege.startswith("'") else f"privilege-{i}"
        system = "kms.amazonaws.com" if service == "kms" else None
        assert got[f"e{i}"] == (f"subject-{i}", expected, operation, system)


def test_credentials_are_actions_on_their_owner(tmp_path: Path,
                                                con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "keys.json", [
        record("k1", "CreateAccessKey", {"userName": "bob"}),
        record("k2", "CreateAccessKey", None),  # the caller's own key
        record("k3", "CreateLoginProfile", {"userName": "carol"}),
    ])
    assert rows(con, "SELECT event_id, actor, action, target_account FROM actions "
                     "ORDER BY event_id") == [
        ("k1", "alice", "CreateAccessKey", "bob"), ("k2", "alice", "CreateAccessKey", "alice"),
        ("k3", "alice", "CreateLoginProfile", "carol")]
    assert rows(con, "SELECT count(*) FROM privileges") == [(0,)]
    assert {"CreateAccessKey", "CreateLoginProfile"} <= {n for n, _ in CREDENTIAL_CALLS}


def test_failed_calls_grant_nothing_and_keep_their_error(tmp_path: Path,
                                                         con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "denied.json", [record(
        "d1", "AttachUserPolicy", {"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/X"},
        errorCode="AccessDenied", errorMessage="not authorized")])
    assert rows(con, "SELECT count(*) FROM privileges") == [(0,)]
    assert rows(con, "SELECT action, result, extra ->> '$.error_code', "
                     "extra ->> '$.error_message' FROM actions") == [
        ("AttachUserPolicy", "failure", "AccessDenied", "not authorized")]


IDENTITIES: list[tuple[dict[str, Any], str]] = [
    ({"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::1:user/alice"}, "alice"),
    ({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/Admin/alice@example.com",
      "sessionContext": {"sessionIssuer": {"userName": "Admin"}}}, "Admin/alice@example.com"),
    ({"type": "Root", "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root"},
     f"root/{ACCOUNT}"),
    ({"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"},
     "cloudformation.amazonaws.com"),
    ({"type": "FederatedUser", "principalId": "1:bob",
      "arn": "arn:aws:sts::1:federated-user/bob"}, "bob"),
    ({"type": "AWSAccount", "principalId": "AIDAOTHER", "accountId": "444455556666"},
     "AIDAOTHER"),
    ({"type": "IdentityCenterUser", "onBehalfOf": {"userId": "u-123"}}, "u-123"),
    ({"type": "SAMLUser", "userName": "carol@example.com", "principalId": "x"},
     "carol@example.com"),
    ({"type": "WebIdentityUser", "userName": "app-user", "principalId": "y"}, "app-user"),
    # Without the name CloudTrail usually gives, the ARN in the same normal form: an
    # assumed role without sessionIssuer, an IAM user without userName (as a record of
    # another account's caller may have them), empty strings as no value.
    ({"type": "AssumedRole", "principalId": "AROAX:alice@example.com",
      "arn": "arn:aws:sts::1:assumed-role/Admin/alice@example.com",
      "sessionContext": {"attributes": {"mfaAuthenticated": "false"}}},
     "Admin/alice@example.com"),
    ({"type": "IAMUser", "principalId": "AIDAX", "userName": "",
      "arn": "arn:aws:iam::444455556666:user/ops/dave"}, "dave"),
    # Elastic's test-create-group-json.log: an IdentityCenterUser named by an ARN only.
    ({"type": "IdentityCenterUser", "arn": "arn:aws:iam::0123456789012:user/Alice",
      "accountId": "0123456789012", "accessKeyId": "EXAMPLE_KEY"}, "Alice"),
    ({"type": "Unknown", "arn": "arn:aws:sts::1:assumed-role/Ops/erin"}, "Ops/erin"),
]


def test_every_identity_type_is_one_stable_account(tmp_path: Path,
                                                   con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "ids.json", [
        record(f"i{n}", "ListUsers", identity=identity) for n, (identity, _) in
        enumerate(IDENTITIES)])
    got = dict(rows(con, "SELECT event_id, actor FROM actions"))
    assert got == {f"i{n}": actor for n, (_, actor) in enumerate(IDENTITIES)}
    (kept,) = rows(con, "SELECT extra ->> '$.user_identity.type' FROM actions "
                        "WHERE event_id = 'i2'")
    assert kept == ("Root",)


def test_aws_itself_is_a_system_actor(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A service event (a KMS key rotated) names only the service, without a type.
    load(con, tmp_path / "svc.json", [
        record("k1", "RotateKey", None, source="kms.amazonaws.com",
               identity={"accountId": ACCOUNT, "invokedBy": "kms.amazonaws.com"},
               eventType="AwsServiceEvent"),
        record("k2", "AssumeRole", None, source="sts.amazonaws.com",
               identity={"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}),
        record("k3", "ListUsers", identity={"type": "IAMUser", "userName": "alice",
                                            "invokedBy": "signin.amazonaws.com"})])
    assert rows(con, "SELECT event_id, actor, actor_type FROM actions ORDER BY event_id") == [
        ("k1", "kms.amazonaws.com", "system"), ("k2", "ec2.amazonaws.com", "system"),
        ("k3", "alice", None)]


def test_logstash_timestamp_stands_in_for_event_time(tmp_path: Path,
                                                     con: duckdb.DuckDBPyConnection) -> None:
    exported = record("l1", "GetObject", source="s3.amazonaws.com")
    exported["@timestamp"] = exported.pop("eventTime")
    load(con, tmp_path / "logstash.jsonl", [exported], form="lines")
    assert rows(con, "SELECT CAST(ts AS VARCHAR) FROM actions") == [("2026-03-01 10:00:00+00",)]


def test_session_tokens_are_not_stored(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    assumed = record("s1", "AssumeRole", {"roleArn": "arn:aws:iam::1:role/R"},
                     source="sts.amazonaws.com")
    assumed["responseElements"] = {"credentials": {"accessKeyId": "ASIAX",
                                                   "sessionToken": "SECRET"}}
    load(con, tmp_path / "sts.json", [assumed])
    (extra,) = rows(con, "SELECT CAST(extra AS VARCHAR) FROM actions")
    assert "SECRET" not in extra[0] and "ASIAX" in extra[0]


def test_a_synced_aws_logs_folder_loads_with_its_digests(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    logs = tmp_path / "AWSLogs" / ACCOUNT
    (logs / "CloudTrail").mkdir(parents=True)
    (logs / "CloudTrail-Digest").mkdir()
    (logs / "CloudTrail" / "a.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [record("e1", "ListUsers")]}).encode()))
    digest = {"awsAccountId": ACCOUNT, "digestStartTime": "2026-03-01T10:00:00Z",
              "digestEndTime": "2026-03-01T11:00:00Z", "digestS3Bucket": "trail-bucket",
              "logFiles": [{"s3Object": "AWSLogs/.../a.json.gz", "hashValue": "ab"}]}
    (logs / "CloudTrail-Digest" / "d.json.gz").write_bytes(gzip.compress(
        json.dumps(digest).encode()))
    results = ingest_paths(con, [tmp_path / "AWSLogs"])
    assert [(Path(r.path).parent.name, r.rows_read, r.loaded) for r in results] == [
        ("CloudTrail", 1, 1), ("CloudTrail-Digest", 0, 0)]


def test_a_failed_console_sign_in_is_a_failure(tmp_path: Path,
                                               con: duckdb.DuckDBPyConnection) -> None:
    sign_in = record("c1", "ConsoleLogin", None, source="signin.amazonaws.com",
                     eventType="AwsConsoleSignIn", errorMessage="Failed authentication")
    sign_in["responseElements"] = {"ConsoleLogin": "Failure"}
    load(con, tmp_path / "signin.json", [sign_in, {**record(
        "c2", "ConsoleLogin", None, source="signin.amazonaws.com", eventType="AwsConsoleSignIn"),
        "responseElements": {"ConsoleLogin": "Success"}}])
    assert con.execute("SELECT event_id, result, channel FROM actions ORDER BY event_id"
                       ).fetchall() == [("c1", "failure", "console"), ("c2", "success", "console")]


@pytest.mark.parametrize("same_file", [True, False])
def test_an_event_id_repeated_with_other_content_is_a_conflict_across_kinds(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, same_file: bool) -> None:
    # One eventID on a grant (privileges) and on a listing (actions): two kinds, one id.
    grant = record("dup", "AttachUserPolicy", {"userName": "bob", "policyArn": "arn:p"})
    listing = record("dup", "ListUsers")
    path = tmp_path / "a.json"
    if same_file:
        path.write_text(json.dumps({"Records": [grant, listing, grant]}))
        (result,) = ingest_paths(con, [path])
    else:
        load(con, path, [grant])
        (tmp_path / "b.json").write_text(json.dumps({"Records": [listing, grant]}))
        (result,) = ingest_paths(con, [tmp_path / "b.json"])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read
    assert (result.duplicates, result.quarantined) == (1, 1)
    assert rows(con, "SELECT event_id, subject FROM privileges") == [("dup", "bob")]
    assert rows(con, "SELECT count(*) FROM actions") == [(0,)]
    (reason,) = rows(con, "SELECT reason FROM quarantine")[0]
    assert reason.startswith("conflict: event_id dup") and "privileges row" in reason


@pytest.mark.parametrize(("outcome", "result"), [("Failure", "failure"), ("Success", "success")])
def test_a_sign_in_step_says_its_outcome_in_service_event_details(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, outcome: str, result: str) -> None:
    # AWS sign-in's CredentialChallenge/CredentialVerification/UserAuthentication events
    # carry no errorCode: the outcome is under the event's name in serviceEventDetails.
    step = record("s1", "CredentialVerification", None, source="signin.amazonaws.com",
                  identity={"type": "IdentityCenterUser", "accountId": ACCOUNT, "arn": "",
                            "onBehalfOf": {"userId": "u-1"}},
                  eventType="AwsServiceEvent",
                  serviceEventDetails={"CredentialVerification": outcome})
    load(con, tmp_path / "signin.json", [step])
    assert rows(con, "SELECT actor, result, channel FROM actions") == [("u-1", result, "console")]


def test_empty_members_named_like_other_records_change_nothing(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A normalizing exporter may write every member, null when unused: an API call with
    # `insightDetails: null` is no Insights event, one naming "detail-type" in its request
    # no EventBridge envelope.
    load(con, tmp_path / "nulls.jsonl", [
        record("n1", "ListUsers", insightDetails=None),
        record("n2", "PutRule", {"name": "r", "eventPattern": '{"detail-type": ["x"]}'},
               source="events.amazonaws.com")], form="lines")
    assert rows(con, "SELECT event_id, action FROM actions ORDER BY event_id") == [
        ("n1", "ListUsers"), ("n2", "PutRule")]


def cwl(messages: list[Any], group: str = "aws-cloudtrail-logs") -> dict[str, Any]:
    """A CloudWatch Logs subscription payload of these messages (a record: its JSON)."""
    return {"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": group,
            "logStream": f"{ACCOUNT}_CloudTrail_us-east-1", "subscriptionFilters": ["f"],
            "logEvents": [{"id": str(i), "timestamp": 1772359200000 + i,
                           "message": m if isinstance(m, str) else json.dumps(m)}
                          for i, m in enumerate(messages)]}


def test_an_eventbridge_event_logged_to_cloudwatch_logs_is_its_cloudtrail_record(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # An EventBridge rule whose target is a log group writes the envelope as the message;
    # a subscription of that group delivers it. Both envelopes are kept, the record is
    # the CloudTrail record.
    grant = record("e1", "AttachUserPolicy", {"userName": "bob", "policyArn": "arn:p"})
    envelope = {"version": "0", "id": "eb-1", "detail-type": "AWS API Call via CloudTrail",
                "source": "aws.iam", "account": ACCOUNT, "time": "2026-03-01T10:00:00Z",
                "region": "us-east-1", "resources": [], "detail": grant}
    path = tmp_path / "cwl.json"
    path.write_text(json.dumps(cwl([envelope], "/aws/events/cloudtrail")), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.kind, result.loaded, result.quarantined) == ("privileges+actions", 1, 0)
    ((subject, bridge, logs, source),) = con.execute(
        "SELECT subject, extra ->> '$.eventbridge.id', extra ->> '$.cloudwatch_logs.logGroup', "
        "record FROM privileges_with_record").fetchall()
    assert (subject, bridge, logs, json.loads(source)) == (
        "bob", "eb-1", "/aws/events/cloudtrail", grant)


def test_a_subscription_payload_without_events_is_quarantined_not_dropped(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    broken = {**cwl([]), "logEvents": "gone"}
    path = tmp_path / "cwl.jsonl"
    path.write_text(json.dumps(cwl([record("e2", "ListUsers")])) + "\n" + json.dumps(broken)
                    + "\n", encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (2, 1, 1)
    assert con.execute("SELECT location, reason FROM quarantine").fetchall() == [
        ("line 2", ("CloudWatch Logs DATA_MESSAGE without a logEvents array: no log events "
                    "can be read from it"))]
