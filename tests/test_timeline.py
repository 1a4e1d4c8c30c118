"""The timeline: every kind merged in one total time order, filtered in each kind's
query, flagged with the findings that cite a row; library first, then the command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.analysis.findings import FindingFilter, list_findings, run_packs
from auditlog.analysis.timeline import timeline, timeline_records
from auditlog.cli import app
from auditlog.cli.common import flag
from auditlog.engines.cases import build_fixture
from auditlog.errors import UsageError
from auditlog.pack import load_rules
from auditlog.world import generate_world
from tests.test_attribution import D1, INCIDENT, D, ingest_world

runner = CliRunner()


@pytest.fixture(scope="module")
def incident_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("timeline") / "incident.duckdb"
    build_fixture(db, INCIDENT)
    run_packs(db, load_rules())
    return db


def events(db: Path, **filters: Any) -> list[dict[str, Any]]:
    con = store.connect(db, read_only=True)
    try:
        return timeline_records(timeline(con, **filters))
    finally:
        con.close()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_an_account_in_every_role_across_kinds_in_time_order(incident_db: Path) -> None:
    # eng implemented two changes (approving one itself) and granted a privilege.
    rows = events(incident_db, account="eng")
    assert [(r["ts"], r["kind"], r["event"], r["id"], r["role"]) for r in rows] == [
        ("2026-03-01T10:00:00Z", "changes", "change_started", "CHG-old", "implementer"),
        (f"{D}T14:00:00Z", "privileges", "grant", "P-grant", "granter"),
        (f"{D}T19:30:00Z", "changes", "change_started", "CHG-up", "implementer"),
        (f"{D}T22:00:00Z", "changes", "window_start", "CHG-up", "implementer"),
        (f"{D1}T00:00:00Z", "changes", "window_end", "CHG-up", "implementer"),
    ]
    approver = events(incident_db, account="mgr")
    assert {(r["id"], r["role"]) for r in approver} == {
        ("CHG-old", "approver"), ("CHG-routine", "approver"), ("CHG-rb", "approver"),
        ("CHG-other", "approver"), ("P-old", "approver")}


def test_a_customer_its_actions_charges_and_refunds(incident_db: Path) -> None:
    rows = events(incident_db, customer="C2")
    assert [(r["id"], r["kind"], r["event"], r["role"]) for r in rows] == [
        ("E-free", "actions", "action", "target"),
        ("E-s2", "actions", "action", "target"),
        ("E-s3", "actions", "action", "target"),
        ("CH-2", "charges", "charge", "charged"),
        ("CH-3", "charges", "charge", "charged"),
        ("RF-2a", "charges", "refund", "charged"),
    ]
    refund = rows[-1]
    assert (refund["amount"], refund["currency"], refund["account"]) == ("2.00", "EUR", "C2")
    assert events(incident_db, customer="svc-orders") == []  # not a customer of anything


def test_a_service_account_as_actor_and_directory_entry(incident_db: Path) -> None:
    rows = events(incident_db, account="svc-orders")
    assert [r["id"] for r in rows] == ["P-old", "P-old-r", "P-grant", "E-s1", "E-s2", "E-s3"]
    assert {r["role"] for r in rows} == {"subject", "actor"}


def test_a_time_range_is_half_open_and_kinds_narrow_it(incident_db: Path) -> None:
    rows = events(incident_db, since=utc(f"{D1}T01:20:00"), until=utc(f"{D1}T01:30:00"))
    assert [r["id"] for r in rows] == ["E-s2", "E-s3"]  # CH-2 at 01:30 is outside
    charges = events(incident_db, since=utc(f"{D1}T00:00:00"), kinds=["charges"])
    assert [r["id"] for r in charges] == ["CH-1", "CH-2", "CH-3", "CH-4", "CH-5", "CH-7",
                                          "CH-6", "RF-1", "RF-2a"]
    assert all(r["role"] is None for r in charges)


def test_limit_keeps_the_earliest_rows_of_the_total_order(incident_db: Path) -> None:
    everything = events(incident_db, since=utc("2000-01-01T00:00:00"))
    times = [r["ts"] for r in everything]
    assert times == sorted(times)
    for n in (1, 4, 9, len(everything) + 5):
        assert events(incident_db, since=utc("2000-01-01T00:00:00"), limit=n) == everything[:n]


def test_ties_at_one_instant_order_by_kind_then_event_then_id(tmp_path: Path) -> None:
    t = f"{D}T12:00:00Z"
    db = tmp_path / "ties.duckdb"
    build_fixture(db, {
        "actions": [{"event_id": eid, "ts": t, "actor": "eng", "action": "deploy",
                     "system": "orders"} for eid in ("E-b", "E-a")],
        "charges": [{"charge_id": "CH-9", "ts": t, "account": "eng", "product": "X",
                     "amount": "1.00"}],
        "privileges": [{"event_id": "P-9", "ts": t, "actor": "admin", "subject": "eng",
                        "privilege": "deploy", "operation": "grant"}],
        "changes": [{"change_id": "CHG-9", "system": "orders", "implementer": "eng",
                     "started_at": t, "finished_at": t}],
    })
    rows = events(db, account="eng")
    assert [(r["kind"], r["event"], r["id"]) for r in rows] == [
        ("changes", "change_finished", "CHG-9"), ("changes", "change_started", "CHG-9"),
        ("privileges", "grant", "P-9"), ("actions", "action", "E-a"),
        ("actions", "action", "E-b"), ("charges", "charge", "CH-9")]


def test_rows_are_flagged_with_the_rules_whose_findings_cite_them(incident_db: Path) -> None:
    con = store.connect(incident_db, read_only=True)
    cited: dict[str, set[str]] = {}
    for f in list_findings(con, FindingFilter()).iter_rows(named=True):
        for item in f["evidence"]:
            cited.setdefault(item, set()).add(f["rule_id"])
    con.close()
    rows = events(incident_db, since=utc("2000-01-01T00:00:00"))
    assert {r["id"]: r["rules"] for r in rows if r["rules"]} == {
        item: sorted(rules) for item, rules in cited.items()
        if item in {r["id"] for r in rows}}
    by_id = {r["id"]: r for r in rows}
    assert "unauthorized_unordered_charge" in by_id["CH-2"]["rules"]
    assert by_id["CH-5"]["rules"] == []  # an ordinary counter sale


def test_values_are_bound_never_pasted(incident_db: Path) -> None:
    assert events(incident_db, account="x' OR '1'='1") == []


@pytest.mark.parametrize(("filters", "message"), [
    ({}, "needs --account, --customer, or a time range"),
    ({"account": "a", "customer": "b"}, "not both"),
    ({"account": "a", "kinds": ["orders"]}, "unknown kind orders; use one of"),
    ({"since": utc("2026-03-02T00:00:00"), "until": utc("2026-03-01T00:00:00")}, "not after"),
])
def test_bad_filters_are_usage_errors(incident_db: Path, filters: dict[str, Any],
                                      message: str) -> None:
    # The library names its arguments; the CLI's wording names the flags, as asserted.
    with pytest.raises(UsageError) as info:
        events(incident_db, **filters)
    assert re.search(message, info.value.worded(flag)), info.value.worded(flag)


def test_a_generated_world_every_event_of_an_account_and_nothing_else(tmp_path: Path) -> None:
    world = generate_world(tmp_path / "w", customers=200, seed=23, formats="jsonl",
                           days=21, billing_tz="Asia/Tokyo")
    db = tmp_path / "w.duckdb"
    ingest_world(world.out_dir, db)
    service = world.incident.service_account
    con = store.connect(db, read_only=True)
    frame = timeline(con, account=service)
    ((expected,),) = con.execute("""
        SELECT (SELECT count(*) FROM actions WHERE actor = $a OR target_account = $a)
             + (SELECT count(*) FROM privileges WHERE $a IN (actor, subject, approver))
             + (SELECT count(*) FROM charges WHERE $a IN (account, initiated_by))
             + (SELECT count(*) FROM changes, unnest([started_at, finished_at, window_start,
                window_end]) AS t(moment) WHERE $a IN (implementer, approver) AND moment IS NOT NULL)
             + (SELECT count(*) FROM accounts WHERE $a IN (account, owner, manager)
                AND created_at IS NOT NULL)
             + (SELECT count(*) FROM accounts WHERE $a IN (account, owner, manager)
                AND disabled_at IS NOT NULL)""", {"a": service}).fetchall()
    con.close()
    assert frame.height == expected > 0
    assert frame["ts"].is_sorted()
    assert set(frame["kind"]) == {"actions", "privileges", "charges", "accounts"}
    grants = frame.filter(frame["id"] == world.incident.grant_event_id)
    assert grants["role"].to_list() == ["subject"]


def test_command_json_is_the_library_records(incident_db: Path) -> None:
    result = runner.invoke(app, ["timeline", "--db", str(incident_db), "--customer", "C2",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == events(incident_db, customer="C2")


def test_command_table_groups_by_day_and_flags_evidence(incident_db: Path) -> None:
    result = runner.invoke(app, ["timeline", "--db", str(incident_db), "--account",
                                 "svc-orders", "--kind", "actions", "--limit", "2"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    # A cut keeps where the run of like events starts and stops, and says what it left
    # out where it was and, last, how much.
    assert D1 in result.stdout and "E-s1" in result.stdout and "E-s3" in result.stdout
    assert "E-s2" not in result.stdout and "1 more event(s) not shown" in result.stdout
    assert "! " in result.stdout  # E-s1 is evidence of a finding
    # Said last, after every event (a console may wrap it: read the words).
    words = " ".join(result.stdout.split())
    assert words.rfind("showing 2 of 3 events") > words.rfind("E-s3")
    assert words.endswith("--limit N shows N")


def test_command_json_cut_is_the_earliest_and_says_so(incident_db: Path) -> None:
    result = runner.invoke(app, ["timeline", "--db", str(incident_db), "--account",
                                 "svc-orders", "--kind", "actions", "--limit", "2",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.stdout)] == ["E-s1", "E-s2"]
    assert "the first 2 events" in result.stderr


def test_command_without_a_filter_says_so_in_one_line(incident_db: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "auditlog", "timeline", "--db",
                           str(incident_db)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "time range" in proc.stderr
