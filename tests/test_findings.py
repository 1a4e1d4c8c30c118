"""The findings store: stable ids across runs, new and disappeared findings, triage
kept across runs, filters, and the exact JSON of the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.analysis.findings import (
    FindingFilter,
    findings_records,
    list_findings,
    run_packs,
    triage,
)
from auditlog.cli import app
from auditlog.engines.cases import build_fixture
from auditlog.errors import UsageError
from auditlog.pack import load_rules
from tests.test_attribution import INCIDENT


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "f.duckdb"
    build_fixture(path, INCIDENT)
    return path


def stored(db: Path, flt: FindingFilter | None = None) -> list[dict]:
    con = store.connect(db, read_only=True)
    rows = findings_records(list_findings(con, flt or FindingFilter()))
    con.close()
    return rows


def test_same_findings_same_ids_and_nothing_new_on_rerun(db: Path) -> None:
    first = run_packs(db, load_rules())
    ids = [r["finding_id"] for r in stored(db)]
    second = run_packs(db, load_rules())
    assert first.new and sorted(first.new) == sorted(ids)
    assert (second.new, second.disappeared) == ([], [])
    assert [r["finding_id"] for r in stored(db)] == ids


def test_refund_makes_a_finding_disappear_and_triage_survives(db: Path) -> None:
    rules = load_rules()
    run_packs(db, rules)
    unrefunded = stored(db, FindingFilter(rules=("unrefunded_anomalous_charge",)))
    by_key = {r["evidence"][0]: r["finding_id"] for r in unrefunded}
    triage(db, by_key["CH-6"], "acknowledged", "customer called")
    con = store.connect(db)
    con.execute("INSERT INTO charges (charge_id, ts, account, product, amount, type, refund_of)"
                " VALUES ('RF-3', '2026-03-16T00:00:00Z', 'C2', 'ADDON', 4.99, 'refund', 'CH-3')")
    con.close()
    report = run_packs(db, rules)
    assert report.disappeared == [by_key["CH-3"]]
    (kept,) = [r for r in stored(db) if r["finding_id"] == by_key["CH-6"]]
    assert (kept["status"], kept["note"]) == ("acknowledged", "customer called")


def test_triage_rejects_unknown_status_and_id(db: Path) -> None:
    run_packs(db, load_rules())
    with pytest.raises(UsageError, match="use one of"):
        triage(db, stored(db)[0]["finding_id"], "done", None)
    with pytest.raises(UsageError, match="no finding"):
        triage(db, "F-0000000000000000", "resolved", None)


def test_filters(db: Path) -> None:
    run_packs(db, load_rules())
    critical = stored(db, FindingFilter(severity="critical"))
    assert critical and {r["severity"] for r in critical} == {"critical"}
    high_up = stored(db, FindingFilter(severity="high"))
    assert {r["severity"] for r in high_up} == {"high", "critical"}
    assert {r["actor"] for r in stored(db, FindingFilter(actor="op-bad"))} == {"op-bad"}
    assert all(r["change_id"] == "CHG-up" for r in stored(db, FindingFilter(change_id="CHG-up")))
    assert stored(db, FindingFilter(status="resolved")) == []


def test_json_values_follow_the_contract(db: Path) -> None:
    run_packs(db, load_rules())
    row = next(r for r in stored(db) if r["rule_id"] == "unauthorized_order_charge"
               and r["evidence"][0] == "CH-1")
    assert row["amount"] == "4.99" and row["ts"] == "2026-03-11T01:15:00Z"
    assert row["evidence"] == ["CH-1", "CHG-up", "E-s1"]
    assert row["change_id"] == "CHG-up" and row["actor"] == "svc-orders"


def test_cli_run_fail_on_and_findings_json(db: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["run", "--db", str(db), "--pack", "change", "--rule",
                             "change_outside_window", "--fail-on", "critical"])
    assert ok.exit_code == 0, ok.output
    failing = runner.invoke(app, ["run", "--db", str(db), "--fail-on", "high"])
    assert failing.exit_code == 1
    listed = runner.invoke(app, ["findings", "--db", str(db), "--format", "json",
                                 "--rule", "change_outside_window"])
    assert listed.exit_code == 0
    (finding,) = json.loads(listed.stdout)
    assert finding["change_id"] == "CHG-up" and finding["finding_id"].startswith("F-")
