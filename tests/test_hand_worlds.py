"""Attribution on small worlds written by hand, shaped unlike the generator's, through the
command line: each world's remediation list and traces against an answer worked out on
paper from docs/attribution.md."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def load(tmp_path: Path, files: dict[str, str]) -> str:
    """Write each kind's file (its name says the format), ingest it, run every pack."""
    db = str(tmp_path / "w.duckdb")
    for name, body in files.items():
        path = tmp_path / name
        path.write_text(body.strip() + "\n", encoding="utf-8")
        cli("ingest", str(path), "--kind", path.name.split(".")[0], "--db", db)
    cli("run", "--db", db)
    return db


def remediation(db: str) -> dict[str, tuple[object, ...]]:
    rows = json.loads(cli("remediation", "--format", "json", "--db", db))
    return {r["charge_id"]: (r["account"], r["change_id"], r["actor"], r["cause_time"],
                             r["refunded"]) for r in rows}


def line(**row: str) -> str:
    return json.dumps(row)


ACCOUNTS = """
account,account_type,owner
svc-order,service,alice
alice,human,
"""

CHANGES = """
change_id,system,kind,implementer,approver,started_at
CHG-OLD,orders,config,bob,carol,2026-03-01T10:00:00Z
CHG-UP,orders,upgrade,bob,carol,2026-04-01T22:00:00Z
CHG-RT,orders,config,bob,carol,2026-04-02T02:00:00Z
"""


def svc(eid: str, ts: str, customer: str, order: str) -> str:
    return line(event_id=eid, ts=ts, actor="svc-order", action="subscribe", system="orders",
                target_account=customer, object="ADDON", order_id=order)


def test_a_customers_cancel_or_complaint_does_not_authorize_its_order(
        tmp_path: Path) -> None:
    # The service subscribes C1 and C2 after the upgrade; C1 later complains about the
    # order and C2 cancels it: both carry the order id, neither placed or confirmed it.
    # C3 confirms its order: that one is authorized.
    actions = "\n".join([
        svc("S1", "2026-04-01T23:00:00Z", "C1", "O-1"),
        svc("S2", "2026-04-02T03:00:00Z", "C2", "O-2"),
        svc("S3", "2026-04-02T04:00:00Z", "C3", "O-3"),
        line(event_id="K1", ts="2026-04-03T09:00:00Z", actor="C1", action="complaint",
             system="care", target_account="C1", object="ADDON", order_id="O-1"),
        line(event_id="K2", ts="2026-04-03T09:00:00Z", actor="C2", action="cancel_order",
             system="app", target_account="C2", object="ADDON", order_id="O-2"),
        line(event_id="K3", ts="2026-04-02T04:02:00Z", actor="C3", action="confirm_order",
             system="app", target_account="C3", object="ADDON", order_id="O-3"),
    ])
    charges = """
charge_id,ts,account,product,amount,currency,order_id
Z1,2026-04-01T23:01:00Z,C1,ADDON,4.99,EUR,O-1
Z2,2026-04-02T03:01:00Z,C2,ADDON,4.99,EUR,O-2
Z3,2026-04-02T04:03:00Z,C3,ADDON,4.99,EUR,O-3
"""
    db = load(tmp_path, {"accounts.csv": ACCOUNTS, "changes.csv": CHANGES,
                         "actions.jsonl": actions, "charges.csv": charges})
    assert remediation(db) == {
        "Z1": ("C1", "CHG-UP", "svc-order", "2026-04-01T23:00:00Z", False),
        "Z2": ("C2", "CHG-UP", "svc-order", "2026-04-02T03:00:00Z", False),
    }
    trace = json.loads(cli("trace", "charge", "Z2", "--format", "json", "--db", db))
    assert trace["anomalous"] is True
    assert trace["responsible"] == {"change_id": "CHG-UP", "actor": "svc-order",
                                    "time": "2026-04-02T03:00:00Z"}


def test_a_stray_anomaly_weeks_before_does_not_take_the_incidents_blame(
        tmp_path: Path) -> None:
    # The service account left one unconfirmed order on March 20 (no change on orders in
    # the 7 days before it: nothing to blame). The upgrade on April 1 starts the incident;
    # the routine config change during it is not to blame.
    actions = "\n".join([
        svc("S0", "2026-03-20T12:00:00Z", "C9", "O-9"),
        svc("S1", "2026-04-01T23:00:00Z", "C1", "O-1"),
        svc("S2", "2026-04-02T03:00:00Z", "C2", "O-2"),
    ])
    charges = """
charge_id,ts,account,product,amount,currency,order_id
Z0,2026-03-20T12:01:00Z,C9,ADDON,4.99,EUR,O-9
Z1,2026-04-01T23:01:00Z,C1,ADDON,4.99,EUR,O-1
Z2,2026-04-02T03:01:00Z,C2,ADDON,4.99,EUR,O-2
"""
    db = load(tmp_path, {"accounts.csv": ACCOUNTS, "changes.csv": CHANGES,
                         "actions.jsonl": actions, "charges.csv": charges})
    assert remediation(db) == {
        "Z0": ("C9", None, "svc-order", "2026-03-20T12:00:00Z", False),
        "Z1": ("C1", "CHG-UP", "svc-order", "2026-04-01T23:00:00Z", False),
        "Z2": ("C2", "CHG-UP", "svc-order", "2026-04-02T03:00:00Z", False),
    }
    impact = json.loads(cli("trace", "change", "CHG-UP", "--format", "json",
                            "--db", db))["impact"]
    assert (impact["charges"], impact["accounts"], impact["amount"]) == (2, 2, "9.98")
    for innocent in ("CHG-OLD", "CHG-RT"):
        doc = json.loads(cli("trace", "change", innocent, "--format", "json", "--db", db))
        assert doc["impact"]["charges"] == 0, innocent
