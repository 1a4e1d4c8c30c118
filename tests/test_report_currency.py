"""Money in two currencies: every report and terminal rendering shows each currency's
figure, equal to the generated world's ground truth, and never one sum over both."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from auditlog import store
from auditlog.analysis.findings import run_packs
from auditlog.cli import app
from auditlog.ingest.world import load_world
from auditlog.pack import load_rules
from auditlog.report import formatting as fmt
from auditlog.report.accountability import accountability
from auditlog.report.html import render_html
from auditlog.report.markdown import render_markdown
from auditlog.report.model import Report
from auditlog.report.terminal import render_terminal
from auditlog.world import generate_world
from auditlog.world.plan import BillingShape

runner = CliRunner()


def loaded(out: Path, shape: BillingShape) -> tuple[Path, Path, dict[str, Any]]:
    generate_world(out, customers=300, seed=7, shape=shape)
    db = out / "w.duckdb"
    con = store.connect(db)
    try:
        load_world(con, out)
    finally:
        con.close()
    run_packs(db, load_rules())
    return out, db, json.loads((out / "ground_truth" / "incident.json").read_text())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    loaded_world = loaded(tmp_path_factory.mktemp("usd"), BillingShape(second_currency="USD"))
    assert [m["currency"] for m in loaded_world[2]["by_currency"]] == ["EUR", "USD"]
    return loaded_world


def test_one_currency_keeps_one_sum(tmp_path: Path) -> None:
    _, db, truth = loaded(tmp_path, BillingShape())
    report = report_of(db)
    doc = report.as_json()
    s = doc["summary"]
    assert (s["currency"], s["amount"], s["outstanding_amount"]) == (
        truth["currency"], truth["anomalous_amount"], truth["outstanding_amount"])
    assert any(r["amount"] is not None for r in doc["findings"]["by_rule"])
    text = render_markdown(report)
    assert f"**{fmt.money(s['amount'], s['currency'])}** for" in text
    assert " + " not in text


def report_of(db: Path) -> Report:
    con = store.connect(db, read_only=True)
    try:
        return accountability(con)
    finally:
        con.close()


def shown(money: list[dict[str, Any]], field: str) -> list[str]:
    """Each currency's figure as the renderers write it."""
    return [fmt.money(m[field], m["currency"]) for m in money]


def cross_sum(money: list[dict[str, Any]], field: str) -> str:
    """The figure a renderer adding two currencies would write."""
    return f"{sum(Decimal(m[field]) for m in money):,.2f}"


def assert_per_currency(text: str, money: list[dict[str, Any]],
                        fields: tuple[str, ...] = ("amount", "outstanding_amount")) -> None:
    for field in fields:
        assert fmt.moneys(money, field) in text, field
        assert cross_sum(money, field) not in text, field


def test_report_data_is_the_truth_per_currency(world: tuple[Path, Path, dict[str, Any]]
                                               ) -> None:
    _, db, truth = world
    report = report_of(db).as_json()
    s = report["summary"]
    assert s["amount"] is None and s["outstanding_amount"] is None and s["currency"] is None
    keys = ("currency", "charges", "amount", "outstanding_charges", "outstanding_amount")
    assert [{k: m[k] for k in keys} for m in s["by_currency"]] == [
        {k: m[k] for k in keys} for m in truth["by_currency"]]
    assert all(len(p["currencies"]) == 1 for p in report["parties"])
    # Findings' amounts carry no currency: no rule totals them across EUR and USD.
    assert report["findings"]["by_rule"]
    assert all(r["amount"] is None for r in report["findings"]["by_rule"])
    causes = {c["change_id"]: c for c in truth["causes"]}
    for change in report["changes"]:
        expected = causes[change["change_id"]]["by_currency"]
        assert change["impact"]["amount"] is None
        assert [(m["currency"], m["amount"], m["outstanding_amount"])
                for m in change["impact"]["by_currency"]] == [
            (m["currency"], m["amount"], m["outstanding_amount"]) for m in expected]


