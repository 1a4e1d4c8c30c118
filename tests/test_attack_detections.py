"""Real attack detonations (tests/data/attacks: Stratus Red Team's CloudTrail recorded
while each technique ran) through the CLI: after `auditlog ingest` and `auditlog run`,
the built-in packs cite each technique's key event by its CloudTrail eventID. Panther's
published test events for the same techniques check how the CloudTrail adapter reads who
a policy, permission or share opens a resource to (extra.access_opened_to)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest.standard.aws_access import access_sql

ATTACKS = Path(__file__).parent / "data" / "attacks"
PANTHER = ATTACKS / "panther"

runner = CliRunner()

# technique -> (the key event's eventName, the rule that must cite it)
TECHNIQUES = {
    "aws.persistence.iam-backdoor-user": ("CreateAccessKey", "credential_for_other_account"),
    "aws.persistence.iam-create-user-login-profile":
        ("CreateLoginProfile", "credential_for_other_account"),
    "aws.privilege-escalation.iam-update-user-login-profile":
        ("UpdateLoginProfile", "credential_for_other_account"),
    "aws.defense-evasion.dns-delete-logs": ("DeleteResolverQueryLogConfig", "logging_disabled"),
    "aws.persistence.iam-create-admin-user": ("AttachUserPolicy", "admin_grant"),
    "aws.persistence.iam-backdoor-role":
        ("UpdateAssumeRolePolicy", "access_opened_to_other_account"),
    "aws.persistence.iam-create-backdoor-role": ("CreateRole", "access_opened_to_other_account"),
    "aws.persistence.lambda-backdoor-function": ("AddPermission20150331v2", "access_opened_public"),
    "aws.exfiltration.ec2-share-ebs-snapshot":
        ("ModifySnapshotAttribute", "access_opened_to_other_account"),
    "aws.exfiltration.rds-share-snapshot":
        ("ModifyDBSnapshotAttribute", "access_opened_to_other_account"),
    "aws.exfiltration.ec2-share-ami": ("ModifyImageAttribute", "access_opened_to_other_account"),
    "aws.defense-evasion.cloudtrail-delete": ("DeleteTrail", "logging_disabled"),
    "aws.defense-evasion.cloudtrail-stop": ("StopLogging", "logging_disabled"),
    "aws.defense-evasion.cloudtrail-event-selectors": ("PutEventSelectors", "logging_disabled"),
    "aws.defense-evasion.vpc-remove-flow-logs": ("DeleteFlowLogs", "logging_disabled"),
}


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "json" in args else result.stdout


def records(technique: str) -> list[dict[str, Any]]:
    data = json.loads((ATTACKS / f"{technique}.json").read_text(encoding="utf-8"))
    return data["Records"] if isinstance(data, dict) else data


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    db = str(tmp_path_factory.mktemp("attacks") / "d.duckdb")
    files = cli("ingest", *(str(ATTACKS / f"{t}.json") for t in TECHNIQUES), "--db", db,
                "--format", "json")
    assert all(f["quarantined"] == 0 and f["loaded"] == f["rows_read"] for f in files)
    cli("run", "--db", db)
    found: list[dict[str, Any]] = cli("findings", "--db", db, "--format", "json")
    return found


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_the_packs_cite_each_techniques_key_event(
        findings: list[dict[str, Any]], technique: str) -> None:
    event_name, rule = TECHNIQUES[technique]
    (key,) = [r for r in records(technique) if r["eventName"] == event_name]
    citing = [f for f in findings if f["rule_id"] == rule and key["eventID"] in f["evidence"]]
    assert len(citing) == 1, f"{rule} does not cite {event_name} {key['eventID']}"
    assert citing[0]["actor"] == key["userIdentity"]["userName"]


def test_a_credential_finding_names_whose_credential_it_is(
        findings: list[dict[str, Any]]) -> None:
    owners = {f["account"] for f in findings if f["rule_id"] == "credential_for_other_account"}
    assert owners == {"stratus-red-team-backdoor-u-user", "stratus-red-team-login-profile-user",
                      "stratus-red-team-update-login-profile-user", "malicious-iam-user"}


def test_no_grant_from_cloudtrail_is_called_unapproved(findings: list[dict[str, Any]]) -> None:
    # CloudTrail has no place for a ticket or an approver: 3 grants here, no such finding.
    assert [f for f in findings if f["rule_id"] == "grant_without_approval"] == []


def test_failed_calls_and_reads_are_not_findings(findings: list[dict[str, Any]]) -> None:
    # The login-profile detonation first tries DeleteLoginProfile and fails.
    (failed,) = [r for r in records("aws.persistence.iam-create-user-login-profile")
                 if r.get("errorCode")]
    assert not [f for f in findings if failed["eventID"] in f["evidence"]]
    (whoami,) = [r for r in records("aws.persistence.iam-create-user-login-profile")
                 if r["eventName"] == "GetCallerIdentity"]
    assert not [f for f in findings if whoami["eventID"] in f["evidence"]]


def panther_events() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{path.stem}:{n}", json.loads(line))
            for path in sorted(PANTHER.glob("*.jsonl"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)]


def opened_to(record: dict[str, Any]) -> list[str] | None:
    """extra.access_opened_to as the CloudTrail adapter computes it for one record."""
    con = duckdb.connect()
    con.execute("CREATE TABLE calls AS SELECT 1 AS _row, ?::VARCHAR AS service, "
                "?::VARCHAR AS name, ?::JSON AS rp",
                [record.get("eventSource"), record.get("eventName"),
                 json.dumps(record.get("requestParameters"))])
    row = con.execute(f"SELECT access_opened_to FROM ({access_sql('calls')})").fetchone()
    return None if row is None else json.loads(row[0])


# Panther's own expectation per test event, as who the call opens the resource to.
PANTHER_OPENED = {
    "aws_resource_made_public:1": ["*"],           # ECR repository policy for *
    "aws_resource_made_public:2": ["*"],           # bucket policy {"AWS": "*"}
    "aws_resource_made_public:3": None,            # bucket policy for a service principal
    "aws_resource_made_public:4": None,            # no request parameters
    "aws_resource_made_public:5": ["*"],           # denied (the rule reads the result)
    "aws_resource_made_public:6": None,            # empty queue policy
    "aws_resource_made_public:7": None,            # policy that is not JSON
    "aws_resource_made_public:8": None,            # * narrowed by conditions
    "aws_resource_made_public:9": ["*"],           # search domain open to *
    "aws_resource_made_public:10": ["*"],          # key policy for * without condition
    "aws_resource_made_public:11": ["*"],          # one of two * statements unconditioned
    "aws_resource_made_public:12": None,           # every * statement conditioned
    "aws_resource_made_public:13": ["123456789012"],  # * conditioned; own-account roles
    "aws_resource_made_public:14": ["123456789012"],  # key policy for the own account root
    "aws_snapshot_made_public:1": ["*"],           # group all
    "aws_snapshot_made_public:2": None,            # group none
    "aws_snapshot_made_public:3": ["*"],           # failed (the rule reads the result)
    "aws_snapshot_made_public:4": ["111122223333"],  # one account
}


@pytest.mark.parametrize("name", sorted(PANTHER_OPENED))
def test_who_a_call_opens_a_resource_to(name: str) -> None:
    record = dict(panther_events())[name]
    assert opened_to(record) == PANTHER_OPENED[name]


def test_the_panther_events_are_all_checked() -> None:
    names = {n for n, _ in panther_events()
             if n.startswith(("aws_resource_made_public", "aws_snapshot_made_public"))}
    assert names == set(PANTHER_OPENED)


def load_one(db: str, tmp: Path, record: dict[str, Any]) -> list[dict[str, Any]]:
    path = tmp / f"{record['eventID']}-{len(list(tmp.iterdir()))}.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    cli("ingest", str(path), "--db", db, "--format", "json")
    cli("run", "--db", db)
    found: list[dict[str, Any]] = cli("findings", "--db", db, "--format", "json")
    return found


@pytest.mark.parametrize("name, fires", [
    ("aws_iam_user_key_created:1", False),   # user1 creates its own key
    ("aws_iam_user_key_created:2", True),    # user1 creates a key for user2
    ("aws_iam_user_key_created:5", False),   # the call failed
])
def test_credential_rule_on_panthers_access_key_events(
        tmp_path: Path, name: str, fires: bool) -> None:
    record = dict(panther_events())[name]
    found = load_one(str(tmp_path / "d.duckdb"), tmp_path, record)
    hits = [f for f in found if f["rule_id"] == "credential_for_other_account"]
    assert [f["evidence"] for f in hits] == ([[record["eventID"]]] if fires else [])


# Request shapes the real samples above do not have, written after AWS's API references
# (PutBucketAcl's AccessControlPolicy and canned x-amz-acl, a trust policy listing
# several principals, NotPrincipal, a Lambda permission scoped by its source).
CONSTRUCTED = [
    ("s3.amazonaws.com", "PutBucketAcl",
     {"bucketName": "b", "AccessControlPolicy": {"AccessControlList": {"Grant": [
         {"Grantee": {"xsi:type": "Group",
                      "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
          "Permission": "READ"}]}}}, ["*"]),
    ("s3.amazonaws.com", "PutBucketAcl", {"bucketName": "b", "x-amz-acl": ["public-read"]},
     ["*"]),
    ("s3.amazonaws.com", "PutBucketAcl", {"bucketName": "b", "x-amz-acl": ["private"]}, None),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy",
     {"roleName": "r", "policyDocument": json.dumps({"Statement": [
         {"Effect": "Allow", "Action": "sts:AssumeRole",
          "Principal": {"AWS": ["arn:aws:iam::111122223333:role/ci", "444455556666"],
                        "Service": "ec2.amazonaws.com"}}]})}, ["111122223333", "444455556666"]),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy",
     {"roleName": "r", "policyDocument": json.dumps({"Statement": {
         "Effect": "Allow", "Action": "sts:AssumeRole",
         "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}})}, ["*"]),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy",
     {"roleName": "r", "policyDocument": json.dumps({"Statement": [
         {"Effect": "Deny", "Action": "sts:AssumeRole", "Principal": "*"}]})}, None),
    ("lambda.amazonaws.com", "AddPermission20150331v2",
     {"functionName": "f", "principal": "s3.amazonaws.com",
      "sourceArn": "arn:aws:s3:::bucket"}, None),
    ("lambda.amazonaws.com", "AddPermission20150331v2",
     {"functionName": "f", "principal": "*", "sourceAccount": "111122223333"}, None),
    ("rds.amazonaws.com", "ModifyDBClusterSnapshotAttribute",
     {"attributeName": "restore", "valuesToAdd": ["all"]}, ["*"]),
]


@pytest.mark.parametrize("service, name, parameters, expected", CONSTRUCTED)
def test_who_a_call_opens_a_resource_to_in_other_shapes(
        service: str, name: str, parameters: dict[str, Any], expected: list[str] | None) -> None:
    record = {"eventSource": service, "eventName": name, "requestParameters": parameters}
    assert opened_to(record) == expected


def test_credentials_for_another_account_on_real_gcp_and_entra_records(tmp_path: Path) -> None:
    # Panther's GCP audit events hold a person creating a service account's key; Elastic's
    # Entra audit sample holds Managed Service Identity adding a managed identity's
    # credentials (the platform's own work, left out by platform_initiators).
    data = ATTACKS.parent
    db = str(tmp_path / "d.duckdb")
    cli("ingest", str(data / "gcp/panther_gcp_audit.jsonl"),
        str(data / "azure/elastic_auditlogs_sample.log"), "--db", db, "--format", "json")
    cli("run", "--db", db, "--rule", "credential_for_other_account")
    found = cli("findings", "--db", db, "--format", "json")
    hits = [(f["evidence"], f["actor"], f["account"]) for f in found
            if f["rule_id"] == "credential_for_other_account"]
    assert hits == [(["1iyadj0d5bmj"], "staging@company.io",
                     "created-service-account@gcp-project1.iam.gserviceaccount.com")]
