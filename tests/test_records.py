"""Typed records inside the library, JSON only at the edges: traces, the incident summary
and the report's model hold datetimes and Decimals; `as_json()` writes them as the
documents always were (ISO 8601 with Z, exact decimal text, field order as key order)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from auditlog import store
from auditlog.analysis.attribution import trace_account, trace_change, trace_charge
from auditlog.analysis.findings import run_packs
from auditlog.analysis.summary import incident_summary
from auditlog.analysis.traces import ChargeStep, UnknownChangeStep
from auditlog.engines.cases import build_fixture
from auditlog.pack import load_rules
from auditlog.report import formatting as fmt
from auditlog.report.accountability import accountability
from auditlog.report.markdown import render_markdown
from auditlog.values import as_json, decimal_text
from tests.test_attribution import D1, INCIDENT


@dataclass(frozen=True)
class Inner:
    at: datetime
    amount: Decimal | None


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    items: tuple[Inner, ...]
    counts: dict[str, int]


def test_as_json_writes_fields_in_order_times_in_utc_and_exact_amounts() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    inner = Inner(datetime(2026, 3, 11, 3, 20, tzinfo=two_hours_east), Decimal("4.9900"))
    doc = as_json(Outer("x", inner, (Inner(datetime(2026, 3, 11, 1, 20, 0, 500), None),),
                        {"a": 1}))
    assert list(doc) == ["name", "inner", "items", "counts"]
    assert doc["inner"] == {"at": "2026-03-11T01:20:00Z", "amount": "4.99"}
    assert doc["items"] == [{"at": "2026-03-11T01:20:00.000500Z", "amount": None}]
    assert doc["counts"] == {"a": 1}


@pytest.fixture(scope="module")
def incident_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("records") / "r.duckdb"
    build_fixture(db, INCIDENT)
    run_packs(db, load_rules())
    return db


def test_traces_hold_typed_values_and_write_the_documents(incident_db: Path) -> None:
    con = store.connect(incident_db, read_only=True)
    try:
        charge = trace_charge(con, "CH-2")
        change = trace_change(con, "CHG-up")
        account = trace_account(con, "svc-orders")
    finally:
        con.close()
    step = charge.chain[0]
    assert isinstance(step, ChargeStep)
    assert step.amount == Decimal("4.99") and step.time == datetime(2026, 3, 11, 1, 30,
                                                                    tzinfo=UTC)
    assert charge.responsible.time == datetime(2026, 3, 11, 1, 20, tzinfo=UTC)
    doc = charge.as_json()
    assert doc["chain"][0] | {"customer_authorized": None} == {
        "step": "charge", "id": "CH-2", "time": f"{D1}T01:30:00Z", "account": "C2",
        "product": "ADDON", "amount": "4.99", "currency": "EUR", "type": "one_time",
        "order_id": None, "initiated_by": None, "customer_authorized": None,
        "refunded": False, "refund_id": "RF-2a"}
    assert json.loads(json.dumps(doc)) == doc  # plain JSON all the way down
    assert change.impact.amount == Decimal("14.97") and change.window.started_within is False
    assert change.as_json()["window"]["start"] == "2026-03-10T22:00:00Z"
    assert list(change.as_json())[:2] == ["change_id", "system"]  # the record's columns first
    assert account.anomalous.by_currency[0].amount == Decimal("14.97")
    assert account.as_json()["anomalous"]["amount"] == "14.97"


def test_a_change_no_record_holds_is_its_id_alone() -> None:
    assert as_json(UnknownChangeStep("CHG-gone")) == {"step": "change", "id": "CHG-gone"}


def test_the_report_model_is_typed_and_its_json_is_text(incident_db: Path) -> None:
    con = store.connect(incident_db, read_only=True)
    try:
        report = accountability(con)
        summary = incident_summary(con)
    finally:
        con.close()
    s = report.summary
    assert isinstance(s.first_cause_time, datetime) and isinstance(s.amount, Decimal)
    assert s.amount == sum((p.amount or Decimal(0) for p in summary.parties), Decimal(0))
    assert all(isinstance(e.time, datetime) for e in report.timeline)
    assert [e.time for e in report.timeline] == sorted(e.time for e in report.timeline)
    doc = report.as_json()
    assert doc["summary"]["amount"] == decimal_text(s.amount)
    assert doc["summary"]["first_cause_time"].endswith("Z")
    assert f"**{fmt.when(s.first_cause_time)}**" in render_markdown(report)


def test_people_formatting_reads_typed_values_in_utc() -> None:
    east = timezone(timedelta(hours=5, minutes=30))
    assert fmt.when(datetime(2026, 9, 22, 23, 15, tzinfo=east)) == "2026-09-22 17:45 UTC"
    assert fmt.day(datetime(2026, 9, 23, 1, 0, tzinfo=east)) == "Tue 22 Sep 2026"
    assert fmt.money(Decimal("3232.19"), "EUR") == "EUR 3,232.19"
    assert fmt.duration(datetime(2026, 1, 1, tzinfo=UTC),
                        datetime(2026, 1, 1, 2, 15, tzinfo=UTC)) == "2 h 15 min"
