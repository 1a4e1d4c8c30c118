"""Attribution on small worlds written by hand, shaped unlike the generator's, through the
command line: each world's remediation list and traces against an answer worked out on
paper from docs/attribution.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
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


# --- what the logs cannot decide: the group of charges and orders that can pair --------
# Charges without order_id, each customer a world of its own (docs/attribution.md, "What
# the logs cannot decide"). Pairing reach: 24 hours after an order's last action, 5
# minutes before its first one.

def order(eid: str, ts: str, actor: str, customer: str, order_id: str = "",
          action: str = "subscribe") -> str:
    row = {"event_id": eid, "ts": ts, "actor": actor, "action": action, "system": "orders",
           "target_account": customer, "object": "ADDON"}
    return line(**row, order_id=order_id) if order_id else line(**row)


PAIRING_ACTIONS = "\n".join([
    # C1: two charges 20 hours apart, each with its own order in reach and the other's
    # out of it (Z11 is 20h before A12; Z12 is 43h after A11).
    order("A11", "2026-04-10T00:00:00Z", "C1", "C1"),
    order("A12", "2026-04-11T18:00:00Z", "svc-order", "C1"),
    # C2: two orders in reach of one charge; the customer confirmed the first.
    order("A21", "2026-04-10T08:00:00Z", "svc-order", "C2", "O-21"),
    order("A22", "2026-04-10T08:02:00Z", "C2", "C2", "O-21", "confirm_order"),
    order("A23", "2026-04-10T09:00:00Z", "svc-order", "C2", "O-22"),
    # C3: one order, two charges.
    order("A31", "2026-04-10T12:00:00Z", "svc-order", "C3"),
    # C4: a chain order-charge-order-charge: Z41 reaches both orders, Z42 only A42.
    order("A41", "2026-04-10T00:00:00Z", "C4", "C4"),
    order("A42", "2026-04-10T20:00:00Z", "svc-order", "C4"),
    # C5: the same chain with a third order that only Z52 reaches.
    order("A51", "2026-04-10T00:00:00Z", "C5", "C5"),
    order("A52", "2026-04-10T20:00:00Z", "svc-order", "C5"),
    order("A53", "2026-04-11T09:00:00Z", "svc-order", "C5"),
    # C6: an order of two actions a day apart, billed by Z60 more than a day before Z61,
    # which reaches it too; Z61's own order is the customer's.
    order("A61", "2026-04-10T00:00:00Z", "svc-order", "C6", "O-61"),
    order("A62", "2026-04-10T02:00:00Z", "svc-order", "C6", "O-61", "change_plan"),
    order("A63", "2026-04-11T00:00:00Z", "C6", "C6"),
    # C7: two orders of the service in reach of one charge; the customer confirmed the
    # first one only the next day, more than a day after the charge.
    order("A71", "2026-04-10T08:00:00Z", "svc-order", "C7", "O-71"),
    order("A72", "2026-04-10T09:00:00Z", "svc-order", "C7"),
    order("A73", "2026-04-11T12:00:00Z", "C7", "C7", "O-71", "confirm_order"),
    # C8: Z81 names O-81 by id, so Z82 has A82 to itself. C9: Z91 names an order no
    # action carries, so it competes with Z92 for A91.
    order("A81", "2026-04-10T12:00:00Z", "svc-order", "C8", "O-81"),
    order("A82", "2026-04-10T12:10:00Z", "svc-order", "C8"),
    order("A91", "2026-04-10T12:00:00Z", "svc-order", "C9"),
])

PAIRING_CHARGES = """
charge_id,ts,account,product,amount,currency,order_id
Z11,2026-04-10T23:00:00Z,C1,ADDON,4.99,EUR,
Z12,2026-04-11T19:00:00Z,C1,ADDON,4.99,EUR,
Z21,2026-04-10T09:30:00Z,C2,ADDON,4.99,EUR,
Z31,2026-04-10T12:01:00Z,C3,ADDON,4.99,EUR,
Z32,2026-04-10T12:30:00Z,C3,ADDON,4.99,EUR,
Z41,2026-04-10T20:30:00Z,C4,ADDON,4.99,EUR,
Z42,2026-04-11T10:00:00Z,C4,ADDON,4.99,EUR,
Z51,2026-04-10T20:30:00Z,C5,ADDON,4.99,EUR,
Z52,2026-04-11T10:00:00Z,C5,ADDON,4.99,EUR,
Z60,2026-04-10T00:30:00Z,C6,ADDON,4.99,EUR,
Z61,2026-04-11T01:00:00Z,C6,ADDON,4.99,EUR,
Z71,2026-04-10T09:30:00Z,C7,ADDON,4.99,EUR,
Z81,2026-04-10T12:01:00Z,C8,ADDON,4.99,EUR,O-81
Z82,2026-04-10T12:11:00Z,C8,ADDON,4.99,EUR,
Z91,2026-04-10T12:01:00Z,C9,ADDON,4.99,EUR,O-GONE
Z92,2026-04-10T12:02:00Z,C9,ADDON,4.99,EUR,
"""


@pytest.fixture(scope="module")
def pairing_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return load(tmp_path_factory.mktemp("pairing"), {
        "accounts.csv": ACCOUNTS, "actions.jsonl": PAIRING_ACTIONS,
        "charges.csv": PAIRING_CHARGES})


def traced(db: str, charge_id: str) -> dict[str, Any]:
    """The charge's trace as JSON, checked against its text screen: the screen shows
    an `undecided` line exactly when the JSON carries one."""
    doc: dict[str, Any] = json.loads(cli("trace", "charge", charge_id, "--format", "json",
                                         "--db", db))
    screen = " ".join(cli("trace", "charge", charge_id, "--db", db).split())
    assert ("undecided" in screen) == (doc["undecided"] is not None), screen
    if doc["undecided"] is not None:
        assert " ".join(doc["undecided"].split()[:4]) in screen
    return doc


def cause(doc: dict[str, Any]) -> str | None:
    return next((s["id"] for s in doc["chain"] if s["step"] == "action"), None)


def test_charges_that_cannot_reach_each_others_orders_are_decided(pairing_db: str) -> None:
    first, second = traced(pairing_db, "Z11"), traced(pairing_db, "Z12")
    assert (cause(first), first["anomalous"], first["undecided"]) == ("A11", False, None)
    assert (cause(second), second["anomalous"], second["undecided"]) == ("A12", True, None)


def test_two_orders_for_one_charge_one_of_them_the_customers_is_undecided(
        pairing_db: str) -> None:
    doc = traced(pairing_db, "Z21")
    # Time order pairs it with the order the customer confirmed; the service's later
    # order could as well be the one billed.
    assert (cause(doc), doc["anomalous"]) == ("A21", False)
    assert doc["undecided"] is not None
    assert doc["undecided"].startswith("2 orders of C2 for ADDON can be billed by 1 charge(s)")


def test_two_charges_for_one_order_are_undecided(pairing_db: str) -> None:
    first, second = traced(pairing_db, "Z31"), traced(pairing_db, "Z32")
    assert (cause(first), cause(second)) == ("A31", None)
    for doc in (first, second):
        assert doc["undecided"] is not None
        assert doc["undecided"].startswith("2 charges of C3 for ADDON that no order_id pairs "
                                           "compete for 1 order(s)")


def test_a_chain_with_one_way_to_bill_every_charge_is_decided(pairing_db: str) -> None:
    # Z41 reaches A41 and A42, Z42 only A42: the one pairing that bills both charges
    # gives Z41 the customer's order and Z42 the service's.
    first, second = traced(pairing_db, "Z41"), traced(pairing_db, "Z42")
    assert (cause(first), first["anomalous"], first["undecided"]) == ("A41", False, None)
    assert (cause(second), second["anomalous"], second["undecided"]) == ("A42", True, None)


def test_an_order_more_at_the_end_of_a_chain_leaves_its_first_charge_undecided(
        pairing_db: str) -> None:
    # With A53 for Z52 to bill, Z51 may bill the service's A52 instead of the customer's
    # A51 though no order in Z51's own reach is spare.
    for charge_id in ("Z51", "Z52"):
        doc = traced(pairing_db, charge_id)
        assert doc["undecided"] is not None
        assert doc["undecided"].startswith("3 orders of C5 for ADDON can be billed by 2 charge(s)")
    assert cause(traced(pairing_db, "Z51")) == "A51"


def test_an_order_another_charge_takes_from_over_a_day_before_is_not_spare(
        pairing_db: str) -> None:
    # O-61 (A61 + A62) is in reach of Z61, but Z60 bills it: Z61 bills its customer's A63.
    doc = traced(pairing_db, "Z61")
    assert (cause(doc), doc["anomalous"], doc["undecided"]) == ("A63", False, None)
    assert (cause(traced(pairing_db, "Z60")), traced(pairing_db, "Z60")["undecided"]) == (
        "A61", None)


def test_a_confirmation_more_than_a_day_after_the_charge_still_counts(
        pairing_db: str) -> None:
    doc = traced(pairing_db, "Z71")
    assert (cause(doc), doc["anomalous"]) == ("A71", False)
    assert doc["undecided"] is not None
    assert doc["undecided"].startswith("2 orders of C7 for ADDON")


def test_an_order_id_that_an_action_carries_pairs_and_one_that_none_does_not(
        pairing_db: str) -> None:
    named, beside = traced(pairing_db, "Z81"), traced(pairing_db, "Z82")
    assert (cause(named), named["undecided"]) == ("A81", None)
    assert (cause(beside), beside["undecided"]) == ("A82", None)
    for charge_id in ("Z91", "Z92"):
        doc = traced(pairing_db, charge_id)
        assert doc["undecided"] is not None
        assert doc["undecided"].startswith("2 charges of C9 for ADDON")


def test_a_retried_order_does_not_shift_the_pairs_of_every_later_order(
        tmp_path: Path) -> None:
    # C5 orders ADDON twice within half an hour (a retry; billed once), then once a month.
    # No charge names its order: each is paired by account, product and time. The spare
    # order of April must not leave May's and June's charges without their orders.
    actions = "\n".join(
        line(event_id=f"A{n}", ts=at, actor="C5", action="subscribe", system="app",
             target_account="C5", object="ADDON", order_id=f"O-{n}")
        for n, at in enumerate(["2026-04-01T10:00:00Z", "2026-04-01T10:30:00Z",
                                "2026-05-01T10:00:00Z", "2026-06-01T10:00:00Z"]))
    charges = """
