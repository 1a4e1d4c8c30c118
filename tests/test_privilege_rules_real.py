"""The privilege pack on real records of the new sources (issue 12, item 6): self-grants
and actions after a revoke fire where they should, on records taken from the real
samples in tests/data/ and changed only where the scenario needs it (who acted, when),
each then read through its source's adapter; the unchanged records stay quiet.

Admin grants on each real sample are asserted in that source's own test module
(test_standard_<source>.py); grants without approval stay quiet on every source that
cannot carry an approval (`extra.source_carries_approval = false`), asserted here too."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app

DATA = Path(__file__).parent / "data"
runner = CliRunner()

Record = dict[str, Any]


def line(path: str, n: int) -> Record:
    """Line n (from 1) of a JSON Lines sample."""
    text = (DATA / path).read_text(encoding="utf-8")
    return dict(json.loads(text.splitlines()[n - 1]))


@dataclass(frozen=True)
class Source:
    """How one source's real records are turned into a scenario."""

    grant: Callable[[], Record]  # a real grant of `privilege` to `subject`
    revoke: Callable[[], Record]  # a real (or, if the sample has none, mirrored) revoke
    action: Callable[[], Record]  # a real action of some other account
    subject: str  # the grant's subject as the adapter names it
    subject_raw: Callable[[Record], Record]  # the grant, acted by its subject (raw form)
    acted_by_subject: Callable[[Record], Record]  # the action, by the grant's subject
    at: Callable[[Record, datetime], Record]  # the record at another time, with a new id
    name: str  # the sample file name the records are written under


def _okta_at(r: Record, t: datetime) -> Record:
    r = copy.deepcopy(r)
    r["published"] = t.isoformat().replace("+00:00", "Z")
    r["uuid"] = f"{r['uuid']}-{int(t.timestamp())}"
    return r


def _okta_revoke() -> Record:
    # The sample holds an add; Okta logs the removal as group.user_membership.remove.
    r = line("okta/xsoar_group_user_membership_add.jsonl", 1)
    r.update(eventType="group.user_membership.remove",
             legacyEventType="core.user_group_member.user_remove",
             displayMessage="Remove user from group membership")
    return r


def _okta_as(r: Record, login: str, okta_id: str) -> Record:
    r = copy.deepcopy(r)
    r["actor"] = {**r["actor"], "alternateId": login, "id": okta_id}
    return r


def _github_at(r: Record, t: datetime) -> Record:
    r = copy.deepcopy(r)
    r["created_at"] = int(t.timestamp() * 1000)
    return r


def _workspace_at(r: Record, t: datetime) -> Record:
    r = copy.deepcopy(r)
    r["id"] = {**r["id"], "time": t.isoformat().replace("+00:00", "Z"),
               "uniqueQualifier": f"{r['id']['uniqueQualifier']}{int(t.timestamp())}"}
    return r


def _workspace_as(r: Record, email: str) -> Record:
    r = copy.deepcopy(r)
    r["actor"] = {**r["actor"], "email": email}
    return r


def _gcp_at(r: Record, t: datetime) -> Record:
    r = copy.deepcopy(r)
    r["timestamp"] = t.isoformat().replace("+00:00", "Z")
    r["insertId"] = f"{r['insertId']}-{int(t.timestamp())}"
    return r


def _gcp_as(r: Record, email: str) -> Record:
    r = copy.deepcopy(r)
    r["protoPayload"]["authenticationInfo"] = {"principalEmail": email}
    return r


def _gcp_revoke() -> Record:
    # The sample's owner grant to backdoor@example.com, its delta turned into a removal.
    r = line("gcp/panther_gcp_audit.jsonl", 1)
    for delta in r["protoPayload"]["serviceData"]["policyDelta"]["bindingDeltas"]:
        delta["action"] = "REMOVE"
    return r