def test_every_rendering_shows_each_currency_never_their_sum(
        world: tuple[Path, Path, dict[str, Any]]) -> None:
    _, db, truth = world
    report = report_of(db)
    console = Console(record=True, width=400, file=io.StringIO())
    console.print(render_terminal(report))
    for text in (console.export_text(), render_markdown(report), render_html(report)):
        assert_per_currency(text, truth["by_currency"])
        for cause in truth["causes"]:
            assert_per_currency(text, cause["by_currency"])
            for m in cause["by_currency"]:  # a party's own row, in its own currency
                assert fmt.money(m["amount"], m["currency"]) in text
        assert "EUR USD" not in text


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_traces_show_money_per_currency(world: tuple[Path, Path, dict[str, Any]]) -> None:
    _, db, truth = world
    change = truth["responsible_change"]["change_id"]
    cause = next(c for c in truth["causes"] if c["change_id"] == change)
    text = invoke("trace", "change", change, "--db", str(db))
    assert_per_currency(text, cause["by_currency"])
    # The impact's amount line names every currency, summed per currency.
    assert re.search(rf"amount\s+{re.escape(fmt.moneys(cause['by_currency']))}", text)
    operator = next(c for c in truth["causes"] if c["actor"] == truth["operator"])
    text = invoke("trace", "account", truth["operator"], "--db", str(db))
    assert_per_currency(text, operator["by_currency"])
    # The JSON keeps its keys: no sum across currencies, the figures per currency.
    doc = json.loads(invoke("trace", "change", change, "--db", str(db), "--format", "json"))
    assert doc["impact"]["amount"] is None
    assert [m["amount"] for m in doc["impact"]["by_currency"]] == [
        m["amount"] for m in cause["by_currency"]]


def test_demo_answer_shows_money_per_currency(world: tuple[Path, Path, dict[str, Any]],
                                              tmp_path: Path) -> None:
    out, _, truth = world
    text = invoke("demo", "--world", str(out), "--db", str(tmp_path / "demo.duckdb"))
    # The answer panel's words, whatever width its console wrapped them at (a Rich
    # console keeps the width of the first test that made it, under pytest-xdist too).
    answer = " ".join(re.sub(r"[│╭╮╰╯─]", " ", text[text.index("The answer"):]).split())
    assert_per_currency(answer, truth["by_currency"])
    for cause in truth["causes"]:
        for m in cause["by_currency"]:
            assert fmt.money(m["amount"], m["currency"]) in answer
        # A party split per currency is still told once.
        assert answer.count(f"{cause['actor']} acted on its own") <= 1


def test_money_formatting() -> None:
    rows = [{"currency": "EUR", "amount": "3378.38"}, {"currency": "USD", "amount": "512.1"}]
    assert fmt.moneys(rows) == "EUR 3,378.38 + USD 512.10"
    assert fmt.moneys(rows[:1]) == "EUR 3,378.38"
    assert fmt.moneys([]) == "0.00"
    # A sum that does not exist is never shown as zero.
    assert fmt.money(None, "EUR") == "—"
    assert fmt.money("0", "EUR") == "EUR 0.00"


def test_timeline_tells_a_party_once_across_currencies(
        world: tuple[Path, Path, dict[str, Any]]) -> None:
    _, db, truth = world
    events = report_of(db).as_json()["timeline"]
    for cause in truth["causes"]:
        firsts = [e for e in events
                  if e["title"] == f"First unauthorized charge caused by {cause['actor']}"]
        lasts = [e for e in events
                 if e["title"] == f"Last unauthorized charge caused by {cause['actor']}"]
        assert [e["time"] for e in firsts] == [cause["first_cause_time"]]
        assert [e["time"] for e in lasts] == [cause["last_cause_time"]]
        assert lasts[0]["detail"] == (f"{cause['charges']:,} charges on "
                                      f"{cause['customers']:,} customers")
