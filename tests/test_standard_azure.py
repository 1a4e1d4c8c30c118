"""Azure Monitor records → privileges and actions: the Activity log (role assignments),
Entra ID audit logs (role and group membership) and AKS audit via diagnostic settings.

The public samples (tests/data/azure/SOURCE.md) hold no role assignment and no Entra role
or group change, so those cases are built here in the shape Azure writes them
(diagnostic settings; role assignment bodies as JSON strings, PIM details as
additionalDetails)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest import ingest_paths
from auditlog.ingest.standard.azure import AzureMonitor

DATA = Path(__file__).parent / "data"
AZURE = DATA / "azure"
runner = CliRunner()

SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
ADMIN_UPN = "Admin@Contoso.com"
UPN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"


def load(con: duckdb.DuckDBPyConnection, path: Path, records: list[dict[str, Any]]) -> Any:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    return result


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- The public samples ---------------------------------------------------------------


HEALTH_OBJECT = ("/subscriptions/00000000-0000-0000-0000-000000000000/providers/"
                 "Microsoft.domainRegistration")


def test_activity_sample_loads_as_actions(con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [AZURE / "elastic_activitylogs_raw.log"])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (3, 3, 0, 0)
    assert con.execute("SELECT count(*) FROM privileges").fetchone() == (0,)
    rows = con.execute(
        "SELECT ts, actor, actor_type, action, system, object, result, source_ip, "
        "extra ->> '$.category', extra ->> '$.correlation_id', extra ->> '$.result_type' "
        "FROM actions ORDER BY _row").fetchall()
    assert rows == [
        (at("2019-10-24T00:13:46.355425+00:00"), "8a4de8b5-095c-47d0-a96f-a75130c61d53",
         "service", "MICROSOFT.EVENTHUB/NAMESPACES/AUTHORIZATIONRULES/LISTKEYS/ACTION",
         "microsoft.eventhub",
         ("/SUBSCRIPTIONS/8a4de8b5-095c-47d0-a96f-a75130c61d53/RESOURCEGROUPS/SA-HEMA/PROVIDERS/"
          "MICROSOFT.EVENTHUB/NAMESPACES/AZURELSEVENTS/AUTHORIZATIONRULES/"
          "ROOTMANAGESHAREDACCESSKEY"), "success", "81.2.69.144", "Action",
         "8a4de8b5-095c-47d0-a96f-a75130c61d53", "Start"),
        # Platform events name no caller: the system account.
        (at("2025-10-17T11:50:07.22+00:00"), "azure-platform", "system",
         "Microsoft.Resourcehealth/healthevent/Updated/action", "microsoft.resourcehealth",
         HEALTH_OBJECT, "success", None, "ResourceHealth",
         "1c867fe2-050c-4a74-bb1c-a83b15246fdd", "Updated"),
        (at("2025-10-17T11:50:07.22+00:00"), "azure-platform", "system",
         "Microsoft.Resourcehealth/healthevent/Updated/action", "microsoft.resourcehealth",
         HEALTH_OBJECT, "success", None, "ResourceHealth",
         "1c867fe2-050c-4a74-bb1c-a83b15246fdd", "Updated"),
    ]
    # No event id in diagnostic-settings Activity records: the stable content hash.
    ids = [r[0] for r in con.execute("SELECT event_id FROM actions ORDER BY _row").fetchall()]
    assert all(i.startswith("auto-") for i in ids) and len(set(ids)) == 3


def test_entra_sample_loads_as_actions(con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [AZURE / "elastic_auditlogs_sample.log"])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (3, 3, 0, 0)
    rows = con.execute(
        "SELECT event_id, ts, actor, actor_type, action, system, target_account, object, "
        "result, source_ip, extra ->> '$.activity_category' "
        "FROM actions ORDER BY _row").fetchall()
    sp, target = "b9814691-9ca1-4e55-a1ac-8ef5dd010ec0", "a7d5dcbe-0627-4ddf-a2f4-86b6785bcc42"
    assert rows == [
        # An application credential is an action on the service principal, not a grant.
        ("Directory_53161141-e3f4-4944-85b6-7b953f17265e_6X649_134684731",
         at("2022-01-22T18:15:02.516809+00:00"), sp, "service",
         "Add service principal credentials", "entra", target, "billing-test-wus", "success",
         "1.128.3.4", "ApplicationManagement"),
        ("Directory_53161141-e3f4-4944-85b6-7b953f17265e_6X649_134684743",
         at("2022-01-22T18:15:02.516809+00:00"), sp, "service", "Update service principal",
         "entra", target, "billing-test-wus", "success", "1.128.3.4", "ApplicationManagement"),
        ("Directory_87979703-118b-498f-99c2-ccd1a56f1a5a_ULAYA_144938566",
         at("2022-01-22T18:15:02.387542+00:00"), sp, "service", "Update service principal",
         "entra", target, "billing-test-wus", "success", "1.128.3.4", "ApplicationManagement"),
    ]


RQ = "system:serviceaccount:kube-system:resourcequota-controller"
AKS_ROWS = [
    ("55ffceaa-b7c3-478e-98c6-e509cd2f0dd7", RQ, "get", "success"),
    ("cd7742f3-6ded-467d-af75-c1a8e333ebd0", RQ, "get", "success"),
    ("c8a9b881-23a1-464b-8c82-dae1981b34c1", "aksService", "create configmaps", "failure"),
    ("bc9d48a5-de42-400f-ae69-2901cf63715f", "aksService", "get nodes", "success"),
    ("8e3bf0f8-b495-450d-a404-cfdf2b51bc67", RQ, "get", "success"),
    ("d67dc3bc-9099-41a6-bae3-5c13441b126e", RQ, "get", "success"),
    ("fb572feb-9a2a-4141-bbe9-2ba1be8c1d79", RQ, "get", "success"),
    ("f257df91-b84e-4c63-a0b3-351533449f84", RQ, "get", "success"),
    ("43740ebe-ad24-4d25-a3bd-9c190ae54e8e", RQ, "get", "success"),
    ("4b163f71-240c-47af-9838-cb30201e7733", "aksService", "get", "success"),
    ("3a1ffe7b-88a5-4046-a864-d3f5d912c8c8", "nodeclient", "watch configmaps", "success"),
    ("a7d1e9a6-eb19-42cd-92b4-719b2dc477db", "nodeclient", "watch configmaps", "success"),
    ("a3910698-fb1b-460d-a021-a6f28ac6e8ea", "nodeclient", "watch nodes", "success"),
    ("9a665819-c89f-44c8-ae86-b84026be8905", "nodeclient", "watch nodes", "success"),
    ("adf28da3-018f-4756-9e4a-beb1009cab70", "aksService", "get clusterrolebindings", "success"),
    ("4387a586-5de4-49bc-9c49-791f1665b5e8", "aksService", "get storageclasses", "success"),
    ("eb4951df-43e2-49bd-8523-efe0adfd09c8", "aksService", "get storageclasses", "success"),
    ("beea52e6-4c78-4f45-8660-46fd0222f0b6", "aksService", "get storageclasses", "success"),
    ("0801d9cc-fa56-499f-a928-a71220a9d74b", "aksService", "get storageclasses", "success"),
    ("69f0cc33-b3c3-4dc4-9f41-05c4a4a0c8c6", "aksService", "get deployments", "success"),
    ("e29112e7-a170-450a-bc7a-349836a4eb11", "aksService", "get serviceaccounts", "success"),
    ("7a40bd92-240e-4cbc-aa74-36226844ab9d", "aksService", "get configmaps", "success"),
]


def test_aks_sample_maps_like_native_audit(con: duckdb.DuckDBPyConnection) -> None:
    path = AZURE / "sysdig_aks_event.json"
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (22, 22, 0, 0)
    assert con.execute(
        "SELECT event_id, actor, action, result FROM actions ORDER BY _row").fetchall() == AKS_ROWS
    cluster = ("/SUBSCRIPTIONS/BFC31CC5-D3BD-4B36-A40E-D13688D546EC/RESOURCEGROUPS/"
               "KUBEAUDITLOGTEST/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/KUBETEST")
    first = con.execute(
        "SELECT ts, system, object, source_ip, actor_type, extra ->> '$.cluster', "
        "extra ->> '$.stage', extra ->> '$.response_code' FROM actions WHERE event_id = ?",
        ["c8a9b881-23a1-464b-8c82-dae1981b34c1"]).fetchone()
    assert first == (at("2020-05-05T16:16:37.699072+00:00"), "kubernetes",
                     "namespaces/kube-system/configmaps/coredns-custom", "172.31.9.219", None,
                     cluster, "ResponseComplete", "409")


def test_matches_claims_no_other_sample() -> None:
    adapter = AzureMonitor()
    # k8s_mixed/ mixes formats on purpose: its AKS records are Azure Monitor's.
    others = [p for p in DATA.rglob("*") if p.is_file()
              and not {"azure", "k8s_mixed"} & set(p.parts)
              and p.suffix in {".json", ".jsonl", ".log"}]
    for path in others:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for record in _records(text):
            assert not adapter.matches(set(record)), path


def _records(text: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        out = []
        for line in text.splitlines():
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out
    if isinstance(doc, dict):
        inner = doc.get("Records") or doc.get("records") or doc.get("events")
        return [r for r in inner if isinstance(r, dict)] if isinstance(inner, list) else [doc]
    return [r for r in doc if isinstance(r, dict)] if isinstance(doc, list) else []


# --- Activity log role assignments ----------------------------------------------------


def activity(op: str, result_type: str = "Success", *, request: dict[str, Any] | None = None,
             response: dict[str, Any] | None = None, upn: str = ADMIN_UPN,
             time: str = "2026-03-01T10:00:00.1234567Z") -> dict[str, Any]:
    props: dict[str, Any] = {"entity": f"{SUB}/providers/Microsoft.Authorization/"
                             "roleAssignments/ra1", "eventCategory": "Administrative"}
    if request is not None:
        props["requestbody"] = json.dumps(request)
    if response is not None:
        props["responseBody"] = json.dumps(response)
    return {"time": time, "resourceId": f"{SUB}/providers/Microsoft.Authorization/"
            "roleAssignments/ra1", "operationName": op, "category": "Administrative",
            "resultType": result_type, "resultSignature": "Succeeded.Created",
            "callerIpAddress": "203.0.113.7", "correlationId": "c-1",
            "identity": {"claims": {UPN_CLAIM: upn, "appid": "c44b4083"}},
            "level": "Information", "properties": props}


WRITE = "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE"
DELETE = "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/DELETE"


def assignment(role: str, principal: str = "0ABC-Principal") -> dict[str, Any]:
    return {"Id": "ra1", "Properties": {
        "PrincipalId": principal, "PrincipalType": "User",
        "RoleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        "Scope": SUB}}


def test_role_assignments_grant_and_revoke(tmp_path: Path,
                                           con: duckdb.DuckDBPyConnection) -> None:
    custom = "1e2d3c4b-0000-4000-8000-00000000abcd"
    result = load(con, tmp_path / "activity.jsonl", [
        activity(WRITE, "Start", request=assignment(OWNER)),            # the call began
        activity(WRITE, request=assignment(OWNER)),                     # it succeeded
        activity(WRITE, request=assignment(custom), time="2026-03-01T10:05:00Z"),
        activity(WRITE, "Failure", request=assignment(OWNER), time="2026-03-01T10:06:00Z"),
        activity(DELETE, response={"properties": {
            "principalId": "0abc-principal", "scope": SUB,
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"}},
            time="2026-03-01T11:00:00Z"),
    ])
    assert (result.rows_read, result.loaded, result.quarantined) == (5, 5, 0)
    assert con.execute(
        "SELECT ts, actor, subject, privilege, operation, system, "
        "extra ->> '$.role_definition_id', extra ->> '$.scope', "
        "extra ->> '$.source_carries_approval' FROM privileges ORDER BY ts").fetchall() == [
        (at("2026-03-01T10:00:00.123456+00:00"), "admin@contoso.com", "0abc-principal",
         "Owner", "grant", None,
         f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}", SUB, "false"),
        (at("2026-03-01T10:05:00+00:00"), "admin@contoso.com", "0abc-principal", custom,
         "grant", None,
         f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{custom}", SUB, "false"),
        (at("2026-03-01T11:00:00+00:00"), "admin@contoso.com", "0abc-principal", "Owner",
         "revoke", None, f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}", SUB,
         "false"),
    ]
    # The Start record and the failed call granted nothing: actions.
    assert con.execute("SELECT action, result, extra ->> '$.result_type' FROM actions "
                       "ORDER BY ts").fetchall() == [
        (WRITE, "success", "Start"), (WRITE, "failure", "Failure")]


def test_rest_form_reads_event_id_caller_and_status(tmp_path: Path,
                                                    con: duckdb.DuckDBPyConnection) -> None:
    record = {
        "eventDataId": "e-42", "eventTimestamp": "2026-03-02T08:00:00Z",
        "caller": "ops@contoso.com", "correlationId": "c-9",
        "operationName": {"value": "Microsoft.Authorization/roleAssignments/write",
                          "localizedValue": "Create role assignment"},
        "status": {"value": "Succeeded"}, "category": {"value": "Administrative"},
        "resourceId": f"{SUB}/providers/Microsoft.Authorization/roleAssignments/ra2",
        "httpRequest": {"clientIpAddress": "198.51.100.4"},
        "properties": {"requestbody": json.dumps(assignment(
            "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "sp-object-id"))},
    }
    result = load(con, tmp_path / "rest.jsonl", [record])
    assert (result.rows_read, result.loaded) == (1, 1)
    assert con.execute("SELECT event_id, ts, actor, subject, privilege, operation "
                       "FROM privileges").fetchall() == [
        ("e-42", at("2026-03-02T08:00:00+00:00"), "ops@contoso.com", "sp-object-id",
         "User Access Administrator", "grant")]


def test_privilege_rules_on_role_assignments(tmp_path: Path) -> None:
    logs = tmp_path / "activity.jsonl"
    logs.write_text(json.dumps(activity(WRITE, request=assignment(OWNER))) + "\n",
                    encoding="utf-8")
    db = tmp_path / "a.duckdb"
    assert runner.invoke(app, ["ingest", "--db", str(db), str(logs)]).exit_code == 0
    run = runner.invoke(app, ["run", "--db", str(db)])
    assert run.exit_code == 0, run.output
    found = runner.invoke(app, ["findings", "--db", str(db), "--format", "json"])
    findings = json.loads(found.stdout)
    (grant_id,) = duckdb.connect(str(db), read_only=True).execute(
        "SELECT event_id FROM privileges").fetchone() or ("",)
    admin = [f for f in findings if f["rule_id"] == "admin_grant"]
    assert [(f["evidence"], f["actor"], f["account"]) for f in admin] == [
        ([grant_id], "admin@contoso.com", "0abc-principal")]
    # A role assignment record has no place for an approval.
    assert [f for f in findings if f["rule_id"] == "grant_without_approval"] == []


# --- Entra ID audit -------------------------------------------------------------------


def entra(activity_name: str, targets: list[dict[str, Any]], *, rid: str, result: str = "success",
          details: list[dict[str, str]] | None = None, graph: bool = False,
          initiated: dict[str, Any] | None = None) -> dict[str, Any]:
    record = {
        "id": rid, "category": "RoleManagement", "correlationId": "c-" + rid,
        "result": result, "resultReason": "", "activityDisplayName": activity_name,
        "activityDateTime": "2026-03-03T09:00:00.5+00:00", "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": initiated or {"user": {"id": "u-admin", "userPrincipalName": ADMIN_UPN,
                                              "ipAddress": "203.0.113.9"}},
        "targetResources": targets, "additionalDetails": details or [],
    }
    if graph:
        return record
    return {"time": "2026-03-03T09:00:00.5Z", "resourceId": "/tenants/t1/providers/"
            "Microsoft.aadiam", "operationName": activity_name, "category": "AuditLogs",
            "tenantId": "t1", "resultSignature": "None", "callerIpAddress": "203.0.113.9",
            "correlationId": "c-" + rid, "identity": "Admin", "Level": 4,
            "properties": record}


def user(upn: str, *mods: tuple[str, str]) -> dict[str, Any]:
    return {"id": "id-" + upn, "type": "User", "userPrincipalName": upn,
            "modifiedProperties": [{"displayName": n, "oldValue": None,
                                    "newValue": json.dumps(v)} for n, v in mods]}


def test_entra_role_and_group_membership(tmp_path: Path,
                                         con: duckdb.DuckDBPyConnection) -> None:
    pim_details = [{"key": "TicketNumber", "value": "CHG-77"},
                   {"key": "ExpirationTime", "value": "2026-03-03T17:00:00Z"}]
    result = load(con, tmp_path / "entra.jsonl", [
        entra("Add member to role", [user("Eve@Contoso.com",
                                           ("Role.DisplayName", "Global Administrator"))],
              rid="r1"),
        entra("Add member to role completed (PIM activation)",
              [{"id": "role-1", "type": "Role", "displayName": "Privileged Role Administrator"},
               user("bob@contoso.com")], rid="r2", details=pim_details),
        entra("Remove member from role", [user("eve@contoso.com",
                                                ("Role.DisplayName", "Global Administrator"))],
              rid="r3"),
        entra("Add member to group", [user("carl@contoso.com",
                                           ("Group.DisplayName", "Finance Admins")),
                                      {"id": "g1", "type": "Group"}], rid="r4", graph=True),
        entra("Add member to role", [user("dan@contoso.com",
                                          ("Role.DisplayName", "Global Administrator"))],
              rid="r5", result="failure"),
        entra("Add user", [user("new@contoso.com")], rid="r6"),
        entra("Disable account", [user("old@contoso.com")], rid="r7"),
    ])
    assert (result.rows_read, result.loaded, result.quarantined) == (7, 7, 0)
    assert con.execute(
        "SELECT event_id, actor, subject, privilege, operation, ticket, expires_at, "
        "extra ->> '$.source_carries_approval' FROM privileges ORDER BY event_id").fetchall() == [
        ("r1", "admin@contoso.com", "eve@contoso.com", "Global Administrator", "grant", None,
         None, "false"),
        ("r2", "admin@contoso.com", "bob@contoso.com", "Privileged Role Administrator", "grant",
         "CHG-77", at("2026-03-03T17:00:00+00:00"), None),
        ("r3", "admin@contoso.com", "eve@contoso.com", "Global Administrator", "revoke", None,
         None, "false"),
        ("r4", "admin@contoso.com", "carl@contoso.com", "Finance Admins", "grant", None, None,
         "false"),
    ]
    assert con.execute(
        "SELECT event_id, ts, action, target_account, result, channel FROM actions "
        "ORDER BY event_id").fetchall() == [
        ("r5", at("2026-03-03T09:00:00.5+00:00"), "Add member to role", "dan@contoso.com",
         "failure", "console"),
        ("r6", at("2026-03-03T09:00:00.5+00:00"), "Add user", "new@contoso.com", "success",
         "console"),
        ("r7", at("2026-03-03T09:00:00.5+00:00"), "Disable account", "old@contoso.com",
         "success", "console"),
    ]


# --- AKS role bindings and bad records ------------------------------------------------


def aks(event: dict[str, Any] | str) -> dict[str, Any]:
    log = event if isinstance(event, str) else json.dumps(event) + "\n"
    return {"operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
            "category": "kube-audit-admin", "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/"
            "PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/C1",
            "properties": {"log": log, "stream": "stdout", "pod": "kube-apiserver-1"},
            "time": "2026-03-04T10:00:00.0000000Z"}


def test_aks_binding_grants_and_bad_log_is_quarantined(tmp_path: Path,
                                                       con: duckdb.DuckDBPyConnection) -> None:
    bound = {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin",
                         "apiGroup": "rbac.authorization.k8s.io"},
             "subjects": [{"kind": "User", "name": "eve@contoso.com"},
                          {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]}
    event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
             "auditID": "k-1", "stage": "ResponseComplete", "verb": "create",
             "requestURI": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
             "user": {"username": "masterclient"}, "sourceIPs": ["10.1.1.1"],
             "objectRef": {"resource": "clusterrolebindings", "name": "pwn",
                           "apiGroup": "rbac.authorization.k8s.io"},
             "responseStatus": {"code": 201}, "requestObject": bound, "responseObject": bound,
             "requestReceivedTimestamp": "2026-03-04T09:59:59.123456Z",
             "stageTimestamp": "2026-03-04T09:59:59.2Z"}
    result = load(con, tmp_path / "aks.jsonl", [aks(event), aks("{not json")])
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 2, 1)
    assert con.execute("SELECT event_id, ts, actor, subject, privilege, operation, system, "
                       "extra ->> '$.binding' FROM privileges ORDER BY event_id").fetchall() == [
        ("k-1", at("2026-03-04T09:59:59.123456+00:00"), "masterclient", "eve@contoso.com",
         "cluster-admin", "grant", "kubernetes", "pwn"),
        ("k-1/2", at("2026-03-04T09:59:59.123456+00:00"), "masterclient",
         "system:serviceaccount:build:ci", "cluster-admin", "grant", "kubernetes", "pwn"),
    ]
    (row, reason) = con.execute("SELECT row_number, reason FROM quarantine").fetchone() or (0, "")
    assert (row, reason) == (2, "AKS audit record whose properties.log is not a JSON audit event")


@pytest.mark.parametrize("sample", ["elastic_activitylogs_raw.log", "elastic_auditlogs_sample.log",
                                    "sysdig_aks_event.json"])
def test_a_garbled_copy_quarantines_and_never_raises(tmp_path: Path, sample: str) -> None:
    text = (AZURE / sample).read_text(encoding="utf-8")
    if sample.endswith(".json"):
        records = json.loads(text.lstrip("\ufeff"))["records"]
        text = "".join(json.dumps(r) + "\n" for r in records)
    lines = text.splitlines()
    garbled = tmp_path / ("garbled-" + sample.replace(".json", ".jsonl"))
    # One line cut in half, one record without its time.
    cut = lines[0][: len(lines[0]) // 2]
    timeless = json.loads(lines[1])
    timeless.pop("time", None)
    if "properties" in timeless and isinstance(timeless["properties"], dict):
        timeless["properties"].pop("activityDateTime", None)
    garbled.write_text("\n".join([cut, json.dumps(timeless), *lines[2:]]) + "\n",
                       encoding="utf-8")
    db = tmp_path / "g.duckdb"
    out = runner.invoke(app, ["ingest", "--db", str(db), str(garbled)])
    assert out.exception is None or isinstance(out.exception, SystemExit), out.output
    con = duckdb.connect(str(db), read_only=True)
    loaded = sum(con.execute(f"SELECT count(*) FROM {k}").fetchone()[0]  # type: ignore[index]
                 for k in ("actions", "privileges"))
    quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]  # type: ignore[index]
    assert loaded + quarantined == len(lines)
    assert quarantined >= 1


def test_sign_in_records_are_actions_of_the_user(tmp_path: Path,
                                                 con: duckdb.DuckDBPyConnection) -> None:
    def sign_in(rid: str, code: str) -> dict[str, Any]:
        return {"Level": 4, "callerIpAddress": "81.2.69.143",
                "category": "NonInteractiveUserSignInLogs", "correlationId": "c-" + rid,
                "identity": "Michell Lan", "operationName": "Sign-in activity",
                "properties": {"id": rid, "userPrincipalName": "Michell.Lan@zzzz.com",
                               "appDisplayName": "Microsoft Office",
                               "status": {"errorCode": int(code)}},
                "resourceId": "/tenants/t1/providers/Microsoft.aadiam", "resultType": code,
                "tenantId": "t1", "time": "2022-03-22T10:48:48.8558814Z"}
    result = load(con, tmp_path / "signin.jsonl", [sign_in("s-1", "0"), sign_in("s-2", "50126")])
    assert (result.rows_read, result.loaded) == (2, 2)
    assert con.execute("SELECT event_id, actor, actor_type, action, system, result, source_ip "
                       "FROM actions ORDER BY event_id").fetchall() == [
        ("s-1", "michell.lan@zzzz.com", None, "Sign-in activity", "entra", "success",
         "81.2.69.143"),
        ("s-2", "michell.lan@zzzz.com", None, "Sign-in activity", "entra", "failure",
         "81.2.69.143"),
    ]


def test_log_analytics_exports_read_like_the_diagnostic_form(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Rows of the Sentinel / Log Analytics tables AzureActivity and AuditLogs: PascalCase
    # columns, nested values as JSON text.
    activity_row = {
        "TimeGenerated": "2026-03-05T12:00:00Z", "EventDataId": "la-1",
        "OperationNameValue": WRITE, "ActivityStatusValue": "Success",
        "CategoryValue": "Administrative", "Caller": "ops@contoso.com",
        "CallerIpAddress": "198.51.100.8",
        "_ResourceId": f"{SUB}/providers/Microsoft.Authorization/roleAssignments/ra3",
        "Properties_d": json.dumps({"requestbody": json.dumps(assignment(OWNER, "p-9"))}),
    }
    audit_row = {
        "TimeGenerated": "2026-03-05T12:01:00Z", "Id": "la-2", "Category": "RoleManagement",
        "OperationName": "Add member to role", "ActivityDisplayName": "Add member to role",
        "ActivityDateTime": "2026-03-05T12:01:00Z", "Result": "success",
        "LoggedByService": "Core Directory", "AADOperationType": "Assign",
        "InitiatedBy": json.dumps({"user": {"userPrincipalName": "ops@contoso.com"}}),
        "TargetResources": json.dumps([user("zed@contoso.com",
                                            ("Role.DisplayName", "Global Administrator"))]),
        "AdditionalDetails": "[]",
    }
    result = load(con, tmp_path / "workspace.jsonl", [activity_row, audit_row])
    assert (result.rows_read, result.loaded) == (2, 2)
    assert con.execute("SELECT event_id, ts, actor, subject, privilege, operation "
                       "FROM privileges ORDER BY event_id").fetchall() == [
        ("la-1", at("2026-03-05T12:00:00+00:00"), "ops@contoso.com", "p-9", "Owner", "grant"),
        ("la-2", at("2026-03-05T12:01:00+00:00"), "ops@contoso.com", "zed@contoso.com",
         "Global Administrator", "grant"),
    ]


def test_aks_requests_logged_only_when_received_have_an_unknown_result(tmp_path: Path) -> None:
    # AKS forwards every stage the API server logs; a request whose only record is its
    # RequestReceived one has no response (before: stored as a success, and a binding so
    # requested as a standing grant).
    def request(audit_id: str, verb: str, resource: str, name: str, stage: str,
                **more: Any) -> dict[str, Any]:
        return aks({"kind": "Event", "apiVersion": "audit.k8s.io/v1",
                    "level": "RequestResponse", "auditID": audit_id, "stage": stage,
                    "verb": verb, "requestURI": f"/apis/x/{resource}/{name}",
                    "user": {"username": "masterclient"}, "sourceIPs": ["10.1.1.1"],
                    "objectRef": {"resource": resource, "name": name, "namespace": "prod"},
                    "requestReceivedTimestamp": "2026-03-04T09:59:59.123456Z",
                    "stageTimestamp": "2026-03-04T09:59:59.2Z", **more})

    bound = {"roleRef": {"kind": "ClusterRole", "name": "admin",
                         "apiGroup": "rbac.authorization.k8s.io"},
             "subjects": [{"kind": "User", "name": "eve@contoso.com"}]}
    records = [
        request("r1", "delete", "secrets", "db", "RequestReceived"),
        request("r2", "get", "pods", "web", "RequestReceived"),
        request("r2", "get", "pods", "web", "ResponseComplete",
                responseStatus={"code": 200}),
        request("r3", "create", "rolebindings", "pwn", "RequestReceived",
                requestObject=bound),
    ]
    path = tmp_path / "aks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    db = str(tmp_path / "a.duckdb")
    out = CliRunner().invoke(app, ["ingest", str(path), "--db", db, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert "2 request(s) in " in out.stderr and "stored with result unknown" in out.stderr
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT event_id, action, result FROM actions ORDER BY event_id"
                       ).fetchall() == [("r1", "delete secrets", None),
                                        ("r2", "get pods", "success"),
                                        ("r3", "create rolebindings", None)]
    assert con.execute("SELECT count(*) FROM privileges").fetchone() == (0,)
    con.close()


def test_an_aks_request_answered_in_the_next_file_takes_the_answer(tmp_path: Path) -> None:
    # An AKS export cut between a request's RequestReceived and its ResponseComplete.
    def request(stage: str, **more: Any) -> dict[str, Any]:
        return aks({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                    "auditID": "a-1", "stage": stage, "verb": "delete",
                    "requestURI": "/api/v1/namespaces/prod/secrets/db",
                    "user": {"username": "eve@contoso.com"}, "sourceIPs": ["10.1.1.1"],
                    "objectRef": {"resource": "secrets", "name": "db", "namespace": "prod"},
                    "requestReceivedTimestamp": "2026-03-04T09:59:59.123456Z",
                    "stageTimestamp": "2026-03-04T09:59:59.2Z", **more})

    db = str(tmp_path / "a.duckdb")
    for name, record in (("a.jsonl", request("RequestReceived")),
                         ("b.jsonl", request("ResponseComplete", responseStatus={"code": 403}))):
        path = tmp_path / name
        path.write_text(json.dumps(record) + "\n", encoding="utf-8")
        out = CliRunner().invoke(app, ["ingest", str(path), "--db", db, "--format", "json"])
        assert out.exit_code == 0, out.output
    con = duckdb.connect(db, read_only=True)
    # The refusal is kept (before: the unknown row stayed, the answer was quarantined).
    assert con.execute("SELECT event_id, result, extra ->> '$.stage' FROM actions").fetchall(
    ) == [("a-1", "failure", "ResponseComplete")]
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    con.close()
# --- Entra ID application permissions: app roles, delegated grants, consent ----------------

GRAPH_SP = "9d1e3f0a-0000-4000-8000-00000000g001"
CLIENT_SP = "5a6b7c8d-1111-4222-8333-444455556666"


def sp(sp_id: str, name: str, *mods: tuple[str, str | None, str | None]) -> dict[str, Any]:
    """A ServicePrincipal target; each modified property as (name, old, new), values
    written as Entra writes them (JSON text: "\\"Mail.Read\\"")."""
    return {"id": sp_id, "displayName": name, "type": "ServicePrincipal",
            "modifiedProperties": [
                {"displayName": n, "oldValue": None if o is None else json.dumps(o),
                 "newValue": None if v is None else json.dumps(v)} for n, o, v in mods]}


def app_role(value: str, *, remove: bool = False) -> list[tuple[str, str | None, str | None]]:
    props = [("AppRole.Id", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"), ("AppRole.Value", value),
             ("AppRole.DisplayName", value.replace(".", " ")),
             ("ServicePrincipal.ObjectID", CLIENT_SP),
             ("ServicePrincipal.DisplayName", "reporting-app")]
    return [(n, v, None) if remove else (n, None, v) for n, v in props]


def test_entra_app_permissions_are_privileges(tmp_path: Path,
                                              con: duckdb.DuckDBPyConnection) -> None:
    consent = ("[] => [[Id: grant-1, ClientId: " + CLIENT_SP + ", PrincipalId: , ResourceId: "
               + GRAPH_SP + ", ConsentType: AllPrincipals, Scope:  User.Read Mail.ReadWrite, "
               "CreatedDateTime: , LastModifiedDateTime ]]; ")
    result = load(con, tmp_path / "apps.jsonl", [
        entra("Add app role assignment to service principal",
              [sp(GRAPH_SP, "Microsoft Graph", *app_role("RoleManagement.ReadWrite.Directory"))],
              rid="a1"),
        entra("Remove app role assignment from service principal",
              [sp(GRAPH_SP, "Microsoft Graph", *app_role("Mail.Read", remove=True))],
              rid="a2", graph=True),
        entra("Add app role assignment grant to user",
              [sp("app-sp-1", "Payroll", ("AppRole.Id", None, "00000000-0000-0000-0000-000000000000"),
                  ("AppRole.Value", None, ""), ("User.ObjectID", None, "id-eve"),
                  ("User.UPN", None, "Eve@Contoso.com")),
               user("Eve@Contoso.com")], rid="a3"),
        entra("Add delegated permission grant",
              [sp(GRAPH_SP, "Microsoft Graph",
                  ("DelegatedPermissionGrant.Scope", None, " openid Files.Read.All"),
                  ("DelegatedPermissionGrant.ConsentType", None, "AllPrincipals"),
                  ("ServicePrincipal.ObjectID", None, CLIENT_SP))], rid="a4"),
        entra("Consent to application",
              [sp(CLIENT_SP, "reporting-app", ("ConsentContext.IsAdminConsent", None, "True"),
                  ("ConsentAction.Permissions", None, consent))], rid="a5"),
        entra("Add app role assignment to service principal",
              [sp(GRAPH_SP, "Microsoft Graph", *app_role("Mail.Send"))], rid="a6",
              result="failure"),
        entra("Consent to application", [sp(CLIENT_SP, "reporting-app")], rid="a7"),
    ])
    assert (result.rows_read, result.loaded, result.quarantined) == (9, 9, 0)
    assert con.execute(
        "SELECT event_id, actor, subject, privilege, operation, system, "
        "extra ->> '$.permission_type', extra ->> '$.consent_type', "
        "extra ->> '$.source_carries_approval' FROM privileges ORDER BY event_id").fetchall() == [
        ("a1", "admin@contoso.com", CLIENT_SP, "RoleManagement.ReadWrite.Directory", "grant",
         "Microsoft Graph", "application", None, "false"),
        ("a2", "admin@contoso.com", CLIENT_SP, "Mail.Read", "revoke", "Microsoft Graph",
         "application", None, "false"),
        ("a3", "admin@contoso.com", "eve@contoso.com", "default access", "grant", "Payroll",
         "application", None, "false"),
        ("a4", "admin@contoso.com", CLIENT_SP, "openid", "grant", "Microsoft Graph",
         "delegated", "AllPrincipals", "false"),
        ("a4/2", "admin@contoso.com", CLIENT_SP, "Files.Read.All", "grant", "Microsoft Graph",
         "delegated", "AllPrincipals", "false"),
        ("a5", "admin@contoso.com", CLIENT_SP, "User.Read", "grant", GRAPH_SP, "delegated",
         "AllPrincipals", "false"),
        ("a5/2", "admin@contoso.com", CLIENT_SP, "Mail.ReadWrite", "grant", GRAPH_SP,
         "delegated", "AllPrincipals", "false"),
    ]
    # A failed assignment granted nothing; a consent naming no permission is only an action.
    assert con.execute("SELECT event_id, action, result, system FROM actions "
                       "ORDER BY event_id").fetchall() == [
        ("a6", "Add app role assignment to service principal", "failure", "entra"),
        ("a7", "Consent to application", "success", "entra")]


def test_diagnostic_records_with_lower_cased_keys_read_the_same(tmp_path: Path) -> None:
    # A data lake (Panther's) returns diagnostic-settings records with their top-level
    # keys lower-cased (`operationname`, `resourceid`, `calleripaddress`): the real
    # sample so written loads as the sample does.
    lines = (AZURE / "elastic_activitylogs_raw.log").read_text(encoding="utf-8").splitlines()
    lowered = tmp_path / "lowered.jsonl"
    lowered.write_text("".join(json.dumps({k.lower(): v for k, v in json.loads(line).items()})
                               + "\n" for line in lines if line.strip()), encoding="utf-8")
    got = []
    for path in (AZURE / "elastic_activitylogs_raw.log", lowered):
        db = tmp_path / f"{path.stem}.duckdb"
        result = CliRunner().invoke(app, ["ingest", str(path), "--db", str(db)])
        assert result.exit_code == 0, result.output
        with duckdb.connect(str(db), read_only=True) as con:
            got.append(con.execute(
                "SELECT ts, actor, actor_type, action, system, object, result, source_ip, "
                "extra ->> '$.correlation_id' FROM actions ORDER BY ALL").fetchall())
    assert got[0] == got[1]
    assert len(got[0]) == 3 and all(row[8] for row in got[0])


def test_storage_resource_logs_name_their_requester(tmp_path: Path,
                                                    con: duckdb.DuckDBPyConnection) -> None:
    # Panther's azure_storage_blob_bulk_deletion record (a StorageWrite DeleteBlob), with
    # the identity a storage account logs for an OAuth caller, then for an anonymous one.
    base = {"time": "2024-12-19T16:37:59.255Z", "resourceId": "/subscriptions/12345678-1234-"
            "1234-1234-123456789abc/resourceGroups/myresourcegroup/providers/Microsoft.Storage/"
            "storageAccounts/mystorageaccount/blobServices/default",
            "operationName": "DeleteBlob", "callerIpAddress": "5.5.5.5:28915",
            "location": "eastus", "category": "StorageWrite", "level": "Informational",
            "properties": {"accountName": "mystorageaccount", "serviceType": "blob",
                           "objectKey": "/mystorageaccount/corporate-files/internal_doc_13.txt"},
            "tenantId": "87654321-4321-4321-4321-111111111111"}
    oauth = {**base, "correlationId": "c1", "identity": {
        "type": "OAuth", "tokenHash": "key1(ABC)", "requester": {
            "appId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "objectId": "u-obj-1",
            "tenantId": "87654321-4321-4321-4321-111111111111", "upn": "Eve@Contoso.com"}}}
    app_only = {**base, "correlationId": "c2", "identity": {
        "type": "OAuth", "requester": {"appId": "a-1", "objectId": "SP-OBJ-2"}}}
    anonymous = {**base, "correlationId": "c3", "operationName": "GetBlob",
                 "category": "StorageRead", "identity": {"type": "Anonymous"}}
    load(con, tmp_path / "storage.jsonl", [oauth, app_only, anonymous])
    assert con.execute("SELECT extra ->> '$.correlation_id', actor, actor_type, action "
                       "FROM actions ORDER BY 1").fetchall() == [
        ("c1", "eve@contoso.com", None, "DeleteBlob"),
        ("c2", "sp-obj-2", "service", "DeleteBlob"),
        ("c3", "anonymous", None, "GetBlob")]
