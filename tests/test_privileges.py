"""Who held what at any moment: the privilege intervals (queries/shared/
privilege_intervals.sql) through Investigation.privileges and `auditlog privileges`, on
grants, revocations, expiry, regrants, disabled accounts, Kubernetes bindings, CloudTrail
policies and the generated incident worlds."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

import auditlog
from auditlog.cli import app
from auditlog.ingest.world import sample_logs_dir
from auditlog.world import generate_world

DATA = Path(__file__).parent / "data"
PRIVILEGE_HEADER = "event_id,ts,actor,subject,privilege,operation,system,ticket,approver,expires_at"


def write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def database(tmp_path: Path, privileges: list[str], *, accounts: list[str] = (),
             actions: list[str] = ()) -> Path:
    """A database holding these privilege rows (and directory and action rows)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    write(logs / "privileges.csv", PRIVILEGE_HEADER, *privileges)
    if accounts:
        write(logs / "accounts.csv", "account,account_type,disabled_at", *accounts)
    if actions:
        write(logs / "actions.csv", "event_id,ts,actor,action,system,target_account,result",
              *actions)
    db = tmp_path / "x.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest(logs)
    return db


def held(db: Path, at: str, **filters: Any) -> list[dict[str, Any]]:
    with auditlog.open(db) as inv:
        return inv.privileges(as_of=at, **filters)["intervals"]


def intervals(db: Path, **filters: Any) -> list[dict[str, Any]]:
    with auditlog.open(db) as inv:
        return inv.privileges(between=("2000-01-01", "2100-01-01"), **filters)["intervals"]


def test_a_grant_holds_until_its_revocation(tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,erp,T-1,carol,",
        "R1,2026-03-05T10:00:00Z,boss,alice,admin,revoke,erp,,,"])
    assert held(db, "2026-03-01T09:59:59Z") == []
    [at_grant] = held(db, "2026-03-01T10:00:00Z")
    assert (at_grant["grant_event_id"], at_grant["granter"], at_grant["approver"],
            at_grant["ticket"]) == ("G1", "boss", "carol", "T-1")
    assert (at_grant["ended_at"], at_grant["end_reason"], at_grant["end_event_id"]) == (
        "2026-03-05T10:00:00Z", "revoked", "R1")
    assert held(db, "2026-03-05T09:59:59Z") and held(db, "2026-03-05T10:00:00Z") == []


def test_a_temporary_grant_ends_at_its_expiry_or_an_earlier_revocation(tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,erp,T-1,carol,2026-03-02T10:00:00Z",
        "G2,2026-03-01T10:00:00Z,boss,bob,admin,grant,erp,T-1,carol,2026-03-09T10:00:00Z",
        "R2,2026-03-03T10:00:00Z,boss,bob,admin,revoke,erp,,,"])
    by_account = {i["account"]: i for i in intervals(db)}
    assert (by_account["alice"]["ended_at"], by_account["alice"]["end_reason"]) == (
        "2026-03-02T10:00:00Z", "expired")
    assert by_account["alice"]["end_event_id"] is None
    assert (by_account["bob"]["ended_at"], by_account["bob"]["end_reason"]) == (
        "2026-03-03T10:00:00Z", "revoked")
    assert [i["account"] for i in held(db, "2026-03-02T12:00:00Z")] == ["bob"]