charge_id,ts,account,product,amount,currency
Z1,2026-04-01T11:00:00Z,C5,ADDON,4.99,EUR
Z2,2026-05-01T11:00:00Z,C5,ADDON,4.99,EUR
Z3,2026-06-01T11:00:00Z,C5,ADDON,4.99,EUR
Z4,2026-06-01T11:05:00Z,C5,ADDON,4.99,EUR
"""
    db = load(tmp_path, {"actions.jsonl": actions, "charges.csv": charges})
    # June's second charge has no order left to bill: that one, and only that one.
    assert remediation(db) == {
        "Z4": ("C5", None, None, "2026-06-01T11:05:00Z", False)}
    causes = {charge: json.loads(cli("trace", "charge", charge, "--format", "json",
                                     "--db", db))["chain"][1]["id"]
              for charge in ("Z1", "Z2", "Z3")}
    assert causes == {"Z1": "A0", "Z2": "A2", "Z3": "A3"}
    spare = json.loads(cli("trace", "charge", "Z4", "--format", "json", "--db", db))
    assert "billed by another charge" in spare["reason"], spare["reason"]
    assert spare["undecided"].startswith("2 charges of C5 for ADDON"), spare["undecided"]


@pytest.mark.xfail(strict=True, reason=(
    "known gap: within a stretch the n-th charge pairs with the n-th order by first "
    "action, so an order whose actions span days, sorted before a short one, takes the "
    "early charge both can bill and leaves the late one, which only it can bill, "
    "without an order; earliest-deadline-first pairing would bill both"))
def test_an_order_spanning_days_leaves_the_early_charge_to_a_short_order(
        tmp_path: Path) -> None:
    # C1 orders ADDON in the app at midnight and changes that order's plan two days
    # later (O-L: reach until April 13 00:00); it orders again at 01:00 (reach until
    # April 11 01:00). Y1 at 02:00 can bill either order, Y2 on April 12 only O-L: as
    # each order is billed once, Y2 bills O-L and Y1 the 01:00 order. Both orders are
    # the customer's own: nothing is anomalous, and each charge is decided.
    actions = "\n".join([
        order("L1", "2026-04-10T00:00:00Z", "C1", "C1", "O-L"),
        order("L2", "2026-04-12T00:00:00Z", "C1", "C1", "O-L", "change_plan"),
        order("S1", "2026-04-10T01:00:00Z", "C1", "C1"),
    ])
    charges = """
