"""OCSF 1.x events → privileges and actions: each IAM and application class, 1.9's User
and Role Management, unmapped attributes kept, other categories refused."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog.ingest import ingest_paths

DATA = Path(__file__).parent / "data" / "ocsf"
TIME = 1772359200000  # 2026-03-01T10:00:00Z


def ev(uid: str, cls: int, activity: int, **attributes: Any) -> dict[str, Any]:
    return {"class_uid": cls, "category_uid": cls // 1000, "activity_id": activity,
            "type_uid": cls * 100 + activity, "severity_id": 1, "status_id": 1, "time": TIME,
            "metadata": {"version": "1.9.0", "uid": uid, "product": {"name": "idp"}},
            "actor": {"user": {"name": "alice", "uid": "u-alice"}}, **attributes}


def load(con: duckdb.DuckDBPyConnection, path: Path, events: list[dict[str, Any]]) -> Any:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read
    return result


def privileges(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute("SELECT event_id, actor, subject, privilege, operation, system "
                       "FROM privileges ORDER BY event_id").fetchall()


BOB = {"name": "bob", "uid": "u-bob"}
GROUP = {"name": "prod-admins", "uid": "g-7"}
ROLE = {"name": "db-admin", "uid": "arn:aws:iam::1:role/db-admin"}
POLICY = {"name": "AdministratorAccess", "uid": "arn:aws:iam::aws:policy/AdministratorAccess"}

CHANGES: list[tuple[dict[str, Any], list[tuple[str, str, str, str]]]] = [
    (ev("p1", 3005, 1, user=BOB, privileges=["crm:read", "crm:write"]),
     [("p1", "bob", "crm:read", "grant"), ("p1/2", "bob", "crm:write", "grant")]),
    (ev("p2", 3005, 2, user=BOB, privileges=["crm:read"]), [("p2", "bob", "crm:read", "revoke")]),
    (ev("p3", 3005, 3, user=BOB, iam_role=ROLE), [("p3", "bob", "db-admin", "grant")]),
    (ev("p4", 3001, 7, user=BOB, policies=[POLICY]),
     [("p4", "bob", "AdministratorAccess", "grant")]),
    (ev("p5", 3001, 8, user={"uid": "u-bob"}, policy={"uid": POLICY["uid"]}),
     [("p5", "u-bob", POLICY["uid"], "revoke")]),
    (ev("p6", 3006, 3, group=GROUP, users=[BOB, {"name": "carol"}]),
     [("p6", "bob", "prod-admins", "grant"), ("p6/2", "carol", "prod-admins", "grant")]),
    (ev("p7", 3006, 4, group=GROUP, user=BOB), [("p7", "bob", "prod-admins", "revoke")]),
    (ev("p8", 3006, 1, group=GROUP, privileges=["deploy"]),
     [("p8", "prod-admins", "deploy", "grant")]),
    (ev("p9", 3006, 10, group=GROUP, policies=[POLICY]),
     [("p9", "prod-admins", "AdministratorAccess", "grant")]),
    (ev("pa", 3006, 13, group=GROUP, iam_roles=[ROLE]),
     [("pa", "prod-admins", "db-admin", "revoke")]),
    (ev("pb", 3007, 14, user=BOB, privileges=["billing:refund"]),
     [("pb", "bob", "billing:refund", "grant")]),
    (ev("pc", 3007, 16, user=BOB, iam_roles=[ROLE]), [("pc", "bob", "db-admin", "grant")]),
    (ev("pd", 3007, 11, user=BOB, policies=[POLICY]),
     [("pd", "bob", "AdministratorAccess", "revoke")]),
    (ev("pe", 3008, 4, iam_role=ROLE, privileges=["s3:*"]), [("pe", "db-admin", "s3:*", "grant")]),
    (ev("pf", 3008, 9, iam_role={"uid": ROLE["uid"]}, policies=[POLICY]),
     [("pf", ROLE["uid"], "AdministratorAccess", "revoke")]),
]


@pytest.mark.parametrize(("event", "expected"), CHANGES, ids=[e["metadata"]["uid"] for e, _ in CHANGES])
def test_privilege_changes(tmp_path: Path, con: duckdb.DuckDBPyConnection, event: dict[str, Any],
                           expected: list[tuple[str, str, str, str]]) -> None:
    result = load(con, tmp_path / "iam.jsonl", [event])
    assert result.quarantined == 0
    # No resources: the grant applies to any system, not to the product that logged it.
    assert privileges(con) == [(e, "alice", s, p, o, None) for e, s, p, o in expected]


def test_resources_name_the_system_and_unmapped_approvals_are_read(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "iam.jsonl", [ev(
        "r1", 3005, 1, user=BOB, privileges=["crm:read"], resources=[{"name": "crm"}],
        unmapped={"ticket": "CR-1", "approver": "mgr", "expires_at": "2026-03-02T10:00:00Z",
                  "vendor_field": 42})])
    assert con.execute(
        "SELECT system, ticket, approver, CAST(expires_at AS VARCHAR), "
        "extra -> '$.ocsf.unmapped.vendor_field', extra ->> '$.ocsf.privileges' "
        "FROM privileges").fetchall() == [
        ("crm", "CR-1", "mgr", "2026-03-02 10:00:00+00", "42", None)]


def test_actions_of_iam_and_application_classes(tmp_path: Path,
                                                con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "acts.jsonl", [
        ev("a1", 3001, 5, user=BOB),
        ev("a2", 3002, 1, user={"name": "root"}, service={"name": "sshd"}, status_id=2),
        ev("a3", 3004, 3, entity={"name": "prod-admins"}),
        ev("a4", 6002, 8, app={"name": "billing-api", "version": "2.14.1"}),
        ev("a5", 6003, 2, api={"operation": "GetObject", "service": {"name": "s3.amazonaws.com"}}),
        ev("a6", 3007, 18, user=BOB, programmatic_credentials=[{"uid": "AKIAX"}]),
        ev("a7", 6003, 1, api={"operation": "CreateAccessKey",
                               "service": {"name": "iam.amazonaws.com"},
                               "request": {"data": {"userName": "bob"}}}),
        ev("a8", 3005, 1, user=BOB, privileges=["crm:read"], status_id=2),
        ev("a9", 3008, 1, iam_role=ROLE, activity_name="Create"),
    ])
    assert con.execute(
        "SELECT event_id, actor, action, system, object, result, target_account "
        "FROM actions ORDER BY event_id").fetchall() == [
        ("a1", "alice", "disable", "idp", "bob", "success", None),
        ("a2", "root", "login", "sshd", None, "failure", None),
        ("a3", "alice", "update", "idp", "prod-admins", "success", None),
        ("a4", "alice", "update", "billing-api", "2.14.1", "success", None),
        ("a5", "alice", "GetObject", "s3.amazonaws.com", None, "success", None),
        ("a6", "alice", "add_programmatic_credentials", "idp", "bob", "success", "bob"),
        ("a7", "alice", "CreateAccessKey", "iam.amazonaws.com", None, "success", "bob"),
        ("a8", "alice", "assign_privileges", "idp", "bob", "failure", None),
        ("a9", "alice", "create", "idp", "db-admin", "success", None),
    ]
    assert privileges(con) == []


def test_aws_api_activity_maps_as_cloudtrail_does(tmp_path: Path,
                                                  con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [DATA / "api_activity_6003.json"])
    assert result.loaded == 1
    assert privileges(con) == [("0a1b2c3d-eventID", "alice", "bob",
                                "arn:aws:iam::aws:policy/AdministratorAccess", "grant", None)]


def test_the_project_examples_load_and_findings_are_refused(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    results = ingest_paths(con, [DATA])
    assert sum(r.rows_read for r in results) == sum(
        r.loaded + r.duplicates + r.quarantined for r in results)
    reasons = [r for (r,) in con.execute("SELECT reason FROM quarantine ORDER BY ALL").fetchall()]
    # The detection findings (2004) are not activity; the API call that names no policy
    # cannot say what it granted.
    refused = ("OCSF class 2004 is not an IAM (3xxx) or application (6xxx) activity "
               "auditlog maps")
    assert reasons == [refused] * 2 + ["missing required field privilege"]
    kinds = dict(con.execute("SELECT 'actions', count(*) FROM actions UNION ALL "
                             "SELECT 'privileges', count(*) FROM privileges").fetchall())
    assert kinds == {"actions": 6, "privileges": 6}


def test_gzipped_array_with_time_dt_only(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    event = ev("g1", 3002, 2, user={"name": "bob"})
    del event["time"]
    event["time_dt"] = "2026-03-01T11:00:00+01:00"
    path = tmp_path / "auth.json.gz"
    path.write_bytes(gzip.compress(json.dumps([event]).encode()))
    (result,) = ingest_paths(con, [path])
    assert result.loaded == 1
    assert con.execute("SELECT event_id, actor, action, strftime(ts, '%H:%M') FROM actions"
                       ).fetchall() == [("g1", "bob", "logout", "10:00")]


def test_a_class_uid_ocsf_does_not_define_is_refused_naming_it(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # In the IAM category, but no class of it: not silently an action named after it;
    # a class OCSF defines but auditlog does not map (Authorize Session) is an action.
    load(con, tmp_path / "c.jsonl", [
        ev("x1", 3099, 1, user=BOB, privileges=["admin"]),
        ev("x2", 6042, 1),
        ev("x3", 3003, 1, activity_name="Assign Privileges", user=BOB, privileges=["admin"]),
        ev("x4", 201001, 1),  # the Windows extension's Registry Key Activity
    ])
    assert con.execute("SELECT location, reason FROM quarantine ORDER BY location").fetchall() == [
        ("line 1", ("OCSF class 3099 is no IAM or application class auditlog knows (it reads "
                   "3001-3008, 6001-6008)")),
        ("line 2", ("OCSF class 6042 is no IAM or application class auditlog knows (it reads "
                   "3001-3008, 6001-6008)")),
        ("line 4", "OCSF class 201001 is a class of extension 2, which auditlog does not map")]
    assert con.execute("SELECT event_id, action FROM actions").fetchall() == [
        ("x3", "assign_privileges")]


@pytest.mark.parametrize(("status", "result"), [
    ({"status": "Failure"}, "failure"),  # no status_id: the caption says it
    ({"status_id": 99, "status": "Failure"}, "failure"),  # Other: the caption says it
    ({"status_id": 1, "status": "Failure"}, "success"),  # the id wins
    ({"status_id": 2}, "failure"),
])
def test_a_failure_said_by_status_grants_nothing(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, status: dict[str, Any],
        result: str) -> None:
    event = {k: v for k, v in ev("f1", 3005, 1, user=BOB, privileges=["admin"]).items()
             if k != "status_id"}
    load(con, tmp_path / "f.jsonl", [{**event, **status}])
    assert con.execute("SELECT count(*) FROM privileges").fetchone() == (
        (0,) if result == "failure" else (1,))
    assert con.execute("SELECT result FROM actions").fetchall() == (
        [("failure",)] if result == "failure" else [])


def test_unmapped_written_as_a_json_string_is_read(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # As Elastic's Security Lake fixtures have it (test-unmapped.log): a string holding
    # a JSON object, a plain string, an array.
    load(con, tmp_path / "u.jsonl", [
        ev("u1", 3005, 1, user=BOB, privileges=["a"],
           unmapped=json.dumps({"ticket": "CHG-1", "approver": "carol"})),
        ev("u2", 3005, 1, user=BOB, privileges=["b"], unmapped="notjsonstring"),
        ev("u3", 3005, 1, user=BOB, privileges=["c"], unmapped=[1, 2, "othertypes"]),
    ])
    assert con.execute(
        "SELECT event_id, ticket, approver, extra -> '$.ocsf.unmapped' FROM privileges "
        "ORDER BY event_id").fetchall() == [
        ("u1", "CHG-1", "carol", json.dumps(json.dumps({"ticket": "CHG-1", "approver": "carol"}))),
        ("u2", None, None, '"notjsonstring"'), ("u3", None, None, '[1,2,"othertypes"]')]


def test_integral_floats_are_the_integers_they_write(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A producer holding every number as a float (a JSON encoder of doubles, a Parquet
    # DOUBLE column) writes 3005.0; 3005.5 is no class (never rounded to 3006, Group
    # Management, nor an activity 1.5 to 2).
    grant = {**ev("f1", 3005, 1, user=BOB, privileges=["crm:read"]),
             "class_uid": 3005.0, "activity_id": 1.0, "status_id": 1.0}
    failed = {**ev("f2", 3005, 1, user=BOB, privileges=["crm:write"]),
              "class_uid": 3.005e3, "activity_id": 1.0, "status_id": 2.0}
    half = {**ev("f3", 3005, 1, user=BOB, privileges=["x"]), "class_uid": 3005.5}
    act = {**ev("f4", 3005, 1, user=BOB, privileges=["y"]), "activity_id": 1.5}
    result = load(con, tmp_path / "floats.jsonl", [grant, failed, half, act])
    assert (result.loaded, result.quarantined) == (3, 1)
    assert privileges(con) == [("f1", "alice", "bob", "crm:read", "grant", None)]
    assert con.execute("SELECT event_id, action, result, extra ->> '$.class_uid' FROM actions "
                       "ORDER BY 1").fetchall() == [
        ("f2", "assign_privileges", "failure", "3005"),
        ("f4", "class 3005 activity 1.5", "success", "3005")]
    assert con.execute("SELECT reason FROM quarantine").fetchall() == [
        ("OCSF event whose class_uid 3005.5 is not an integer (no class)",)]


def test_the_login_names_an_account_over_its_display_name(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Okta's System Log in OCSF: the display name in `name`, the login in `email_addr`,
    # the Okta id in `uid`. The login is what Okta's own log (ingest/standard/okta.py),
    # Entra, Workspace and GCP name the account by, lower-cased there too; a grant's
    # subject and the actor of that account's actions must be one string.
    admin = {"name": "Jane Admin", "email_addr": "Jane.Admin@Example.com",
             "uid": "00u1admin"}
    bob = {"name": "Bob Builder", "email_addr": "bob@example.com", "uid": "00u2bob"}
    grant = {**ev("o1", 3005, 3, user=bob, iam_role={"name": "Super Administrator"}),
             "actor": {"user": admin}}
    login = {**ev("o2", 3002, 1, user=bob), "actor": {"user": bob}}
    # Without a login the name is taken, then the uid, as before.
    named = {**ev("o3", 3001, 2), "actor": {"user": {"name": "carol", "uid": "00u3"}},
             "user": {"uid": "00u4"}}
    load(con, tmp_path / "okta-ocsf.jsonl", [grant, login, named])
    assert privileges(con) == [
        ("o1", "jane.admin@example.com", "bob@example.com", "Super Administrator", "grant",
         None)]
    assert con.execute("SELECT event_id, actor, action, object FROM actions ORDER BY 1"
                       ).fetchall() == [("o2", "bob@example.com", "login", None),
                                        ("o3", "carol", "enable", "00u4")]
    # The event as written stays whole.
    assert con.execute("SELECT extra -> '$.ocsf.actor.user' FROM privileges").fetchone() == (
        json.dumps(admin, separators=(",", ":")),)


@pytest.mark.parametrize(("cls", "activity", "action"), [
    (3003, 1, "assign_privileges"), (3003, 2, "assign_groups"), (3003, 3, "assign_roles"),
    (3002, 7, "account_switch"), (6001, 7, "export"), (6004, 2, "access_deny"),
    (6005, 4, "query"), (6006, 12, "share"), (6007, 2, "completed"),
    (6008, 1, "general_error")])
def test_an_activity_without_a_name_is_named_by_the_schema(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, cls: int, activity: int,
        action: str) -> None:
    event = ev("n1", cls, activity, user=BOB)
    load(con, tmp_path / "unnamed.jsonl", [event])
    assert con.execute("SELECT action FROM actions").fetchall() == [(action,)]