def test_a_regrant_while_held_extends_the_interval_and_after_a_revocation_starts_one(
        tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,erp,T-1,carol,2026-03-02T10:00:00Z",
        # a regrant before the expiry, without one: held on past the first expiry
        "G2,2026-03-02T09:00:00Z,boss,alice,admin,grant,erp,T-2,carol,",
        "G3,2026-03-02T09:00:00Z,boss,alice,admin,grant,erp,T-2,carol,",  # a duplicate grant
        "R1,2026-03-04T10:00:00Z,boss,alice,admin,revoke,erp,,,",
        "G4,2026-03-06T10:00:00Z,boss,alice,admin,grant,erp,T-3,carol,"])
    first, second = intervals(db, account="alice")
    assert (first["grant_event_id"], first["grants"], first["last_grant_event_id"]) == (
        "G1", 3, "G3")
    assert (first["held_from"], first["ended_at"], first["end_reason"]) == (
        "2026-03-01T10:00:00Z", "2026-03-04T10:00:00Z", "revoked")
    assert held(db, "2026-03-03T00:00:00Z")[0]["grant_event_id"] == "G1"
    assert held(db, "2026-03-05T00:00:00Z") == []
    assert (second["grant_event_id"], second["grants"], second["ended_at"]) == ("G4", 1, None)


def test_a_grant_after_the_first_expired_is_a_new_interval(tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,erp,T-1,carol,2026-03-02T10:00:00Z",
        "G2,2026-03-03T10:00:00Z,boss,alice,admin,grant,erp,T-2,carol,"])
    assert [(i["grant_event_id"], i["end_reason"]) for i in intervals(db)] == [
        ("G1", "expired"), ("G2", None)]
    assert held(db, "2026-03-02T12:00:00Z") == []


def test_a_disabled_account_holds_nothing(tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,erp,T-1,carol,",
        "G2,2026-03-10T10:00:00Z,boss,alice,crm:read,grant,crm,T-2,carol,",  # after disabling
        "G3,2026-03-01T10:00:00Z,boss,bob,admin,grant,erp,T-1,carol,"],
        accounts=["alice,human,2026-03-05T00:00:00Z", "bob,human,"])
    [alice] = intervals(db, account="alice")
    assert (alice["grant_event_id"], alice["ended_at"], alice["end_reason"]) == (
        "G1", "2026-03-05T00:00:00Z", "account_disabled")
    assert [i["account"] for i in held(db, "2026-03-11T00:00:00Z")] == ["bob"]


def test_disabling_and_enabling_actions_cut_the_interval_and_resume_it(tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,,T-1,carol,"],
        actions=[
            "A1,2026-03-03T10:00:00Z,it-admin,disabled-user-account,ad,alice,success",
            "A2,2026-03-03T11:00:00Z,it-admin,disabled-user-account,ad,alice,success",
            "A3,2026-03-06T10:00:00Z,it-admin,enabled-user-account,ad,alice,success",
            # a failed disabling disabled nothing
            "A4,2026-03-07T10:00:00Z,it-admin,disabled-user-account,ad,alice,failure"])
    before, after = intervals(db, account="alice")
    assert (before["ended_at"], before["end_reason"], before["end_event_id"]) == (
        "2026-03-03T10:00:00Z", "account_disabled", "A1")
    assert (after["held_from"], after["start_reason"], after["grant_event_id"],
            after["ended_at"]) == ("2026-03-06T10:00:00Z", "account_enabled", "G1", None)
    assert held(db, "2026-03-04T00:00:00Z") == []
    assert held(db, "2026-03-08T00:00:00Z")[0]["grant_event_id"] == "G1"


def test_a_privilege_on_any_system_counts_for_every_system(tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,,T-1,carol,",
        "G2,2026-03-01T10:00:00Z,boss,alice,read,grant,crm,T-1,carol,",
        "G3,2026-03-01T10:00:00Z,boss,alice,write,grant,erp,T-1,carol,"])
    assert [i["privilege"] for i in held(db, "2026-03-02", system="erp")] == ["admin", "write"]
    assert [i["privilege"] for i in held(db, "2026-03-02", privilege="read")] == ["read"]