charge_id,ts,account,product,amount,currency,order_id
Y1,2026-04-10T02:00:00Z,C1,ADDON,4.99,EUR,
Y2,2026-04-12T12:00:00Z,C1,ADDON,4.99,EUR,
"""
    db = load(tmp_path, {"accounts.csv": ACCOUNTS, "actions.jsonl": actions,
                         "charges.csv": charges})
    late = traced(db, "Y2")
    assert (cause(late), late["anomalous"], late["undecided"]) == ("L1", False, None)
    early = traced(db, "Y1")
    assert (cause(early), early["anomalous"], early["undecided"]) == ("S1", False, None)
    assert remediation(db) == {}


@pytest.mark.xfail(strict=True, reason=(
    "known gap: rank-by-rank pairing within a stretch gives the n-th charge the n-th "
    "order even when an order before it went unbilled, so a charge whose only order is "
    "the last one is left without it; earliest-deadline-first pairing would bill it"))
def test_an_unbilled_order_in_the_middle_of_a_stretch_leaves_a_later_charge_its_order(
        tmp_path: Path) -> None:
    # C2 orders ADDON on April 10 at 00:00 and 20:00 and on April 11 at 06:00 (three
    # single-action orders, each in reach for 24 hours; their reaches overlap: one
    # stretch). Y1 at 22:00 bills the first or the second (undecided which); Y2 on April
    # 12 at 02:00 is in reach of the third alone, so it bills that one.
    actions = "\n".join([
        order("M1", "2026-04-10T00:00:00Z", "C2", "C2"),
        order("M2", "2026-04-10T20:00:00Z", "C2", "C2"),
        order("M3", "2026-04-11T06:00:00Z", "C2", "C2"),
    ])
    charges = """
