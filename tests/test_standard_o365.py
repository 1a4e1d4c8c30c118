"""Office 365 Management Activity records → actions (and Azure AD role and group changes
→ privileges): the real samples of tests/data/o365/ (README.md) through the CLI, and the
forms they do not hold, built from them (a role grant, a failure, ClientIP's forms)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()
O365 = Path(__file__).parent / "data" / "o365"
STS = O365 / "beats_azuread-sts-logon.head.log"
EXCHANGE = O365 / "elastic_exchange_admin.log"
IP_FORMATS = O365 / "beats_ip-formats.log"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def ingest(db: Path, *paths: Path) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["ingest", *map(str, paths), "--db", str(db),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_file_of_management_activity_records_alone_loads_as_actions(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    loaded = ingest(db, EXCHANGE, STS)
    assert [(e["kind"], e["rows_read"], e["loaded"], e["quarantined"]) for e in loaded] == [
        ("actions", 2, 2, 0), ("actions", 2, 2, 0)]
    assert query(db, """
        SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), actor, actor_type, action, system,
               object, result, source_ip, extra ->> '$.workload_name'
        FROM actions ORDER BY ts, event_id DESC""") == [
        ("ef597809-1c52-4a85-7cce-08d7adfc0939", "2020-02-10T07:37:09Z",
         "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", "system",
         "Install-DefaultSharingPolicy", "o365/exchange",
         "testsiem.onmicrosoft.com\\2c6709f0-beaf-4ffd-99ea-d02c796c25d3", "success", None,
         "Exchange"),
        ("362ff802-6df6-47e5-09a2-08d7adfc095b", "2020-02-10T07:37:09Z",
         "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", "system",
         "Install-AdminAuditLogConfig", "o365/exchange",
         "testsiem.onmicrosoft.com\\Admin Audit Log Settings", "success", None, "Exchange"),
        ("ca0efc24-1b89-4962-8fef-a3ac5437302f", "2020-02-10T15:13:13Z",
         "asr@testsiem.onmicrosoft.com", "human", "UserLoggedIn", "entra",
         "00000002-0000-0000-c000-000000000000", "success", "83.57.233.151",
         "AzureActiveDirectory"),
        ("b53de36d-ea71-4ebf-9b71-feb431bd4eba", "2020-02-12T10:53:24Z",
         "asr@testsiem.onmicrosoft.com", "human", "UserLoggedIn", "entra",
         "00000003-0000-0000-c000-000000000000", "success", "79.159.10.151",
         "AzureActiveDirectory"),
    ]
    # Each row's source record is the record as the file holds it.
    assert sorted(r for (r,) in query(db, "SELECT record FROM actions_with_record")) == sorted(
        EXCHANGE.read_text().splitlines() + STS.read_text().splitlines())
    trace = runner.invoke(app, ["trace", "account", "asr@testsiem.onmicrosoft.com",
                                "--db", str(db), "--format", "json"])
    assert trace.exit_code == 0, trace.output


def test_client_ip_forms_are_the_address_without_port(tmp_path: Path) -> None:
    base = lines(STS)[0]
    records = []
    for n, sample in enumerate(lines(IP_FORMATS)):
        r = copy.deepcopy(base)
        r.update(Id=f"ip-{n:02}", ClientIP=sample["ClientIP"])
        records.append(r)
    db = tmp_path / "d.duckdb"
    ingest(db, write(tmp_path / "ips.jsonl", records))
    got = query(db, "SELECT extra ->> '$.client_ip', source_ip FROM actions ORDER BY event_id")
    v4, mapped, v6 = "10.11.12.13", "::ffff:10.11.12.13", "2001:db8::abcd"
    assert [ip for _, ip in got] == [v4, v4, v4, mapped, mapped, v6, v6, v6, v4,
                                     None, None, None, None, None, None]
    # A host name is no address: kept as written, never a source IP.
    assert [raw for raw, ip in got if ip is None] == [
        "localhost", "[localhost]:12345", "localhost:12345", "[cool.client.local]:12345",
        "cool.client.local", "cool.client.local:12345"]


def aad(record_id: str, operation: str, *, target: str, role: str | None,
        status: str = "Success", prop: str = "Role.DisplayName") -> dict[str, Any]:
    """The sample's Azure AD record as the API writes a directory change."""
    r = copy.deepcopy(lines(STS)[0])
    r.update(Id=record_id, Operation=operation, RecordType=8, ObjectId=target,
             ResultStatus=status,
             ModifiedProperties=[] if role is None else [
                 {"Name": prop, "NewValue": json.dumps(role), "OldValue": ""}])
    return r


def test_directory_role_and_group_changes_are_privileges(tmp_path: Path) -> None:
    records = [
        aad("r1", "Add member to role.", target="Bob@TestSiem.onmicrosoft.com",
            role="Global Administrator"),
        aad("r2", "Remove member from group.", target="bob@testsiem.onmicrosoft.com",
            role="Finance", prop="Group.DisplayName"),
        aad("r3", "Add member to role.", target="carol@testsiem.onmicrosoft.com",
            role="Global Administrator", status="Failed"),
        aad("r4", "Add member to role.", target="dave@testsiem.onmicrosoft.com", role=None),
    ]
    db = tmp_path / "d.duckdb"
    ingest(db, write(tmp_path / "aad.jsonl", records))
    assert query(db, "SELECT event_id, actor, subject, privilege, operation, system, "
                     "extra ->> '$.source_carries_approval' FROM privileges ORDER BY 1") == [
        ("r1", "asr@testsiem.onmicrosoft.com", "bob@testsiem.onmicrosoft.com",
         "Global Administrator", "grant", None, "false"),
        ("r2", "asr@testsiem.onmicrosoft.com", "bob@testsiem.onmicrosoft.com", "Finance",
         "revoke", None, "false")]
    # A failed grant granted nothing; one naming no role says nothing it could grant.
    assert query(db, "SELECT event_id, action, result, target_account, "
                     "extra ->> '$.operation_raw' FROM actions ORDER BY 1") == [
        ("r3", "Add member to role", "failure", "carol@testsiem.onmicrosoft.com",
         "Add member to role."),
        ("r4", "Add member to role", "success", "dave@testsiem.onmicrosoft.com",
         "Add member to role.")]