def test_a_kubernetes_binding_holds_until_it_is_deleted(tmp_path: Path) -> None:
    db = tmp_path / "k8s.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest(DATA / "k8s_audit" / "falco_k8s_audit_rbac_sample.jsonl")
        everything = inv.privileges(between=("2000-01-01", "2100-01-01"))["intervals"]
    bound = [i for i in everything if i["end_reason"] == "revoked"]
    assert bound, "the sample creates a binding and deletes it"
    for interval in bound:
        assert interval["source_format"] == "k8s" and interval["carries_approval"] is False
        ended = interval["ended_at"]
        inside = held(db, interval["held_from"], account=interval["account"],
                      privilege=interval["privilege"])
        assert [i["grant_event_id"] for i in inside] == [interval["grant_event_id"]]
        assert held(db, ended, account=interval["account"],
                    privilege=interval["privilege"]) == []
        with duckdb.connect(str(db), read_only=True) as con:
            [(action,)] = con.execute("SELECT action FROM actions WHERE event_id = ?",
                                      [interval["end_event_id"]]).fetchall()
        assert action.startswith("delete ") and action.endswith("rolebindings")


def test_a_cloudtrail_policy_attached_then_detached(tmp_path: Path) -> None:
    # The real AttachUserPolicy of Stratus Red Team's iam-create-admin-user, and its
    # DetachUserPolicy twin (the same record with the detaching call's name, id and time:
    # the samples hold no detach), as CloudTrail writes both.
    records = json.loads((DATA / "cloudtrail" /
                          "stratus_aws.persistence.iam-create-admin-user.json").read_text())
    [attach] = [r for r in records if r["eventName"] == "AttachUserPolicy"]
    detach = {**attach, "eventName": "DetachUserPolicy", "eventTime": "2024-08-01T14:00:00Z",
              "eventID": "00000000-0000-4000-8000-000000000001"}
    logs = tmp_path / "ct"
    logs.mkdir()
    (logs / "trail.json").write_text(json.dumps({"Records": [attach, detach]}))
    db = tmp_path / "ct.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest(logs)
    user = attach["requestParameters"]["userName"]
    policy = attach["requestParameters"]["policyArn"]
    [interval] = intervals(db, account=user)
    assert (interval["privilege"], interval["grant_event_id"], interval["end_event_id"],
            interval["source_format"]) == (policy, attach["eventID"], detach["eventID"],
                                           "cloudtrail")
    assert held(db, "2024-08-01T13:59:59Z", account=user)
    assert held(db, "2024-08-01T14:00:00Z", account=user) == []


@pytest.mark.parametrize("world", ["sample", "generated"])
def test_the_incident_service_account_holds_its_privilege_from_the_grant_on(
        tmp_path: Path, world: str) -> None:
    root = sample_logs_dir() if world == "sample" else tmp_path / "world"
    if world == "generated":
        generate_world(root, seed=23, customers=400, days=22)
    truth = json.loads((Path(root) / "ground_truth" / "incident.json").read_text())
    grant = truth["privilege_grant"]
    db = tmp_path / "world.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest_world(root)

    def holds(at: str) -> list[dict[str, Any]]:
        return held(db, at, account=truth["service_account"], privilege=grant["privilege"],
                    system=grant["system"])

    instant = datetime.fromisoformat(grant["ts"])
    just_before = (instant - timedelta(seconds=1)).isoformat()
    assert holds(just_before) == []
    [after] = holds(grant["ts"])
    assert (after["grant_event_id"], after["granter"], after["ticket"]) == (
        grant["event_id"], grant["actor"], grant["ticket"])
    assert after["end_event_id"] == truth["privilege_revoke_event_id"]
    assert holds(after["ended_at"]) == []


