"""Attribution on small worlds written by hand, shaped unlike the generator's, through the
command line: each world's remediation list and traces against an answer worked out on
paper from docs/attribution.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


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


def test_a_stray_anomaly_days_before_the_upgrade_does_not_move_its_blame(
        tmp_path: Path) -> None:
    # One unconfirmed order on March 29, three days before the upgrade: the same episode
    # as the incident (less than 7 days apart), but the anomalies rose across the
    # upgrade, not before it. The stray charge predates every change in reach: no blame.
    # S1 is written 2 minutes before the upgrade's start (the change log's clock runs
    # ahead; within the model's 5-minute skew): it is the upgrade's.
    actions = "\n".join([
        svc("S0", "2026-03-29T12:00:00Z", "C9", "O-9"),
        svc("S1", "2026-04-01T21:58:00Z", "C1", "O-1"),
        svc("S2", "2026-04-01T23:00:00Z", "C2", "O-2"),
        svc("S3", "2026-04-02T03:00:00Z", "C3", "O-3"),
    ])
    charges = """
charge_id,ts,account,product,amount,currency,order_id
Z0,2026-03-29T12:01:00Z,C9,ADDON,4.99,EUR,O-9
Z1,2026-04-01T21:59:00Z,C1,ADDON,4.99,EUR,O-1
Z2,2026-04-01T23:01:00Z,C2,ADDON,4.99,EUR,O-2
Z3,2026-04-02T03:01:00Z,C3,ADDON,4.99,EUR,O-3
"""
    db = load(tmp_path, {"accounts.csv": ACCOUNTS, "changes.csv": CHANGES,
                         "actions.jsonl": actions, "charges.csv": charges})
    assert remediation(db) == {
        "Z0": ("C9", None, "svc-order", "2026-03-29T12:00:00Z", False),
        "Z1": ("C1", "CHG-UP", "svc-order", "2026-04-01T21:58:00Z", False),
        "Z2": ("C2", "CHG-UP", "svc-order", "2026-04-01T23:00:00Z", False),
        "Z3": ("C3", "CHG-UP", "svc-order", "2026-04-02T03:00:00Z", False),
    }


def test_a_steady_trickle_of_anomalies_leaves_the_blame_with_the_change_they_rose_after(
        tmp_path: Path) -> None:
    # The service account leaves one unconfirmed order a day, every day from March 25 to
    # April 8 (no gap of 7 days: one episode), and a burst of six after the upgrade on
    # April 1, three of them after the routine config change at 02:00 on April 2. The
    # burst rose across the upgrade (13 anomalies in the week after, 7 in the week
    # before), not across the config change (10 and 10).
    noon = datetime(2026, 3, 25, 12, tzinfo=UTC)
    daily = [iso(noon + timedelta(days=n)) for n in range(15)]
    burst = ["2026-04-01T23:00:00Z", "2026-04-02T00:00:00Z", "2026-04-02T01:00:00Z",
             "2026-04-02T03:00:00Z", "2026-04-02T04:00:00Z", "2026-04-02T05:00:00Z"]
    rows = [svc(f"S{n}", at, f"C{n}", f"O-{n}") for n, at in enumerate(daily + burst)]
    charges = "charge_id,ts,account,product,amount,currency,order_id\n" + "\n".join(
        f"Z{n},{iso(parse(at) + timedelta(minutes=1))},C{n},ADDON,4.99,EUR,O-{n}"
        for n, at in enumerate(daily + burst))
    db = load(tmp_path, {"accounts.csv": ACCOUNTS, "changes.csv": CHANGES,
                         "actions.jsonl": "\n".join(rows), "charges.csv": charges})
    blamed = {charge: row[1] for charge, row in remediation(db).items()}
    upgrade = parse("2026-04-01T22:00:00Z")
    assert blamed == {f"Z{n}": "CHG-UP" if parse(at) >= upgrade else None
                      for n, at in enumerate(daily + burst)}
    for innocent in ("CHG-OLD", "CHG-RT"):
        doc = json.loads(cli("trace", "change", innocent, "--format", "json", "--db", db))
        assert doc["impact"]["charges"] == 0, innocent


def test_the_privilege_step_is_a_grant_still_in_force_before_a_lapsed_later_one(
        tmp_path: Path) -> None:
    # svc-order holds order:write for good since March; a temporary order:bulk grant of
    # March 30 lapsed on March 31. Its subscription of April 1 rests on order:write.
    privileges = """
event_id,ts,actor,subject,privilege,operation,system,ticket,approver,expires_at
P1,2026-03-02T09:00:00Z,alice,svc-order,order:write,grant,orders,T-1,carol,
P2,2026-03-30T09:00:00Z,alice,svc-order,order:bulk,grant,orders,T-2,carol,2026-03-31T09:00:00Z
"""
    charges = """
charge_id,ts,account,product,amount,currency,order_id
Z1,2026-04-01T23:01:00Z,C1,ADDON,4.99,EUR,O-1
"""
    db = load(tmp_path, {"accounts.csv": ACCOUNTS, "changes.csv": CHANGES,
                         "privileges.csv": privileges, "charges.csv": charges,
                         "actions.jsonl": svc("S1", "2026-04-01T23:00:00Z", "C1", "O-1")})
    trace = json.loads(cli("trace", "charge", "Z1", "--format", "json", "--db", db))
    grant = next(step for step in trace["chain"] if step["step"] == "privilege")
    assert (grant["id"], grant["privilege"], grant["ticket"]) == ("P1", "order:write", "T-1")
