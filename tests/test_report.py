"""The accountability report: its figures are the generator's ground truth on the sample
and on a world of another seed; controls, accounts, timeline and chart come from the
data; Markdown is deterministic and escapes table cells; HTML escapes every value and
loads nothing; the command writes what it says."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.analysis.findings import run_packs
from auditlog.cli import app
from auditlog.engines.cases import build_fixture
from auditlog.errors import UsageError
from auditlog.ingest.world import load_world, sample_logs_dir
from auditlog.pack import load_rules
from auditlog.report.accountability import accountability
from auditlog.report.html import render_html
from auditlog.report.markdown import render_markdown
from auditlog.report.model import Report
from auditlog.world import generate_world

runner = CliRunner()

# The ground truth names failed controls in its own words; the report's checks by theirs.
TRUTH_CHECKS = {"separation_of_duties": "self_approval", "outside_window": "outside_window"}


def loaded_db(world: Path, db: Path) -> Path:
    con = store.connect(db)
    try:
        load_world(con, world)
    finally:
        con.close()
    run_packs(db, load_rules())
    return db


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    db = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    return sample_logs_dir(), loaded_db(sample_logs_dir(), db)


@pytest.fixture(scope="module")
def other_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    world = tmp_path_factory.mktemp("world41")
    generate_world(world, customers=700, seed=41, days=21, formats="mixed",
                   billing_tz="America/New_York")
    return world, loaded_db(world, tmp_path_factory.mktemp("db41") / "w.duckdb")


@cache
def report_of(db: Path, change_id: str | None = None) -> Report:
    """The report of a database (computed once per test module; tests only read it)."""
    return fresh_report(db, change_id)


def fresh_report(db: Path, change_id: str | None = None) -> Report:
    con = store.connect(db, read_only=True)
    try:
        return accountability(con, change_id)
    finally:
        con.close()


def truth_of(world: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    incident = json.loads((world / "ground_truth" / "incident.json").read_text())
    with (world / "ground_truth" / "remediation.csv").open(newline="", encoding="utf-8") as f:
        return incident, list(csv.DictReader(f))


@pytest.fixture(params=["sample_db", "other_db"])
def world_db(request: pytest.FixtureRequest) -> tuple[Path, Path]:
    pair: tuple[Path, Path] = request.getfixturevalue(request.param)
    return pair


def test_summary_is_the_ground_truth(world_db: tuple[Path, Path]) -> None:
    world, db = world_db
    truth, rows = truth_of(world)
    s = report_of(db).as_json()["summary"]
    assert (s["charges"], s["amount"]) == (truth["anomalous_charges"], truth["anomalous_amount"])
    assert (s["outstanding_charges"], s["outstanding_amount"]) == (
        truth["outstanding_refunds"], truth["outstanding_amount"])
    assert s["customers"] == len({r["account"] for r in rows})
    assert s["stacked_customers"] == truth["stacked_customers"]
    assert s["refunded_charges"] == sum(r["refunded"] == "true" for r in rows)
    assert Decimal(s["refunded_amount"]) + Decimal(s["outstanding_amount"]) == Decimal(s["amount"])
    assert s["currency"] == truth["currency"]
    assert s["first_cause_time"] == min(r["cause_time"] for r in rows)


def test_parties_and_accounts_are_the_ground_truth_causes(world_db: tuple[Path, Path]) -> None:
    world, db = world_db
    truth, _ = truth_of(world)
    report = report_of(db).as_json()
    accounts = {a["account"]: a for a in report["accounts"]}
    assert set(accounts) == {c["actor"] for c in truth["causes"]}
    for cause in truth["causes"]:
        impact = accounts[cause["actor"]]["impact"]
        assert (impact["charges"], impact["customers"], impact["amount"]) == (
            cause["charges"], cause["customers"], cause["amount"])
        assert (impact["outstanding_charges"], impact["outstanding_amount"]) == (
            cause["outstanding_charges"], cause["outstanding_amount"])
        assert accounts[cause["actor"]]["change_ids"] == (
            [cause["change_id"]] if cause["change_id"] else [])
    # The operator acted on its own: listed, with no change, still accountable.
    operator = accounts[truth["operator"]]
    assert operator["change_ids"] == [] and operator["directory"]["manager"]
    assert truth["operator"] in report["summary"]["unattributed_accounts"]


def test_responsible_change_its_approval_window_rollback_and_controls(
        world_db: tuple[Path, Path]) -> None:
    world, db = world_db
    truth, _ = truth_of(world)
    expected = truth["responsible_change"]
    (change,) = report_of(db).as_json()["changes"]
    assert change["change_id"] == expected["change_id"]
    for key in ("implementer", "approver", "ticket", "window_start", "window_end", "started_at"):
        assert change[key] == expected[key], key
    assert change["rollback"]["change_id"] == truth["rollback_change"]["change_id"]
    assert change["rollback"]["started_at"] == truth["rollback_change"]["started_at"]
    checks = {c["check"] for c in change["controls"]}
    assert {TRUTH_CHECKS[name] for name in expected["failed_controls"]} <= checks
    assert "no_approval" not in checks
    by_check = {c["check"]: c for c in change["controls"]}
    assert [r["rule_id"] for r in by_check["self_approval"]["rules"]] == ["change_self_approved"]
    assert by_check["self_approval"]["control"] == "separation-of-duties"
    assert [r["rule_id"] for r in by_check["outside_window"]["rules"]] == ["change_outside_window"]
    assert change["grants"] == [truth["privilege_grant"]["event_id"]]


def test_service_account_grant_who_gave_it_and_what_failed(world_db: tuple[Path, Path]) -> None:
    world, db = world_db
    truth, _ = truth_of(world)
    grant_truth = truth["privilege_grant"]
    account = {a["account"]: a for a in report_of(db).as_json()["accounts"]}[truth["service_account"]]
    (grant,) = account["grants"]
    assert (grant["id"], grant["privilege"], grant["granter"], grant["granted_at"]) == (
        grant_truth["event_id"], grant_truth["privilege"], grant_truth["actor"], grant_truth["ts"])
    assert grant["ticket"] is None and grant["approver"] is None
    checks = {c["check"]: c for c in grant["controls"]}
    assert checks["grant_without_ticket_or_approver"]["rules"][0]["rule_id"] == (
        "grant_without_approval")
    assert account["directory"]["owner"]
    assert any(a["action"] == "subscribe" and a["during"] for a in account["activity"])


def test_timeline_orders_grant_change_surge_rollback_refunds(world_db: tuple[Path, Path]) -> None:
    world, db = world_db
    truth, _ = truth_of(world)
    events = report_of(db).as_json()["timeline"]
    times = [e["time"] for e in events]
    assert times == sorted(times)
    first: dict[str, str] = {}
    for e in events:
        first.setdefault(e["kind"], e["time"])
    service = next(c for c in truth["causes"] if c["actor"] == truth["service_account"])
    assert first["grant"] == truth["privilege_grant"]["ts"]
    assert truth["responsible_change"]["started_at"] in times
    assert service["first_cause_time"] in times
    assert first["rollback"] == truth["rollback_change"]["started_at"]
    assert first["grant"] < truth["responsible_change"]["started_at"] < first["peak"]
    assert first["refund"] > service["first_cause_time"]
    assert {"anomaly", "peak", "refund", "revoke", "window"} <= set(first)


def test_chart_shows_the_surge_after_the_change_and_its_end(world_db: tuple[Path, Path]) -> None:
    world, db = world_db
    truth, rows = truth_of(world)
    chart = report_of(db).as_json()["chart"]
    assert chart["bucket"] == "hour"
    start, end = chart["start"], chart["end"]
    in_range = [r for r in rows if start <= iso(r["charged_at"]) < end]
    assert sum(b["anomalous"] for b in chart["bars"]) == len(in_range) > 0
    change_hour = truth["responsible_change"]["started_at"][:13]
    assert sum(b["anomalous"] for b in chart["bars"] if b["start"][:13] < change_hour) == 0
    rollback_hour = truth["rollback_change"]["started_at"][:13]
    after = [b for b in chart["bars"] if b["start"][:13] > rollback_hour]
    assert after and sum(b["anomalous"] for b in after) == 0
    assert chart["peak"]["anomalous"] == max(b["anomalous"] for b in chart["bars"])
    kinds = Counter(m["kind"] for m in chart["markers"])
    assert kinds["change"] == kinds["rollback"] == kinds["grant"] == 1


def iso(text: str) -> str:
    """A ground-truth time as the report writes it (UTC, Z)."""
    return datetime.fromisoformat(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_open_findings_by_severity_add_up(sample_db: tuple[Path, Path]) -> None:
    findings = report_of(sample_db[1]).as_json()["findings"]
    assert findings["open"] == sum(x["count"] for x in findings["by_severity"]) > 0
    assert [x["severity"] for x in findings["by_severity"]] == [
        "critical", "high", "medium", "low", "info"]
    assert findings["by_rule"][0]["severity"] == "critical"


def test_change_scope(world_db: tuple[Path, Path]) -> None:
    world, db = world_db
    truth, _ = truth_of(world)
    change_id = truth["responsible_change"]["change_id"]
    report = report_of(db, change_id).as_json()
    service = next(c for c in truth["causes"] if c["change_id"] == change_id)
    assert [a["account"] for a in report["accounts"]] == [service["actor"]]
    assert (report["summary"]["charges"], report["summary"]["amount"]) == (
        service["charges"], service["amount"])
    assert report["summary"]["all_charges"] == truth["anomalous_charges"]
    innocent_report = report_of(db, truth["innocent_change_ids"][0])
    innocent = innocent_report.as_json()
    assert innocent["summary"]["charges"] == 0 and innocent["accounts"] == []
    assert [c["change_id"] for c in innocent["changes"]] == [truth["innocent_change_ids"][0]]
    assert "No anomalous charges" in render_markdown(innocent_report)
    render_html(innocent_report)
    with pytest.raises(UsageError, match="no change"):
        report_of(db, "CHG-NOPE")


def test_markdown_key_lines_and_identical_bytes_twice(sample_db: tuple[Path, Path]) -> None:
    world, db = sample_db
    truth, _ = truth_of(world)
    first, second = render_markdown(fresh_report(db)), render_markdown(fresh_report(db))
    assert first.encode() == second.encode()
    change = truth["responsible_change"]
    lines = first.splitlines()
    assert lines[0] == "# Accountability report: charges no customer authorized"
    amount = f"{Decimal(truth['anomalous_amount']):,.2f}"
    assert any(f"**{truth['anomalous_charges']:,} charges**" in x and amount in x for x in lines)
    assert f"### {change['change_id']}: {change['kind']} of {change['system']}" in lines
    assert any(x.startswith("| Approver |") and "(its own implementer)" in x for x in lines)
    assert any(x.startswith("| Separation of duties |") and "change_self_approved" in x
               for x in lines)
    assert any(x.startswith("| Change window |") for x in lines)
    assert f"### {truth['service_account']}: " in "\n".join(lines)
    assert any(x.startswith("| Under change |") and "acted on its own" in x for x in lines)
    # Every table row of a table has as many cells as its header.
    for block in re.split(r"\n\s*\n", first):
        rows = [x for x in block.splitlines() if x.startswith("|")]
        if rows:
            widths = {len(re.split(r"(?<!\\)\|", x)) for x in rows}
            assert len(widths) == 1, rows[:3]


HOSTILE = "<script>alert('x')</script>|pipe"


def hostile_tables() -> dict[str, list[dict[str, Any]]]:
    """An operator with a hostile name charging a customer who never ordered, and nothing
    else: no change is to blame."""
    day = "2026-05-04"
    return {
        "accounts": [{"account": HOSTILE, "display_name": '<img src=x onerror="boom">',
                      "team": "Counter & <b>Co</b>", "manager": "boss", "account_type": "human"}],
        "actions": [{"event_id": "E-1", "ts": f"{day}T10:00:00Z", "actor": HOSTILE,
                     "actor_type": "human", "action": "subscribe", "system": "counter",
                     "target_account": "C-1", "object": "PKG<x>", "order_id": "O-1"}],
        "charges": [{"charge_id": "CH-1", "ts": f"{day}T10:05:00Z", "account": "C-1",
                     "product": "PKG<x>", "amount": "9.90", "currency": "EUR",
                     "order_id": "O-1"}],
        "changes": [{"change_id": "CHG-1", "system": "billing", "kind": "config",
                     "summary": "<iframe>", "implementer": "eng", "approver": "mgr",
                     "started_at": f"{day}T08:00:00Z"}],
    }


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("hostile") / "h.duckdb"
    build_fixture(db, hostile_tables())
    run_packs(db, load_rules())
    return db


def test_operator_misconduct_without_change_still_names_the_account(hostile_db: Path) -> None:
    report = report_of(hostile_db)
    doc = report.as_json()
    assert doc["changes"] == []
    (account,) = doc["accounts"]
    assert account["account"] == HOSTILE and account["change_ids"] == []
    assert doc["summary"]["charges"] == 1
    assert "No change is to blame" in render_markdown(report)


def test_html_escapes_every_value_and_loads_nothing(hostile_db: Path) -> None:
    page = render_html(report_of(hostile_db))
    assert "<script" not in page and "<img" not in page and "<iframe" not in page
    assert "&lt;script&gt;" in page and "Counter &amp; &lt;b&gt;Co&lt;/b&gt;" in page
    assert_self_contained(page)


def assert_self_contained(page: str) -> None:
    """No script, no external resource: the only URL is the SVG namespace."""
    assert re.findall(r"https?://[^\s\"']+", page) in ([], ["http://www.w3.org/2000/svg"])
    tags = re.findall(r"<([a-zA-Z][\w-]*)([^>]*)>", page)
    assert not {name.lower() for name, _ in tags} & {"script", "link", "img", "iframe", "object"}
    assert not [attrs for _, attrs in tags if re.search(r"\b(src|href)\s*=", attrs)]
    # url(#id) names a pattern inside the page (the chart's fills), never a resource.
    assert "@import" not in page and not re.search(r"url\((?!#)", page)
    assert "@media print" in page


def test_markdown_escapes_pipes_in_cells(hostile_db: Path) -> None:
    text = render_markdown(report_of(hostile_db))
    assert "\\|pipe" in text
    row = next(x for x in text.splitlines() if x.startswith("| ") and "9.90" in x)
    assert len(re.split(r"(?<!\\)\|", row)) == 9  # 7 cells, plus the two ends


def test_html_of_the_sample_is_self_contained_with_chart(sample_db: tuple[Path, Path]) -> None:
    page = render_html(report_of(sample_db[1]))
    assert_self_contained(page)
    assert page.count("<svg") == 1 and "</svg>" in page


def test_command_writes_formats_and_refuses_what_it_cannot(sample_db: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    world, db = sample_db
    truth, _ = truth_of(world)
    base = ["report", "accountability", "--db", str(db)]
    out = tmp_path / "r.html"
    result = runner.invoke(app, [*base, "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    md = runner.invoke(app, [*base, "--format", "md"])
    assert md.exit_code == 0 and md.stdout.startswith("# Accountability report")
    doc = json.loads(runner.invoke(app, [*base, "--format", "json"]).stdout)
    assert doc["summary"]["charges"] == truth["anomalous_charges"]
    table = runner.invoke(app, [*base, "--change", truth["responsible_change"]["change_id"]])
    assert table.exit_code == 0 and truth["service_account"] in table.stdout
    # The library's errors reach main(), which prints one sentence and exits 2.
    refused = runner.invoke(app, [*base, "--format", "html"])
    assert isinstance(refused.exception, UsageError) and "--out" in str(refused.exception)
    unknown = runner.invoke(app, [*base, "--change", "CHG-NOPE"])
    assert isinstance(unknown.exception, UsageError)


def test_before_any_rule_run_controls_come_from_the_records(tmp_path: Path) -> None:
    day = "2026-06-01"
    db = tmp_path / "norun.duckdb"
    build_fixture(db, {
        "accounts": [{"account": "svc-x", "account_type": "service", "owner": "lead"}],
        "changes": [{"change_id": "CHG-A", "system": "orders", "kind": "upgrade",
                     "implementer": "eng", "approver": "eng", "window_start": f"{day}T20:00:00Z",
                     "window_end": f"{day}T22:00:00Z", "started_at": f"{day}T23:30:00Z"}],
        "privileges": [{"event_id": "P-1", "ts": f"{day}T12:00:00Z", "actor": "eng",
                        "subject": "svc-x", "privilege": "order:bulk", "system": "orders",
                        "operation": "grant", "approver": "boss"}],
        "actions": [{"event_id": "E-1", "ts": "2026-06-02T01:00:00Z", "actor": "svc-x",
                     "actor_type": "service", "action": "subscribe", "system": "orders",
                     "target_account": "C-1", "object": "ADD", "order_id": "O-1"}],
        "charges": [{"charge_id": "CH-1", "ts": "2026-06-02T01:01:00Z", "account": "C-1",
                     "product": "ADD", "amount": "2.50", "currency": "EUR", "order_id": "O-1"}],
    })
    report = fresh_report(db)
    doc = report.as_json()
    assert doc["run"] is None and doc["findings"]["open"] == 0
    (change,) = doc["changes"]
    assert [(c["check"], c["rules"]) for c in change["controls"]] == [
        ("self_approval", []), ("outside_window", []), ("implementer_granted", [])]
    assert "30 min after its window closed" in change["controls"][1]["text"]
    (grant,) = doc["accounts"][0]["grants"]
    assert [c["check"] for c in grant["controls"]] == ["grant_without_ticket"]
    text, page = render_markdown(report), render_html(report)
    assert "No rule run yet" in text and "records" in page
    # Fields the records leave empty show as a dash, never as Python's None.
    assert "None" not in text and not re.search(r"\bNone\b", re.sub(r"<[^>]+>", " ", page))