SOURCES: dict[str, Source] = {
    # demisto/content's captured group.user_membership.add; an Okta sign-in from beats.
    "okta": Source(
        grant=lambda: line("okta/xsoar_group_user_membership_add.jsonl", 1),
        revoke=_okta_revoke,
        action=lambda: line("okta/beats_okta-system-test.json.log", 2),
        subject="test@this.com",
        subject_raw=lambda r: _okta_as(r, "Test@This.com", "00ued6gq9jItNhAsN0h7"),
        acted_by_subject=lambda r: _okta_as(r, "test@this.com", "00ued6gq9jItNhAsN0h7"),
        at=_okta_at, name="okta.jsonl"),
    # A team.add_member / team.remove_member pair of the same user and team, and a
    # repo.create, all from the GitHub org audit samples.
    "github": Source(
        grant=lambda: line("github/org_audit_head.jsonl", 19),
        revoke=lambda: line("github/org_audit_2021.jsonl", 7),
        action=lambda: line("github/org_audit_2021.jsonl", 1),
        subject="github-user",
        subject_raw=lambda r: {**r, "actor": "GitHub-User"},
        acted_by_subject=lambda r: {**r, "actor": "github-user"},
        at=_github_at, name="github.jsonl"),
    # GRANT_ / REVOKE_ADMIN_PRIVILEGE (Super Admin) and a CREATE_USER, Filebeat's fixtures.
    "workspace": Source(
        grant=lambda: line("workspace/beats_admin-user-test.excerpt.json.log", 1),
        revoke=lambda: line("workspace/beats_admin-user-test.excerpt.json.log", 2),
        action=lambda: line("workspace/beats_admin-user-test.excerpt.json.log", 4),
        subject="user@example.com",
        subject_raw=lambda r: _workspace_as(r, "User@Example.com"),
        acted_by_subject=lambda r: _workspace_as(r, "user@example.com"),
        at=_workspace_at, name="workspace.jsonl"),
    # Panther's roles/owner grant to backdoor@example.com and a service-account creation.
    "gcp": Source(
        grant=lambda: line("gcp/panther_gcp_audit.jsonl", 1),
        revoke=_gcp_revoke,
        action=lambda: line("gcp/panther_gcp_audit.jsonl", 7),
        subject="backdoor@example.com",
        subject_raw=lambda r: _gcp_as(r, "backdoor@example.com"),
        acted_by_subject=lambda r: _gcp_as(r, "backdoor@example.com"),
        at=_gcp_at, name="gcp.jsonl"),
}

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run_rules(tmp_path: Path, records: list[Record], name: str,
              *rules: str) -> list[dict[str, Any]]:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    db = str(tmp_path / "t.duckdb")
    for args in (["ingest", str(path), "--db", db],
                 ["run", "--db", db, *[a for r in rules for a in ("--rule", r)]]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    found = runner.invoke(app, ["findings", "--db", db, "--format", "json"])
    assert found.exit_code == 0, found.output
    return list(json.loads(found.stdout))


def event_ids(tmp_path: Path, kind: str) -> dict[str, str]:
    """The stored rows of a kind by time: iso time → event id."""
    con = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    try:
        return dict(con.execute(f"SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S'), "
                                f"event_id FROM {kind}").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("source", SOURCES)
def test_a_grant_by_its_own_subject_is_a_self_grant(tmp_path: Path, source: str) -> None:
    s = SOURCES[source]
    # The subject grants itself, writing its name as the source may (another case).
    grant = s.at(s.subject_raw(s.grant()), T0)
    findings = run_rules(tmp_path, [grant], s.name, "self_grant", "grant_without_approval")
    (only,) = event_ids(tmp_path, "privileges").values()
    assert [(f["rule_id"], f["actor"], f["account"], f["evidence"]) for f in findings] == [
        ("self_grant", s.subject, s.subject, [only])]


@pytest.mark.parametrize("source", SOURCES)
def test_the_real_grant_is_no_self_grant(tmp_path: Path, source: str) -> None:
    s = SOURCES[source]
    assert run_rules(tmp_path, [s.grant()], s.name, "self_grant",
                     "grant_without_approval") == []


@pytest.mark.parametrize("source", SOURCES)
def test_what_the_grant_enabled_after_its_revoke_fires(tmp_path: Path, source: str) -> None:
    s = SOURCES[source]
    act = s.acted_by_subject(s.action())
    records = [
        s.at(s.grant(), T0),
        s.at(act, T0 + timedelta(hours=1)),  # first done while the grant is held
        s.at(s.revoke(), T0 + timedelta(hours=2)),
        s.at(act, T0 + timedelta(hours=3)),  # and again once it was revoked
    ]
    findings = run_rules(tmp_path, records, s.name, "action_after_revoke")
    after = event_ids(tmp_path, "actions")[(T0 + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")]
    assert [(f["rule_id"], f["actor"], f["evidence"]) for f in findings] == [
        ("action_after_revoke", s.subject, [after])]


@pytest.mark.parametrize("source", SOURCES)
def test_an_action_the_subject_did_before_the_grant_is_routine(
        tmp_path: Path, source: str) -> None:
    s = SOURCES[source]
    act = s.acted_by_subject(s.action())
    records = [
        s.at(act, T0 - timedelta(hours=1)),  # its routine, before any grant
        s.at(s.grant(), T0),
        s.at(act, T0 + timedelta(hours=1)),
        s.at(s.revoke(), T0 + timedelta(hours=2)),
        s.at(act, T0 + timedelta(hours=3)),
    ]
    assert run_rules(tmp_path, records, s.name, "action_after_revoke") == []


def test_the_okta_group_membership_sample_loads_as_one_grant(tmp_path: Path) -> None:
    path = DATA / "okta/xsoar_group_user_membership_add.jsonl"
    db = str(tmp_path / "t.duckdb")
    result = runner.invoke(app, ["ingest", str(path), "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (1, 1, 0)
    con = duckdb.connect(db, read_only=True)
    try:
        assert con.execute(
            "SELECT event_id, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%g'), actor, "
            "subject, privilege, operation, system, extra ->> '$.subject_okta_id', "
            "extra ->> '$.privilege_id', extra ->> '$.actor_raw.alternateId' FROM privileges"
        ).fetchall() == [(
            "5741ef53-d699-11e9-a08c-d549acc8afb2", "2019-09-14T02:42:49.379", "test@demisto.com",
            "test@this.com", "test1", "grant", None, "00ued6gq9jItNhAsN0h7",
            "00g8mo0l5wuTxmoIC0h7", "Test@demisto.com")]
        assert con.execute("SELECT count(*) FROM actions").fetchone() == (0,)
    finally:
        con.close()