def run_cli(db: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["privileges", *args, "--db", str(db)],
                                env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result.output


def test_cli_table_fits_80_columns_with_ids_whole(tmp_path: Path) -> None:
    long_id = "grant-" + "x" * 30
    db = database(tmp_path, [
        f"{long_id},2026-03-01T10:00:00Z,boss,svc-a-very-long-service-account-name,"
        + "arn:aws:iam::aws:policy/AdministratorAccess,grant,,,,"])
    text = run_cli(db, "--as-of", "2026-03-02")
    assert max(len(line) for line in text.splitlines()) <= 80
    lines = text.splitlines()
    grant_column = lines[1].index("grant")  # a long id folds onto the next lines, whole
    assert long_id in "".join(line[grant_column:].strip() for line in lines[3:])
    assert "no ticket or approver" in text


def test_cli_json_is_exact_and_csv_is_formula_safe(tmp_path: Path) -> None:
    db = database(tmp_path, [
        "G1,2026-03-01T10:00:00+02:00,boss,alice,=HYPERLINK(1),grant,erp,T-1,carol,"])
    doc = json.loads(run_cli(db, "--as-of", "2026-03-02", "--format", "json"))
    assert doc["as_of"] == "2026-03-02T00:00:00Z" and doc["total"] == 1
    assert doc["intervals"][0]["held_from"] == "2026-03-01T08:00:00Z"
    rows = list(csv.DictReader(io.StringIO(run_cli(db, "--between", "2026-03-01",
                                                   "2026-03-03", "--format", "csv"))))
    assert rows[0]["privilege"] == "'=HYPERLINK(1)" and rows[0]["grant_event_id"] == "G1"


@pytest.mark.parametrize(("args", "says"), [
    ((), "give either --as-of T or --between T1 T2"),
    (("--as-of", "2026-03-02", "--between", "2026-03-01", "2026-03-03"), "give either"),
    (("--as-of", "yesterday"), "--as-of 'yesterday' is not an ISO 8601 time"),
    (("--between", "2026-03-03", "2026-03-01"), "the second time is not after the first"),
])
def test_cli_bad_input_is_one_sentence_and_exit_2(tmp_path: Path, args: tuple[str, ...],
                                                  says: str) -> None:
    db = database(tmp_path, ["G1,2026-03-01T10:00:00Z,boss,alice,admin,grant,erp,T-1,carol,"])
    # Through the console script's entry point, which words the library's error.
    result = subprocess.run([sys.executable, "-m", "auditlog", "privileges", *args,
                             "--db", str(db)], check=False, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"})
    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_report_lists_the_incident_grant_among_the_permissions_to_harden(
        tmp_path: Path) -> None:
    from auditlog.report.accountability import accountability
    from auditlog.report.markdown import render_markdown

    truth = json.loads((Path(sample_logs_dir()) / "ground_truth" / "incident.json").read_text())
    grant = truth["privilege_grant"]
    db = tmp_path / "sample.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest_world(sample_logs_dir())
    with duckdb.connect(str(db)) as con:
        report = accountability(con)
    [item] = [h for h in report.harden if h.account == truth["service_account"]
              and h.privilege == grant["privilege"]]
    assert "no_approval" in item.flags and item.reasons
    assert report.harden[0].flags  # flagged ones only, the most urgent first
    text = render_markdown(report)
    assert "## Permissions to harden" in text and grant["privilege"] in text


def test_workspace_lifecycle_events_at_one_instant_leave_the_account_enabled(
        tmp_path: Path) -> None:
    # The real Workspace excerpt suspends, deletes, undeletes and unsuspends one user at
    # the same instant it grants it roles: enabled at the end, so the roles are held,
    # once each (no interval doubled by the zero-length disabled period).
    db = tmp_path / "ws.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest(DATA / "workspace")
    with duckdb.connect(str(db), read_only=True) as con:
        [(turns,)] = con.execute(
            "SELECT count(*) FROM actions WHERE action IN ('SUSPEND_USER', 'DELETE_USER', "
            "'UNSUSPEND_USER', 'UNDELETE_USER') AND result = 'success'").fetchall()
    assert turns == 4
    everything = intervals(db)
    assert everything and all(i["ended_at"] is None and i["start_reason"] == "granted"
                              for i in everything)
    keys = [(i["account"], i["privilege"], i["system"]) for i in everything]
    assert len(keys) == len(set(keys))
    assert "Super Admin" in {i["privilege"] for i in everything}
