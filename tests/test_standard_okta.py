"""Okta System Log events → privileges (admin roles, group and app memberships) and
actions (sessions, lifecycle, everything else), on real samples and made-up events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest import ingest_paths
from auditlog.ingest.standard.okta import Okta

DATA = Path(__file__).parent / "data"
BEATS = DATA / "okta/beats_okta-system-test.json.log"
PANTHER = DATA / "okta/panther_okta_admin_role_assigned.jsonl"
T = "2026-03-01T10:00:00.000Z"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def user(login: str, okta_id: str = "00uX", kind: str = "User") -> dict[str, Any]:
    return {"id": okta_id, "type": kind, "alternateId": login, "displayName": login.title()}


def event(uuid: str, event_type: str, *targets: dict[str, Any], result: str = "SUCCESS",
          actor: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"uuid": uuid, "published": T, "eventType": event_type, "version": "0",
            "actor": actor or user("Admin@Acme.io", "00uADMIN"),
            "client": {"ipAddress": "198.51.100.7"}, "outcome": {"result": result},
            "target": list(targets), "transaction": {"type": "WEB", "id": "tx"}, **extra}


def load(con: duckdb.DuckDBPyConnection, path: Path, events: list[dict[str, Any]]) -> Any:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    return result


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_the_beats_sample_loads_every_event_as_an_action(con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [BEATS])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (7, 7, 0, 0)
    assert rows(con, "SELECT event_id, ts, actor, action, system, target_account, object, "
                     "result, source_ip, extra ->> '$.actor_okta_id' FROM actions "
                     "ORDER BY ts, event_id") == [
        ("3aeede38-4f67-11ea-abd3-1f5d113f2546", ts("2020-02-14T20:18:57.718Z"),
         "xxxxxx@elastic.co", "user.session.start", "okta", None, None, "success",
         "67.43.156.12", "00u1abvz4pYqdM8ms4x6"),
        ("36a3b6b3-fcc0-47a0-96bd-95330cfdb658", ts("2020-02-14T20:18:57.762Z"),
         "xxxxxx@elastic.co", "policy.evaluate_sign_on", "okta", None, "Default Policy",
         "success", "67.43.156.12", "00u1abvz4pYqdM8ms4x6"),
        ("3af594f9-4f67-11ea-abd3-1f5d113f2546", ts("2020-02-14T20:18:57.762Z"),
         "xxxxxx@elastic.co", "policy.evaluate_sign_on", "okta", None, "Default Policy",
         "success", "67.43.156.12", "00u1abvz4pYqdM8ms4x6"),
        ("c2adb364-88d1-45a9-a620-2b64e44c5fcf", ts("2020-02-14T20:18:57.762Z"),
         "xxxxxx@elastic.co", "user.account.report_suspicious_activity_by_enduser", "okta",
         "xxxxxx@elastic.co", "xxxxxx", "success", "67.43.156.12", "00u1abvz4pYqdM8ms4x6"),
        ("faf7398a-4f77-11ea-97fb-5925e98228bd", ts("2020-02-14T22:18:51.843Z"),
         "xxxxxx@elastic.co", "user.session.end", "okta", None, None, "success",
         "67.43.156.12", "00u1abvz4pYqdM8ms4x6"),
        ("8ceedc94-d725-11ec-9d64-0242ac120002", ts("2022-05-11T09:25:18.716Z"),
         "test@test.com", "user.session.start", "okta", None, None, "success",
         "81.2.69.144", "00u1abvz4pYqdM8ms4x6"),
        ("7e15e406-d725-11ec-9d64-0242ac120002", ts("2022-05-11T09:27:08.708Z"),
         "test1@test.com", "user.authentication.verify", "okta", None, None, "success",
         "67.43.156.14", "00u1abvz4pYqdM8ms4x6"),
    ]
    # The actor is a login, never the actor object; the object is kept in extra.
    assert rows(con, "SELECT DISTINCT extra -> '$.actor_raw' ->> '$.type' FROM actions") == [
        ("User",)]


def test_the_panther_admin_grant_is_a_grant_of_each_role_named(
        con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [PANTHER])
    # Two source records share one uuid with other roles: the second is a conflict.
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (4, 2, 0, 2)
    uuid = "2a992f80-d1ad-4f62-900e-8c68bb72a21b"
    granted = ts("2020-11-25T21:27:03.496Z")
    assert rows(con, "SELECT event_id, ts, actor, subject, privilege, operation, system, "
                     "extra ->> '$.subject_okta_id', extra -> '$.source_carries_approval' "
                     "FROM privileges ORDER BY event_id") == [
        (uuid, granted, "jack@acme.io", "alice@acme.io", "Organization administrator",
         "grant", "okta", "00u6eup97mAJZWYmP357", "false"),
        (uuid + "/2", granted, "jack@acme.io", "alice@acme.io",
         "Application administrator (all)", "grant", "okta", "00u6eup97mAJZWYmP357", "false"),
    ]
    assert rows(con, "SELECT location, reason LIKE 'conflict:%' FROM quarantine "
                     "ORDER BY location") == [
        ("line 2 privilege 1", True), ("line 2 privilege 2", True)]


def test_memberships_grant_and_remove_their_group_or_app(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    group = {"id": "00gADM", "type": "UserGroup", "alternateId": "unknown",
             "displayName": "Okta Administrators"}
    application = {"id": "0oaAWS", "type": "AppInstance", "alternateId": "AWS",
                   "displayName": "AWS Account Federation"}
    role = {"id": "SUPER_ADMIN", "type": "ROLE", "displayName": "Super Administrator"}
    result = load(con, tmp_path / "okta.jsonl", [
        event("g1", "group.user_membership.add", user("Bob@Acme.io", "00uBOB"), group),
        event("g2", "group.user_membership.remove", user("bob@acme.io", "00uBOB"), group),
        event("a1", "application.user_membership.add", user("eve@acme.io", "00uEVE"),
              application),
        event("r1", "user.account.privilege.grant", user("eve@acme.io", "00uEVE"), role),
        event("r2", "user.account.privilege.revoke", user("eve@acme.io", "00uEVE"),
              debugContext={"debugData": {"privilegeRevoked": "Help Desk administrator"}}),
        event("p1", "group.privilege.grant", group,
              debugContext={"debugData": {"privilegeGranted": "Read only admin"}}),
        event("i1", "iam.resourceset.bindings.add", user("eve@acme.io", "00uEVE"), role),
    ])
    assert (result.rows_read, result.loaded) == (7, 7)
    assert rows(con, "SELECT event_id, actor, subject, privilege, operation, system, "
                     "extra ->> '$.privilege_id' FROM privileges ORDER BY event_id") == [
        ("a1", "admin@acme.io", "eve@acme.io", "AWS Account Federation", "grant", None,
         "0oaAWS"),
        ("g1", "admin@acme.io", "bob@acme.io", "Okta Administrators", "grant", None, "00gADM"),
        ("g2", "admin@acme.io", "bob@acme.io", "Okta Administrators", "revoke", None,
         "00gADM"),
        ("i1", "admin@acme.io", "eve@acme.io", "Super Administrator", "grant", "okta",
         "SUPER_ADMIN"),
        ("p1", "admin@acme.io", "Okta Administrators", "Read only admin", "grant", "okta",
         None),
        ("r1", "admin@acme.io", "eve@acme.io", "Super Administrator", "grant", "okta",
         "SUPER_ADMIN"),
        ("r2", "admin@acme.io", "eve@acme.io", "Help Desk administrator", "revoke", "okta",
         None),
    ]
    assert rows(con, "SELECT count(*) FROM actions") == [(0,)]


def test_lifecycle_failures_and_grants_without_subject_are_actions(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    system = {"id": "0oa1", "type": "SystemPrincipal", "alternateId": "system@okta.com",
              "displayName": "Okta System"}
    api_client = {"id": "0oaCLIENT", "type": "PublicClientApp", "alternateId": "unknown",
                  "displayName": "terraform"}
    load(con, tmp_path / "okta.jsonl", [
        event("l1", "user.lifecycle.create", user("New@Acme.io", "00uNEW")),
        event("l2", "user.lifecycle.deactivate", user("old@acme.io", "00uOLD"), actor=system),
        event("l3", "user.lifecycle.suspend", user("eve@acme.io", "00uEVE"),
              actor=api_client),
        event("f1", "group.user_membership.add", user("bob@acme.io"),
              {"id": "00g", "type": "UserGroup", "displayName": "Admins"}, result="FAILURE"),
        event("n1", "user.account.privilege.grant"),
        event("d1", "policy.evaluate_sign_on", result="DENY"),
    ])
    assert rows(con, "SELECT event_id, actor, actor_type, action, target_account, result "
                     "FROM actions ORDER BY event_id") == [
        ("d1", "admin@acme.io", None, "policy.evaluate_sign_on", None, "failure"),
        ("f1", "admin@acme.io", None, "group.user_membership.add", "bob@acme.io", "failure"),
        ("l1", "admin@acme.io", None, "user.lifecycle.create", "new@acme.io", "success"),
        ("l2", "system@okta.com", "system", "user.lifecycle.deactivate", "old@acme.io",
         "success"),
        # An API client has no login: its Okta id stands for it.
        ("l3", "0oaCLIENT", "service", "user.lifecycle.suspend", "eve@acme.io", "success"),
        ("n1", "admin@acme.io", None, "user.account.privilege.grant", None, "success"),
    ]
    assert rows(con, "SELECT count(*) FROM privileges") == [(0,)]
    assert rows(con, "SELECT count(*) FROM accounts") == [(0,)]


def test_a_garbled_copy_quarantines_its_bad_records_and_loads_the_rest(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    lines = BEATS.read_text(encoding="utf-8").splitlines()
    no_type = json.loads(lines[1])
    del no_type["eventType"]
    no_time = json.loads(lines[2])
    no_time["published"] = None
    no_actor = json.loads(lines[3])
    no_actor["actor"] = "somebody"
    garbled = tmp_path / "garbled.log"
    garbled.write_text("\n".join([lines[0], json.dumps(no_type), json.dumps(no_time),
                                  json.dumps(no_actor), lines[4][:300]]) + "\n",
                       encoding="utf-8")
    (result,) = ingest_paths(con, [garbled])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read == 5
    assert result.loaded == 1
    reasons = dict(rows(con, "SELECT location, reason FROM quarantine"))
    assert reasons["line 2"] == "Okta System Log event without eventType"
    assert reasons["line 3"] == "Okta System Log event without published"
    assert reasons["line 4"] == "Okta System Log event without an actor"
    assert "line 5" in reasons
    assert rows(con, "SELECT DISTINCT path FROM quarantine") == [(str(garbled),)]


def test_okta_claims_no_other_sample() -> None:
    okta = Okta()
    for path in sorted(DATA.glob("*/*")):
        if path.parent.name in ("okta", "fuzz") or path.suffix not in (".json", ".jsonl",
                                                                        ".log"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            data = json.loads(text)
            records = data.get("Records", [data]) if isinstance(data, dict) else data
        except json.JSONDecodeError:
            records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        keys = {k for r in records if isinstance(r, dict) for k in r}
        assert not okta.matches(keys), path
    assert okta.matches(set(json.loads(BEATS.read_text().splitlines()[0])))


def test_the_admin_grant_rule_names_the_okta_grant_and_no_approval_is_asked(
        tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "d.duckdb")
    for args in (["ingest", str(BEATS), str(PANTHER), "--db", db],
                 ["run", "--db", db]):
        assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, ["findings", "--db", db, "--format", "json"])
    findings = json.loads(result.stdout)
    assert [(f["rule_id"], f["actor"], f["account"], f["evidence"]) for f in findings] == [
        ("admin_grant", "jack@acme.io", "alice@acme.io",
         ["2a992f80-d1ad-4f62-900e-8c68bb72a21b"])]


def test_an_event_hook_delivery_is_read_as_its_events(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    group = {"id": "00gEXT", "type": "UserGroup", "alternateId": "unknown",
             "displayName": "EXT-TestClient"}
    delivery = {"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0",
                "cloudEventsVersion": "0.1", "source": "https://acme.okta.com/api/v1/eventHooks",
                "eventId": "33b5bedc", "eventTime": T, "contentType": "application/json",
                "data": {"events": [
                    event("h1", "group.user_membership.add", user("a@acme.io"), group),
                    event("h2", "user.lifecycle.activate", user("a@acme.io")),
                ]}}
    empty = {**delivery, "eventId": "e2", "data": {"events": []}}
    path = tmp_path / "hook.jsonl"
    path.write_text(json.dumps(delivery) + "\n" + json.dumps(empty) + "\n", encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read == 3
    assert rows(con, "SELECT event_id, subject, privilege FROM privileges") == [
        ("h1", "a@acme.io", "EXT-TestClient")]
    assert rows(con, "SELECT event_id, action FROM actions") == [
        ("h2", "user.lifecycle.activate")]
    assert rows(con, "SELECT location, reason FROM quarantine") == [
        ("line 2", "Okta event hook delivery without events")]


# --- Panther's test events: top-level keys lower-cased, DENY, no published ---------------


runner = CliRunner()


def panther(rule: str) -> Path:
    return DATA / f"okta/panther_okta_{rule}.jsonl"


def test_lower_cased_top_level_keys_read_as_okta_wrote_them(tmp_path: Path) -> None:
    # Panther's data lake hands LogEvents back as `eventtype`, `displaymessage`,
    # `debugcontext`, ...; the ThreatInsight one is DENY'd, by an IP address actor.
    db = tmp_path / "d.duckdb"
    result = runner.invoke(app, ["ingest", str(panther("group_admin_role_assigned")),
                                 str(panther("threatinsight_security_threat_detected")),
                                 "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(e["kind"], e["rows_read"], e["loaded"], e["quarantined"])
            for e in json.loads(result.stdout)] == [("actions", 2, 1, 1), ("actions", 3, 2, 1)]
    # Okta writes UTC: a copy without the zone is UTC, not a naive local time.
    assert "carry no offset" not in result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert rows(con, "SELECT event_id, ts, actor, action, result, source_ip, "
                         "extra ->> '$.display_message', extra ->> '$.outcome_reason' "
                         "FROM actions ORDER BY ts, event_id") == [
            ("aaa-bb-ccc", ts("2022-06-10T17:19:58.423Z"), "homer.simpson@duff.com",
             "application.integration.rate_limit_exceeded", "success", "1.2.3.4", None, None),
            ("aa-11-22-33-44-bb", ts("2022-12-13T00:58:19.811Z"), "homer.simpson@duff.com",
             "group.privilege.grant", "failure", "1.2.3.4", "Group Privilege granted", None),
            # DENY: ThreatInsight refused the request of an IP address (Okta's actor).
            ("asdfa-1234-asdfdas", ts("2022-12-14T19:16:32.015Z"), "1.2.3.4",
             "security.threat.detected", "failure", "1.2.3.4", "Request from suspicious actor",
             "Password Spray, Login failures with high unknown users count, Login Failures"),
        ]
        # A failed grant granted nothing.
        assert rows(con, "SELECT count(*) FROM privileges") == [(0,)]


def test_an_event_without_published_is_quarantined_as_okta_saying_so(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    result = runner.invoke(app, ["ingest", str(panther("user_mfa_reset")),
                                 str(panther("support_reset")), "--db", str(db),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(e["rows_read"], e["loaded"], e["quarantined"])
            for e in json.loads(result.stdout)] == [(2, 1, 1), (2, 1, 1)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert rows(con, "SELECT reason FROM quarantine") == [
            ("Okta System Log event without published",)] * 2
        assert rows(con, "SELECT action, actor, target_account FROM actions ORDER BY 1") == [
            ("application.integration.rate_limit_exceeded", "homer.simpson@duff.com", None),
            ("user.account.reset_password", "system@okta.com", "homer@springfield.gov")]
