"""Google Workspace admin activities → privileges (roles, groups, super admin) and actions
(user lifecycle and every other admin event), one row per event, on real samples and
on activities as the Reports API returns them (several events each)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest import ingest_paths
from auditlog.ingest.standard.workspace import GoogleWorkspace

DATA = Path(__file__).parent / "data"
DELEGATED = DATA / "workspace/beats_admin-delegatedadmin-test.json.log"
GROUPS = DATA / "workspace/beats_admin-groups-test.json.log"
USERS = DATA / "workspace/beats_admin-user-test.excerpt.json.log"
T = datetime(2020, 10, 2, 15, 0, tzinfo=UTC)


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def split_id(line: str) -> str:
    """The id the adapter gives a split record's event (see workspace's docstring),
    computed here from DuckDB's own JSON text of the event."""
    record = json.loads(line)
    event = duckdb.execute("SELECT CAST(json_extract(?, '$.events') AS VARCHAR)",
                           [line]).fetchone()
    assert event is not None
    digest = hashlib.md5(event[0].encode()).hexdigest()[:12]
    return f"{record['id']['uniqueQualifier']}/{digest}"


def ids(path: Path) -> dict[str, str]:
    """event name → event id, for a file of split records."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["events"]["name"]: split_id(line) for line in lines}


def test_role_assignments_are_grants_and_role_edits_actions(
        con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [DELEGATED])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (8, 8, 0, 0)
    by_name = ids(DELEGATED)
    assert rows(con, "SELECT event_id, ts, actor, subject, privilege, operation, system, "
                     "extra ->> '$.event_name', extra ->> '$.org_unit', "
                     "extra -> '$.source_carries_approval' FROM privileges ORDER BY ts, "
                     "extra ->> '$.event_name'") == [
        (by_name["ASSIGN_ROLE"], T, "foo@bar.com", "user@example.com",
         "_DIRECTORY_SYNC_ADMIN_ROLE", "grant", None, "ASSIGN_ROLE", "org",
         "false"),
        (by_name["UNASSIGN_ROLE"], T, "foo@bar.com", "user@example.com",
         "_DIRECTORY_SYNC_ADMIN_ROLE", "revoke", None, "UNASSIGN_ROLE", "org",
         "false"),
    ]
    assert rows(con, "SELECT event_id, action, system, target_account, object, result "
                     "FROM actions ORDER BY action") == [
        (by_name[name], name, "google-workspace/admin", None, "_DIRECTORY_SYNC_ADMIN_ROLE",
         "success")
        for name in ("ADD_PRIVILEGE", "CREATE_ROLE", "DELETE_ROLE", "REMOVE_PRIVILEGE",
                     "RENAME_ROLE", "UPDATE_ROLE")
    ]


def test_group_membership_is_granted_and_removed(con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [GROUPS])
    # Every line shares uniqueQualifier 1: the event's digest keeps them apart.
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (
        14, 14, 0, 0)
    by_name = ids(GROUPS)
    assert rows(con, "SELECT event_id, actor, subject, privilege, operation, system "
                     "FROM privileges ORDER BY operation") == [
        (by_name["ADD_GROUP_MEMBER"], "foo@bar.com", "user@example.com", "group@example.com",
         "grant", None),
        (by_name["REMOVE_GROUP_MEMBER"], "foo@bar.com", "user@example.com",
         "group@example.com", "revoke", None),
    ]
    actions = rows(con, "SELECT action, target_account, object FROM actions ORDER BY action")
    assert len(actions) == 12
    assert ("UPDATE_GROUP_MEMBER", "user@example.com", "group@example.com") in actions
    assert ("GROUP_LIST_DOWNLOAD", None, None) in actions


def test_super_admin_grants_and_account_lifecycle(con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [USERS])
    assert (result.rows_read, result.loaded, result.quarantined) == (8, 8, 0)
    by_name = ids(USERS)
    assert rows(con, "SELECT event_id, actor, subject, privilege, operation, system "
                     "FROM privileges ORDER BY event_id") == sorted([
        (by_name["GRANT_ADMIN_PRIVILEGE"], "foo@bar.com", "user@example.com", "Super Admin",
         "grant", None),
        (by_name["REVOKE_ADMIN_PRIVILEGE"], "foo@bar.com", "user@example.com", "Super Admin",
         "revoke", None),
        (by_name["GRANT_DELEGATED_ADMIN_PRIVILEGES"], "foo@bar.com", "user@example.com",
         "Delegated Admin", "grant", None),
    ])
    assert by_name["GRANT_ADMIN_PRIVILEGE"].startswith("4427185918513842232/")
    assert rows(con, "SELECT action, actor, target_account, ts FROM actions ORDER BY action") == [
        (name, "foo@bar.com", "user@example.com", T)
        for name in ("CREATE_USER", "DELETE_USER", "SUSPEND_USER", "UNDELETE_USER",
                     "UNSUSPEND_USER")
    ]
    assert rows(con, "SELECT count(*) FROM accounts") == [(0,)]


def activity(qualifier: str, *events: dict[str, Any],
             actor: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "admin#reports#activity",
            "id": {"time": "2026-03-01T10:00:00.000Z", "uniqueQualifier": qualifier,
                   "applicationName": "admin", "customerId": "C01"},
            "actor": actor or {"callerType": "USER", "email": "Admin@Acme.io",
                               "profileId": "1001"},
            "ipAddress": "198.51.100.7", "events": list(events)}


def ev(name: str, **params: str) -> dict[str, Any]:
    return {"type": "USER_SETTINGS", "name": name,
            "parameters": [{"name": k, "value": v} for k, v in params.items()]}


def test_an_activity_of_several_events_is_one_row_each_by_index(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "reports.json"
    path.write_text(json.dumps([
        activity("-42", ev("CREATE_USER", USER_EMAIL="Eve@Acme.io"),
                 ev("ASSIGN_ROLE", USER_EMAIL="eve@acme.io", ROLE_NAME="_SEED_ADMIN_ROLE"),
                 ev("ADD_GROUP_MEMBER", USER_EMAIL="eve@acme.io",
                    GROUP_EMAIL="admins@acme.io")),
        activity("7", ev("SUSPEND_USER", USER_EMAIL="bob@acme.io"),
                 actor={"callerType": "KEY", "key": "SYSTEM"}),
    ]), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded) == (4, 4)
    assert rows(con, "SELECT event_id, actor, subject, privilege, operation FROM privileges "
                     "ORDER BY event_id") == [
        ("-42/1", "admin@acme.io", "eve@acme.io", "_SEED_ADMIN_ROLE", "grant"),
        ("-42/2", "admin@acme.io", "eve@acme.io", "admins@acme.io", "grant"),
    ]
    assert rows(con, "SELECT event_id, actor, actor_type, action, target_account "
                     "FROM actions ORDER BY event_id") == [
        ("-42/0", "admin@acme.io", None, "CREATE_USER", "eve@acme.io"),
        ("7/0", "SYSTEM", "service", "SUSPEND_USER", "bob@acme.io"),
    ]


def test_malformed_activities_are_quarantined_with_their_reason(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    lines = DELEGATED.read_text(encoding="utf-8").splitlines()
    no_time = json.loads(lines[1])
    del no_time["id"]["time"]
    no_events = json.loads(lines[2])
    no_events["events"] = []
    no_actor = json.loads(lines[3])
    no_actor["actor"] = {"callerType": "USER"}
    path = tmp_path / "garbled.log"
    path.write_text("\n".join([lines[0], json.dumps(no_time), json.dumps(no_events),
                               json.dumps(no_actor), lines[4][:200]]) + "\n",
                    encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read == 5
    assert result.loaded == 1
    reasons = dict(rows(con, "SELECT location, reason FROM quarantine"))
    assert reasons["line 2"] == "Google Workspace activity without id.time"
    assert reasons["line 3"] == "Google Workspace activity without events"
    assert reasons["line 4"] == "Google Workspace activity without an actor"
    assert "line 5" in reasons


def test_workspace_claims_no_other_sample() -> None:
    workspace = GoogleWorkspace()
    for path in sorted(DATA.glob("*/*")):
        if path.parent.name in ("workspace", "fuzz") or path.suffix not in (
                ".json", ".jsonl", ".log"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            data = json.loads(text)
            records = data.get("Records", [data]) if isinstance(data, dict) else data
        except json.JSONDecodeError:
            records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        keys = {k for r in records if isinstance(r, dict) for k in r}
        assert not workspace.matches(keys), path
    assert workspace.matches(set(json.loads(GROUPS.read_text().splitlines()[0])))


def test_the_admin_grant_rule_names_the_super_admin_grant(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "d.duckdb")
    for args in (["ingest", str(DELEGATED), str(GROUPS), str(USERS), "--db", db],
                 ["run", "--db", db]):
        assert runner.invoke(app, args).exit_code == 0
    findings = json.loads(runner.invoke(app, ["findings", "--db", db, "--format",
                                              "json"]).stdout)
    # Workspace records carry no approvals: grant_without_approval stays quiet.
    assert [(f["rule_id"], f["actor"], f["account"], f["evidence"]) for f in findings] == [
        ("admin_grant", "foo@bar.com", "user@example.com", [ids(USERS)["GRANT_ADMIN_PRIVILEGE"]])]


def test_a_saved_activities_list_answer_is_read_as_its_items(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    page = {"kind": "admin#reports#activities", "etag": "\"e\"", "nextPageToken": "n",
            "items": [activity("5", ev("GRANT_ADMIN_PRIVILEGE", USER_EMAIL="eve@acme.io"),
                               ev("CHANGE_PASSWORD", USER_EMAIL="eve@acme.io")),
                      activity("6", ev("DELETE_USER", USER_EMAIL="bob@acme.io")),
                      "not an activity"]}
    other = {"kind": "drive#fileList", "items": [{"kind": "drive#file", "id": "f"}]}
    path = tmp_path / "pages.jsonl"
    path.write_text(json.dumps(page) + "\n" + json.dumps(other) + "\n", encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read == 5
    assert rows(con, "SELECT event_id, subject, privilege FROM privileges") == [
        ("5/0", "eve@acme.io", "Super Admin")]
    assert rows(con, "SELECT event_id, action FROM actions ORDER BY event_id") == [
        ("5/1", "CHANGE_PASSWORD"), ("6/0", "DELETE_USER")]
    assert rows(con, "SELECT location, reason FROM quarantine ORDER BY location") == [
        ("line 1 item 3", "not a JSON object"),
        ("line 2 item 1", "not a Google Workspace activity (kind drive#file)"),
    ]


# --- Panther's flattened events (GSuite.ActivityEvent: one event a record) ----------------

ROLES = DATA / "workspace/panther_google_workspace_admin_custom_role.jsonl"
OWNERS = DATA / "workspace/panther_gsuite_doc_ownership_transfer.jsonl"


def test_flattened_events_read_as_their_activitys_event(tmp_path: Path) -> None:
    # `name`, `type` and `parameters` (an object, not the API's list) beside `id` and
    # `actor`; times written without their zone (the Reports API's are UTC).
    db = tmp_path / "d.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(ROLES), str(OWNERS), "--db", str(db),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(e["kind"], e["rows_read"], e["loaded"], e["quarantined"])
            for e in json.loads(result.stdout)] == [("actions", 3, 3, 0), ("actions", 3, 3, 0)]
    assert "carry no offset" not in result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        got = rows(con, "SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ'), actor, action, system, "
                        "object, source_ip, extra ->> '$.event_type' FROM actions "
                        "ORDER BY ts, action")
    assert got == [
        ("2022-12-11T02:57:48.693Z", "example@example.io", "CREATE_ROLE",
         "google-workspace/admin", "CustomAdminRoleName", "12.12.12.12",
         "DELEGATED_ADMIN_SETTINGS"),
        ("2022-12-11T02:57:48.693Z", "example@example.io", "DELETE_ROLE",
         "google-workspace/admin", "CustomAdminRoleName", "12.12.12.12",
         "DELEGATED_ADMIN_SETTINGS"),
        ("2022-12-20T17:27:47.080Z", "user@example.io", "rename", "google-workspace/drive",
         "1GGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG", "12.12.12.12", "access"),
        ("2025-07-07T23:50:22.743Z", "alice@panther.com", "change_owner",
         "google-workspace/drive", "1234567890", "1.2.3.4", "acl_change"),
        ("2025-07-11T19:50:09.324Z", "alice@panther.com", "change_owner",
         "google-workspace/drive", "1234567890", None, "acl_change"),
        ("2025-08-12T18:41:56.232Z", "alice@panther.com", "change_owner",
         "google-workspace/drive", "1234567890", "1.2.3.4", "acl_change"),
    ]


def test_a_flattened_role_assignment_is_a_grant(tmp_path: Path,
                                                con: duckdb.DuckDBPyConnection) -> None:
    # Panther's sample holds no grant: its role record, the event ASSIGN_ROLE.
    record = json.loads(ROLES.read_text().splitlines()[0])
    record.update(name="ASSIGN_ROLE", type="DELEGATED_ADMIN_SETTINGS",
                  parameters={"ROLE_NAME": "_SEED_ADMIN_ROLE", "USER_EMAIL": "Eve@Example.io"})
    path = tmp_path / "assign.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.loaded, result.quarantined) == (1, 0)
    assert rows(con, "SELECT actor, subject, privilege, operation, system FROM privileges") == [
        ("example@example.io", "eve@example.io", "_SEED_ADMIN_ROLE", "grant", None)]