@pytest.mark.parametrize(("drop", "reason"), [
    ("CreationTime", "Office 365 audit record without CreationTime"),
    ("Operation", "Office 365 audit record without Operation"),
    ("UserId", "Office 365 audit record without UserId"),
])
def test_a_record_missing_a_common_field_is_quarantined(tmp_path: Path, drop: str,
                                                        reason: str) -> None:
    good, bad = copy.deepcopy(lines(STS))
    del bad[drop]
    if drop == "UserId":
        del bad["UserKey"]
    db = tmp_path / "d.duckdb"
    (entry,) = ingest(db, write(tmp_path / "q.jsonl", [good, bad]))
    assert (entry["loaded"], entry["quarantined"]) == (1, 1)
    assert query(db, "SELECT location, reason FROM quarantine") == [("line 2", reason)]


def test_keys_a_data_lake_lower_cased_are_read_the_same(tmp_path: Path) -> None:
    # Panther's test events (tests/data/o365/README.md): every key lower-cased, one Id
    # reused by all ten (the first loads, the others are conflicts).
    db = tmp_path / "d.duckdb"
    (entry,) = ingest(db, O365 / "panther_microsoft_exchange_external_forwarding.jsonl")
    assert (entry["kind"], entry["rows_read"], entry["loaded"], entry["quarantined"]) == (
        "actions", 10, 1, 9)
    assert query(db, """
        SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), actor, actor_type, action,
               system, object, result, source_ip,
               json_extract_string(extra, '$.parameters[1].Value')
        FROM actions""") == [
        ("111-22-33", "2022-12-12T22:19:00Z", "homer.simpson@simpsons.onmicrosoft.com",
         "human", "Set-Mailbox", "o365/exchange", "homer.simpson", "success", "1.2.3.4",
         "smtp:peter.griffin@familyguy.com")]
    assert {r for (r,) in query(db, "SELECT reason FROM quarantine")} == {
        "conflict: event_id 111-22-33 appears at line 1 of this file with different content"}


def test_a_purview_audit_search_csv_is_refused_saying_what_to_load(tmp_path: Path) -> None:
    # Search-UnifiedAuditLog's CSV: the record as JSON text in one column.
    record = STS.read_text().splitlines()[0]
    path = tmp_path / "AuditLog_2020-02-10.csv"
    quoted = '"' + record.replace('"', '""') + '"'
    path.write_text("RecordId,CreationDate,RecordType,Operation,UserId,AuditData\n"
                    "ca0efc24-1b89-4962-8fef-a3ac5437302f,2020-02-10T15:13:13,15,UserLoggedIn,"
                    f"asr@testsiem.onmicrosoft.com,{quoted}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "auditlog", "ingest", str(path), "--db",
         str(tmp_path / "d.duckdb")], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr  # bad input, one sentence
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: {path}: this is a Microsoft Purview audit search export")
    assert "ForEach-Object { $_.AuditData } > audit.jsonl" in message
    assert "--kind" not in message


def test_app_role_assignments_are_privileges_of_the_grantee(tmp_path: Path) -> None:
    def props(*pairs: tuple[str, str], old: bool = False) -> list[dict[str, str]]:
        side = "OldValue" if old else "NewValue"
        return [{"Name": n, side: v, "NewValue" if old else "OldValue": ""} for n, v in pairs]

    graph = aad("p1", "Add app role assignment to service principal.",
                target="Microsoft Graph", role=None)
    graph["ModifiedProperties"] = props(
        ("AppRole.Id", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"),
        ("AppRole.Value", "RoleManagement.ReadWrite.Directory"),
        ("ServicePrincipal.ObjectID", "5a6b7c8d-1111-4222-8333-444455556666"))
    removed = aad("p2", "Remove app role assignment from service principal.",
                  target="Microsoft Graph", role=None)
    removed["ModifiedProperties"] = props(
        ("AppRole.Value", "Mail.Read"),
        ("ServicePrincipal.ObjectID", "5a6b7c8d-1111-4222-8333-444455556666"), old=True)
    to_user = aad("p3", "Add app role assignment grant to user.", target="Payroll", role=None)
    to_user["ModifiedProperties"] = props(("AppRole.Value", "Approver"),
                                          ("User.UPN", "Eve@TestSiem.onmicrosoft.com"))
    consent = aad("p4", "Consent to application.", target="reporting-app", role=None)
    db = tmp_path / "d.duckdb"
    ingest(db, write(tmp_path / "apps.jsonl", [graph, removed, to_user, consent]))
    assert query(db, "SELECT event_id, subject, privilege, operation FROM privileges "
                     "ORDER BY 1") == [
        ("p1", "5a6b7c8d-1111-4222-8333-444455556666", "RoleManagement.ReadWrite.Directory",
         "grant"),
        ("p2", "5a6b7c8d-1111-4222-8333-444455556666", "Mail.Read", "revoke"),
        ("p3", "eve@testsiem.onmicrosoft.com", "Approver", "grant")]
    assert query(db, "SELECT event_id, action FROM actions") == [
        ("p4", "Consent to application")]
