"""One principal, one identity (issue 12, item 5): AWS principals in one normal form
whichever format wrote them, the raw form kept in `extra.actor_raw`, and the same event
loaded as CloudTrail and as its OCSF translation (Security Lake) is one event: a
duplicate, in either order, while a real conflict still quarantines."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog.ingest import ingest_paths
from auditlog.ingest.standard.aws import aws_principal

CLOUDTRAIL = Path(__file__).parent / "data" / "cloudtrail"
# Real records: IAMUser (stratus), AssumedRole and AWSService callers (OTRF).
SAMPLES = ("stratus_aws.persistence.iam-create-admin-user.json",
           "otrf_ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl")

NORMAL_FORMS = [
    ("arn:aws:sts::123456789012:assumed-role/Admin/Admin-user", "Admin/Admin-user"),
    ("arn:aws:iam::123456789012:user/christophe", "christophe"),
    ("arn:aws:iam::123456789012:user/ops/eng/bob", "bob"),
    ("arn:aws:iam::123456789012:root", "root/123456789012"),
    ("arn:aws-us-gov:sts::123456789012:federated-user/Bob", "Bob"),
    ("arn:aws:iam::123456789012:role/service-role/Deployer", "Deployer"),
    # Not a caller's ARN: kept as written.
    ("ec2.amazonaws.com", "ec2.amazonaws.com"),
    ("123456789012", "123456789012"),
    ("AROAEXAMPLE:Admin-user", "AROAEXAMPLE:Admin-user"),
    ("arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"),
]


@pytest.mark.parametrize(("raw", "normal"), NORMAL_FORMS)
def test_aws_principals_have_one_normal_form(raw: str, normal: str) -> None:
    got = duckdb.connect().execute(f"SELECT {aws_principal('x')} FROM (SELECT ? AS x)",
                                   [raw]).fetchone()
    assert got == (normal,)


def cloudtrail_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for name in SAMPLES:
        text = (CLOUDTRAIL / name).read_text()
        if name.endswith(".jsonl"):
            records += [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            records += data["Records"] if isinstance(data, dict) else data
    return records


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def ocsf_twin(record: dict[str, Any]) -> dict[str, Any]:
    """The record as AWS Security Lake translates CloudTrail management events to OCSF
    1.1 API Activity (6003), after AWS's published mapping: metadata.uid = eventID,
    actor.user.uid = userIdentity.arn, uid_alt = principalId, name = userName,
    actor.invoked_by = invokedBy, api.operation/service.name = eventName/eventSource,
    api.request.data = requestParameters, status_id 2 when errorCode is set."""
    record = copy.deepcopy(record)  # the twin shares nothing with the native record
    ui = record["userIdentity"]
    time = record.get("eventTime") or record["@timestamp"]
    user = {k: v for k, v in {
        "uid": ui.get("arn"), "uid_alt": ui.get("principalId"), "name": ui.get("userName"),
        "type": ui.get("type"), "credential_uid": ui.get("accessKeyId"),
        "account": {"uid": ui.get("accountId")},
    }.items() if v is not None}
    verb = next((a for a in ("Create", "Get", "List", "Describe", "Update", "Delete")
                 if record["eventName"].startswith(a)), "")
    activity = {"Create": 1, "Get": 2, "List": 2, "Describe": 2, "Update": 3,
                "Delete": 4}.get(verb, 99)
    failed = record.get("errorCode") is not None
    twin: dict[str, Any] = {
        "class_uid": 6003, "category_uid": 6, "activity_id": activity,
        "type_uid": 600300 + activity, "severity_id": 1, "time": _epoch_ms(time),
        "metadata": {"uid": record["eventID"], "version": "1.1.0",
                     "product": {"name": "CloudTrail", "vendor_name": "AWS",
                                 "version": record.get("eventVersion")}},
        "actor": {"user": user},
        "api": {"operation": record["eventName"],
                "service": {"name": record["eventSource"]},
                "request": {"uid": record.get("requestID"),
                            "data": record.get("requestParameters")},
                "response": {"data": record.get("responseElements")}},
        "src_endpoint": {"ip": record.get("sourceIPAddress")},
        "http_request": {"user_agent": record.get("userAgent")},
        "cloud": {"provider": "AWS", "region": record.get("awsRegion")},
        "status_id": 2 if failed else 1,
        "unmapped": {"recipientAccountId": record.get("recipientAccountId")},
    }
    if ui.get("invokedBy"):
        twin["actor"]["invoked_by"] = ui["invokedBy"]
    if failed:
        twin["status_code"] = record["errorCode"]
    return twin


def write_both(tmp_path: Path, records: list[dict[str, Any]],
               twins: list[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    native = tmp_path / "trail.json"
    native.write_text(json.dumps({"Records": records}))
    ocsf = tmp_path / "lake.ocsf.jsonl"
    ocsf.write_text("".join(json.dumps(t) + "\n" for t in twins or map(ocsf_twin, records)))
    return native, ocsf


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


@pytest.mark.parametrize("native_first", [True, False])
def test_the_same_events_as_cloudtrail_and_as_ocsf_are_duplicates(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, native_first: bool) -> None:
    records = cloudtrail_records()
    native, ocsf = write_both(tmp_path, records)
    first, second = (native, ocsf) if native_first else (ocsf, native)
    (loaded,) = ingest_paths(con, [first])
    assert (loaded.rows_read, loaded.quarantined) == (len(records), 0)
    stored = rows(con, "SELECT event_id, ts, actor, subject, privilege FROM privileges "
                       "UNION ALL SELECT event_id, ts, actor, action, target_account "
                       "FROM actions ORDER BY 1")
    (again,) = ingest_paths(con, [second])
    assert (again.rows_read, again.loaded, again.duplicates, again.quarantined) == (
        len(records), 0, len(records), 0)
    # Nothing new stored, nothing quarantined; every shared row recorded a duplicate.
    assert rows(con, "SELECT event_id, ts, actor, subject, privilege FROM privileges "
                     "UNION ALL SELECT event_id, ts, actor, action, target_account "
                     "FROM actions ORDER BY 1") == stored
    assert rows(con, "SELECT count(*) FROM quarantine") == [(0,)]
    assert rows(con, "SELECT verdict, count(*) FROM shared_rows GROUP BY 1") == [
        ("duplicate", len(records))]


def test_one_aws_principal_is_one_account_in_both_formats(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    records = cloudtrail_records()
    # Each file on its own database table set: load both, distinct ids by a suffix.
    twins = [ocsf_twin(r) for r in records]
    for twin in twins:
        twin["metadata"]["uid"] += "-ocsf"
    native, ocsf = write_both(tmp_path, records, twins)
    ingest_paths(con, [native, ocsf])
    by_format = rows(con, """
        SELECT replace(event_id, '-ocsf', ''), count(DISTINCT actor), min(actor),
               count(DISTINCT extra ->> '$.actor_raw'), min(extra ->> '$.actor_raw')
        FROM (SELECT event_id, actor, extra FROM actions
              UNION ALL SELECT event_id, actor, extra FROM privileges)
        GROUP BY 1 ORDER BY 1""")
    assert len(by_format) == len(records)
    assert all(n_actors == 1 for _, n_actors, _, _, _ in by_format)
    actors = {actor: raw for _, _, actor, _, raw in by_format}
    role = "MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0/i-0317f6c6b66ae9c40"
    assert actors[role] == ("arn:aws:sts::123456789123:assumed-role/" + role)
    assert actors["christophe"] == "arn:aws:iam::229654561268:user/christophe"
    # AWS services act under their service principal, with no other form to keep.
    assert "ec2.amazonaws.com" in actors and actors["ec2.amazonaws.com"] is None


@pytest.mark.parametrize("native_first", [True, False])
def test_the_same_id_with_other_content_that_matters_is_still_a_conflict(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, native_first: bool) -> None:
    records = cloudtrail_records()[:3]  # AttachUserPolicy, CreateAccessKey, CreateUser
    twins = [ocsf_twin(r) for r in records]
    twins[0]["api"]["request"]["data"]["userName"] = "someone-else"  # another subject
    twins[1]["time"] += 3_600_000  # an hour later
    native, ocsf = write_both(tmp_path, records, twins)
    first, second = (native, ocsf) if native_first else (ocsf, native)
    ingest_paths(con, [first])
    (again,) = ingest_paths(con, [second])
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 1, 2)
    reasons = rows(con, "SELECT reason FROM quarantine ORDER BY reason")
    ids = [r["eventID"] for r in records[:2]]
    assert [r[0].split(" is already loaded")[0] for r in reasons] == sorted(
        f"conflict: event_id {i}" for i in ids)
    kept = "someone-else" if not native_first else "malicious-iam-user"
    assert rows(con, "SELECT subject FROM privileges") == [(kept,)]
    assert rows(con, "SELECT verdict, count(*) FROM shared_rows GROUP BY 1 ORDER BY 1") == [
        ("conflict", 2), ("duplicate", 1)]


# --- extra.actor_raw: the actor as the source wrote it, where the normal form rewrote it.

RAW_FORMS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    # source: (file name, record, actor in normal form, actor as written)
    "github": ("org.jsonl", {
        "_document_id": "g1", "action": "org.add_member", "actor": "Mona-Lisa",
        "@timestamp": 1614556800000, "org": "acme", "user": "Octocat", "permission": "admin",
    }, "mona-lisa", "Mona-Lisa"),
    "windows (NXLog)": ("nxlog.json", {
        "EventTime": "2026-03-01 10:00:00", "Hostname": "dc1.corp.example",
        "EventType": "AUDIT_SUCCESS", "EventID": 4732,
        "SourceName": "Microsoft-Windows-Security-Auditing", "Channel": "Security",
        "RecordNumber": 7, "SubjectUserSid": "S-1-5-21-1-2-3-1104", "SubjectUserName": "alice",
        "SubjectDomainName": "corp", "MemberSid": "S-1-5-21-1-2-3-1105",
        "TargetUserName": "Administrators", "TargetDomainName": "Builtin",
        "TargetSid": "S-1-5-32-544",
    }, "CORP\\alice", "corp\\alice"),
    "gcp": ("audit.jsonl", {
        "insertId": "s1", "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": "2026-03-01T10:00:00Z", "resource": {"type": "service_account"},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "iamcredentials.googleapis.com",
            "methodName": "GenerateAccessToken",
            "authenticationInfo": {"principalSubject":
                                   "serviceAccount:wi@p1.iam.gserviceaccount.com"}},
    }, "wi@p1.iam.gserviceaccount.com", "serviceAccount:wi@p1.iam.gserviceaccount.com"),
    "azure activity": ("activity.jsonl", {
        "time": "2026-03-01T10:00:00Z", "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
        "category": "Administrative", "resultType": "Success", "callerIpAddress": "203.0.113.7",
        "resourceId": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/vm1",
        "correlationId": "c-1", "properties": {"eventCategory": "Administrative"},
        "identity": {"claims": {
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "Admin@Contoso.com"}},
    }, "admin@contoso.com", "Admin@Contoso.com"),
    "entra audit": ("entra.jsonl", {
        "time": "2026-03-03T09:00:00Z", "operationName": "Add member to role",
        "category": "AuditLogs", "resourceId": "/tenants/t1/providers/Microsoft.aadiam",
        "tenantId": "t1", "correlationId": "c-e1", "identity": "Admin",
        "properties": {
            "id": "e1", "category": "RoleManagement", "result": "success",
            "activityDisplayName": "Add member to role", "loggedByService": "Core Directory",
            "activityDateTime": "2026-03-03T09:00:00+00:00", "operationType": "Assign",
            "initiatedBy": {"user": {"id": "u-admin", "userPrincipalName": "Admin@Contoso.com"}},
            "targetResources": [
                {"id": "u-bob", "type": "User", "userPrincipalName": "bob@contoso.com"},
                {"id": "r-ga", "type": "Role", "displayName": "Global Administrator"}]},
    }, "admin@contoso.com", "Admin@Contoso.com"),
}


@pytest.mark.parametrize("source", RAW_FORMS)
def test_a_rewritten_actor_keeps_its_raw_form_as_actor_raw(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, source: str) -> None:
    name, record, normal, raw = RAW_FORMS[source]
    path = tmp_path / name
    path.write_text(json.dumps(record) + "\n")
    (result,) = ingest_paths(con, [path])
    assert result.quarantined == 0
    assert rows(con, "SELECT actor, extra ->> '$.actor_raw' FROM actions "
                     "UNION ALL SELECT actor, extra ->> '$.actor_raw' FROM privileges") == [
        (normal, raw)]


def test_an_actor_written_in_normal_form_has_no_raw_copy(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    name, record, normal, _ = RAW_FORMS["github"]
    path = tmp_path / name
    path.write_text(json.dumps({**record, "actor": normal}) + "\n")
    ingest_paths(con, [path])
    assert rows(con, "SELECT actor, extra ->> '$.actor_raw' FROM privileges") == [(normal, None)]


def test_auditd_names_keep_the_id_they_stand_for(con: duckdb.DuckDBPyConnection) -> None:
    # A real sample: root's events are written with auid/uid 0.
    ingest_paths(con, sorted((Path(__file__).parent / "data" / "auditd").glob("*.log")))
    pairs = set(rows(con, "SELECT actor, extra ->> '$.actor_raw' FROM actions "
                          "UNION SELECT actor, extra ->> '$.actor_raw' FROM privileges"))
    assert ("root", "0") in pairs
    assert all(raw is None or raw.isdigit() for _, raw in pairs)


SECURITY_LAKE = Path(__file__).parent / "data" / "securitylake"


@pytest.mark.parametrize("native_first", [True, False])
def test_a_real_cloudtrail_event_and_its_security_lake_ocsf_are_one_event(
        con: duckdb.DuckDBPyConnection, native_first: bool) -> None:
    # AWS's documented console sign-in of IAM user anaya (eventID fed06f42-...), as
    # CloudTrail writes it and as Security Lake translated it (OCSF 3002 Authentication,
    # the user named only by principalId, the caller by name).
    native = SECURITY_LAKE / "panther_console_login_mfa.jsonl"
    ocsf = SECURITY_LAKE / "elastic_test-authentication.log"
    first, second = (native, ocsf) if native_first else (ocsf, native)
    (loaded,) = ingest_paths(con, [first])
    assert (loaded.rows_read, loaded.loaded, loaded.quarantined) == (1, 1, 0)
    (again,) = ingest_paths(con, [second])
    assert (again.rows_read, again.loaded, again.duplicates, again.quarantined) == (1, 0, 1, 0)
    assert rows(con, "SELECT event_id, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S'), "
                     "actor, action, system, result FROM actions") == [(
        "fed06f42-cb12-4764-8c69-121063dc79b9", "2022-11-10T16:24:34", "anaya", "ConsoleLogin",
        "signin.amazonaws.com", "success")]
    assert rows(con, "SELECT verdict FROM shared_rows") == [("duplicate",)]


def test_security_lake_names_an_assumed_role_by_principal_id_and_issuer(
        con: duckdb.DuckDBPyConnection) -> None:
    # A real Security Lake OCSF 1.0 Account Change (CreateUser): the caller is an assumed
    # role written as principalId `AROA...:Admin-user` with the role's ARN as session
    # issuer, which the native CloudTrail record names `Admin/Admin-user`.
    (result,) = ingest_paths(con, [SECURITY_LAKE / "elastic_test-account-change.log"])
    assert (result.rows_read, result.loaded, result.quarantined) == (1, 1, 0)
    assert rows(con, "SELECT event_id, actor, extra ->> '$.actor_raw', action, system, object "
                     "FROM actions") == [(
        "7dd15a89-ae0f-4340-8e6c-d6981246c71b", "Admin/Admin-user",
        "AROA2W7SOKHDLNCOKZNPS:Admin-user", "CreateUser", "iam.amazonaws.com", "test_user2")]


def test_a_security_lake_privilege_call_reads_its_flattened_request(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # The real record above as the AttachUserPolicy Security Lake would write beside it:
    # OCSF 1.0 flattens requestParameters into `unmapped`.
    record = json.loads((SECURITY_LAKE / "elastic_test-account-change.log").read_text())
    record["api"]["operation"] = "AttachUserPolicy"
    record["unmapped"].update({"requestParameters.userName": "test_user2",
                               "requestParameters.policyArn":
                                   "arn:aws:iam::aws:policy/AdministratorAccess"})
    path = tmp_path / "lake.ocsf.json"
    path.write_text(json.dumps(record))
    ingest_paths(con, [path])
    assert rows(con, "SELECT actor, subject, privilege, operation, system FROM privileges") == [
        ("Admin/Admin-user", "test_user2", "arn:aws:iam::aws:policy/AdministratorAccess",
         "grant", None)]