charge_id,ts,account,product,amount,currency,order_id
Y1,2026-04-10T22:00:00Z,C2,ADDON,4.99,EUR,
Y2,2026-04-12T02:00:00Z,C2,ADDON,4.99,EUR,
"""
    db = load(tmp_path, {"accounts.csv": ACCOUNTS, "actions.jsonl": actions,
                         "charges.csv": charges})
    late = traced(db, "Y2")
    assert (cause(late), late["anomalous"]) == ("M3", False)
    assert cause(traced(db, "Y1")) == "M1"
    assert remediation(db) == {}


def test_an_actor_no_log_types_is_blamed_on_no_change_and_every_answer_says_why(
        tmp_path: Path) -> None:
    # The order system's log has no actor_type column and no accounts directory is
    # loaded: nothing says svc-order is a service account, so CHG-UP is blamed for none of
    # its unconfirmed orders (only a service account's anomalies are). The charges are
    # anomalous all the same, and each answer that could name the change says why it
    # does not, and how to tell auditlog; loading the directory then blames CHG-UP.
    actions = "\n".join([svc("S1", "2026-04-01T23:00:00Z", "C1", "O-1"),
                         svc("S2", "2026-04-02T03:00:00Z", "C2", "O-2")])
    charges = """
charge_id,ts,account,product,amount,currency,order_id
Z1,2026-04-01T23:01:00Z,C1,ADDON,4.99,EUR,O-1
Z2,2026-04-02T03:01:00Z,C2,ADDON,4.99,EUR,O-2
"""
    db = load(tmp_path, {"changes.csv": CHANGES, "actions.jsonl": actions,
                         "charges.csv": charges})
    assert {c: row[1] for c, row in remediation(db).items()} == {"Z1": None, "Z2": None}
    said = ("warning: 2 anomalous charges (Z1, Z2) were caused by svc-order, whose type no "
            "log gives (no actor_type on its actions, not in the accounts directory): only "
            "a service account's anomalies are blamed on a change, so none is blamed for "
            "them; if it is a service account, give its actions actor_type 'service' or load "
            "an accounts directory that says so.")
    for answer in (["remediation"], ["trace", "change", "CHG-UP"], ["run"],
                   ["report", "accountability"]):
        result = runner.invoke(app, [*answer, "--db", db])
        assert result.exit_code == 0 and said in result.stderr.splitlines(), answer
    one = runner.invoke(app, ["trace", "charge", "Z1", "--db", db])
    assert one.exit_code == 0
    assert ("warning: 1 anomalous charge (Z1) was caused by svc-order, whose type no log "
            "gives") in one.stderr
    (tmp_path / "accounts.csv").write_text(ACCOUNTS.strip() + "\n", encoding="utf-8")
    cli("ingest", str(tmp_path / "accounts.csv"), "--kind", "accounts", "--db", db)
    result = runner.invoke(app, ["run", "--db", db])
    assert result.exit_code == 0 and "whose type no log gives" not in result.stderr
    assert {c: row[1] for c, row in remediation(db).items()} == {"Z1": "CHG-UP",
                                                                  "Z2": "CHG-UP"}
