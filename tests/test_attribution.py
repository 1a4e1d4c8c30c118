"""Remediation and traces follow docs/attribution.md on a small hand-made incident, and
match the generator's ground truth on sample_logs/."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from auditlog import store
from auditlog.analysis.attribution import (
    remediation,
    remediation_records,
    trace_change,
    trace_charge,
)
from auditlog.analysis.findings import run_packs
from auditlog.engines.cases import build_fixture
from auditlog.errors import UsageError
from auditlog.ingest.world import load_world
from auditlog.pack import load_rules
from auditlog.values import as_json
from auditlog.world import generate_world

D = "2026-03-10"
D1 = "2026-03-11"


def act(eid: str, ts: str, actor: str, action: str, system: str, target: str | None,
        obj: str | None, order: str | None = None, **extra: Any) -> dict[str, Any]:
    row = {"event_id": eid, "ts": ts, "actor": actor, "action": action, "system": system,
           "target_account": target, "object": obj, "order_id": order, **extra}
    return {k: v for k, v in row.items() if v is not None}


def charge(cid: str, ts: str, account: str, product: str, amount: str,
           **extra: Any) -> dict[str, Any]:
    return {"charge_id": cid, "ts": ts, "account": account, "product": product,
            "amount": amount, "currency": "EUR", **extra}


INCIDENT: dict[str, list[dict[str, Any]]] = {
    "accounts": [
        {"account": "svc-orders", "account_type": "service"},
        {"account": "svc-partner", "account_type": "service"},
        {"account": "batch", "account_type": "service"},
        {"account": "op-bad", "account_type": "human"},
        {"account": "op-good", "account_type": "human"},
    ],
    "changes": [
        {"change_id": "CHG-old", "system": "orders", "kind": "config", "implementer": "eng",
         "approver": "mgr", "started_at": "2026-03-01T10:00:00Z"},
        {"change_id": "CHG-up", "system": "orders", "kind": "upgrade", "implementer": "eng",
         "approver": "eng", "window_start": f"{D}T22:00:00Z", "window_end": f"{D1}T00:00:00Z",
         "started_at": f"{D}T19:30:00Z"},
        {"change_id": "CHG-routine", "system": "orders", "kind": "config", "implementer": "eng2",
         "approver": "mgr", "started_at": f"{D1}T12:00:00Z"},
        {"change_id": "CHG-rb", "system": "orders", "kind": "rollback", "implementer": "eng2",
         "approver": "mgr", "started_at": f"{D1}T00:30:00Z"},
        {"change_id": "CHG-other", "system": "billing", "kind": "upgrade", "implementer": "eng3",
         "approver": "mgr", "started_at": f"{D}T20:00:00Z"},
    ],
    "privileges": [
        {"event_id": "P-old", "ts": "2026-03-01T09:00:00Z", "actor": "admin",
         "subject": "svc-orders", "privilege": "order:read", "system": "orders",
         "operation": "grant", "ticket": "T-1", "approver": "mgr"},
        {"event_id": "P-old-r", "ts": "2026-03-05T09:00:00Z", "actor": "admin",
         "subject": "svc-orders", "privilege": "order:read", "system": "orders",
         "operation": "revoke"},
        {"event_id": "P-grant", "ts": f"{D}T14:00:00Z", "actor": "eng", "subject": "svc-orders",
         "privilege": "order:bulk_subscribe", "system": "orders", "operation": "grant"},
    ],
    "actions": [
        act("E-free", "2026-03-05T10:00:00Z", "C2", "subscribe", "app", "C2", "ADDON",
            actor_type="customer", channel="app"),
        act("E-s1", f"{D1}T01:10:00Z", "svc-orders", "subscribe", "orders", "C1", "ADDON", "O-1",
            actor_type="service", channel="batch"),
        act("E-s2", f"{D1}T01:20:00Z", "svc-orders", "subscribe", "orders", "C2", "ADDON",
            actor_type="service", channel="batch"),
        act("E-s3", f"{D1}T01:21:00Z", "svc-orders", "subscribe", "orders", "C2", "ADDON",
            actor_type="service", channel="batch"),
        act("E-app", f"{D1}T09:00:00Z", "C3", "subscribe", "app", "C3", "MUSIC", "O-3",
            actor_type="customer", channel="app"),
        act("E-cnt", f"{D1}T10:00:00Z", "op-good", "subscribe", "counter", "C4", "TV", "O-4",
            actor_type="human", channel="counter"),
        act("E-cnf", f"{D1}T10:02:00Z", "C4", "confirm_order", "counter", "C4", "TV", "O-4",
            actor_type="customer", channel="sms"),
        act("E-op", f"{D1}T19:10:00Z", "op-bad", "subscribe", "counter", "C5", "TV", "O-5",
            actor_type="human", channel="counter"),
        act("E-pt", f"{D1}T11:00:00Z", "svc-partner", "subscribe", "partner", "C6", "GAME",
            "O-6", actor_type="service", channel="third_party"),
        act("E-ptc", f"{D1}T11:01:00Z", "C6", "confirm_order", "partner", "C6", "GAME", "O-6",
            actor_type="customer", channel="third_party"),
    ],
    "charges": [
        charge("CH-1", f"{D1}T01:15:00Z", "C1", "ADDON", "4.99", order_id="O-1"),
        charge("CH-2", f"{D1}T01:30:00Z", "C2", "ADDON", "4.99"),
        charge("CH-3", f"{D1}T01:31:00Z", "C2", "ADDON", "4.99"),
        charge("CH-4", f"{D1}T09:01:00Z", "C3", "MUSIC", "2.50"),
        charge("CH-5", f"{D1}T10:05:00Z", "C4", "TV", "9.90", order_id="O-4"),
        charge("CH-6", f"{D1}T19:15:00Z", "C5", "TV", "9.90", order_id="O-5"),
        charge("CH-7", f"{D1}T11:05:00Z", "C6", "GAME", "3.00", order_id="O-6"),
        charge("CH-8", "2026-03-01T00:00:00Z", "C1", "PLAN", "30.00", type="recurring",
               initiated_by="batch"),
        charge("RF-1", "2026-03-15T10:00:00Z", "C1", "ADDON", "4.99", type="refund",
               refund_of="CH-1"),
        charge("RF-2a", "2026-03-15T10:00:00Z", "C2", "ADDON", "2.00", type="refund",
               refund_of="CH-2"),
    ],
}


@pytest.fixture(scope="module")
def incident_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("incident") / "incident.duckdb"
    build_fixture(db, INCIDENT)
    run_packs(db, load_rules())
    return db


def rows_of(db: Path, change_id: str | None = None) -> dict[str, dict[str, Any]]:
    con = store.connect(db, read_only=True)
    rows = remediation_records(remediation(con, change_id))
    con.close()
    return {r["charge_id"]: r for r in rows}


def test_remediation_lists_exactly_the_unauthorized_charges(incident_db: Path) -> None:
    rows = rows_of(incident_db)
    assert sorted(rows) == ["CH-1", "CH-2", "CH-3", "CH-6"]
    assert rows["CH-1"] | {"rules": None} == {
        "charge_id": "CH-1", "account": "C1", "product": "ADDON", "amount": "4.99",
        "currency": "EUR", "charged_at": f"{D1}T01:15:00Z", "refunded": True,
        "refund_id": "RF-1", "change_id": "CHG-up", "actor": "svc-orders",
        "cause_time": f"{D1}T01:10:00Z", "rules": None}
    assert "unauthorized_order_charge" in rows["CH-1"]["rules"]


def test_charges_without_order_id_pair_with_their_own_action(incident_db: Path) -> None:
    # The customer's own free-campaign subscription days earlier is not the cause.
    rows = rows_of(incident_db)
    assert rows["CH-2"]["cause_time"] == f"{D1}T01:20:00Z"
    assert rows["CH-3"]["cause_time"] == f"{D1}T01:21:00Z"
    assert {rows["CH-2"]["actor"], rows["CH-3"]["actor"]} == {"svc-orders"}


def test_blame_goes_to_the_change_before_the_pattern_not_routine_or_other_systems(
        incident_db: Path) -> None:
    rows = rows_of(incident_db)
    assert {rows[c]["change_id"] for c in ("CH-1", "CH-2", "CH-3")} == {"CHG-up"}
    assert rows["CH-6"]["change_id"] is None and rows["CH-6"]["actor"] == "op-bad"
    assert sorted(rows_of(incident_db, "CHG-up")) == ["CH-1", "CH-2", "CH-3"]
    for neighbour in ("CHG-routine", "CHG-other", "CHG-rb", "CHG-old"):
        assert rows_of(incident_db, neighbour) == {}


def test_partial_refund_is_not_refunded_but_names_the_refund(incident_db: Path) -> None:
    row = rows_of(incident_db)["CH-2"]
    assert (row["refunded"], row["refund_id"]) == (False, "RF-2a")


def test_trace_charge_walks_action_privilege_change(incident_db: Path) -> None:
    con = store.connect(incident_db, read_only=True)
    doc = trace_charge(con, "CH-2").as_json()
    con.close()
    assert doc["anomalous"] is True
    assert doc["responsible"] == {"change_id": "CHG-up", "actor": "svc-orders",
                                  "time": f"{D1}T01:20:00Z"}
    assert [(s["step"], s["id"]) for s in doc["chain"]] == [
        ("charge", "CH-2"), ("action", "E-s2"), ("privilege", "P-grant"), ("change", "CHG-up")]
    grant = doc["chain"][2]
    assert (grant["granter"], grant["ticket"], grant["time"]) == ("eng", None, f"{D}T14:00:00Z")
    assert "unauthorized_unordered_charge" in doc["rules"]
    json.dumps(doc)  # plain JSON all the way down


def test_trace_authorized_charge(incident_db: Path) -> None:
    con = store.connect(incident_db, read_only=True)
    doc = trace_charge(con, "CH-5").as_json()
    con.close()
    assert doc["anomalous"] is False
    assert [s["step"] for s in doc["chain"]] == ["charge", "action"]
    assert doc["responsible"]["actor"] == "op-good"


def test_trace_change_impact(incident_db: Path) -> None:
    con = store.connect(incident_db, read_only=True)
    doc = trace_change(con, "CHG-up").as_json()
    other = trace_change(con, "CHG-other").as_json()
    with pytest.raises(UsageError, match="no change"):
        trace_change(con, "CHG-nope")
    con.close()
    assert doc["impact"] | {"actors": None, "first_cause_time": None, "last_cause_time": None,
                            "by_currency": None} == {
        "charges": 3, "accounts": 2, "amount": "14.97", "refunded_amount": "6.99",
        "currency": "EUR", "unrefunded_charges": 2, "actors": None, "first_cause_time": None,
        "last_cause_time": None, "by_currency": None}
    assert doc["approval"]["self_approved"] is True
    assert doc["window"]["started_within"] is False
    assert {"change_self_approved", "change_outside_window"} <= set(doc["rules"])
    assert other["impact"]["charges"] == 0 and other["impact"]["amount"] == "0.00"


def test_causal_action_naming_a_change_blames_it(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    build_fixture(db, {
        "actions": [act("E-1", f"{D1}T01:10:00Z", "op-1", "subscribe", "crm", "C1", "X", "O-1",
                        change_id="CHG-9")],
        "charges": [charge("CH-1", f"{D1}T01:15:00Z", "C1", "X", "1.00", order_id="O-1")],
    })
    assert rows_of(db)["CH-1"]["change_id"] == "CHG-9"


# --- the sample world: exact agreement with the generator's ground truth -------------

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs"
TRUTH = SAMPLE / "ground_truth" / "remediation.csv"


def ingest_world(world: Path, db: Path) -> None:
    """Load a generated world the way its sources.json says (kind and zone per file)."""
    con = store.connect(db)
    try:
        load_world(con, world)
    finally:
        con.close()


def assert_matches_truth(world: Path, db: Path) -> None:
    with (world / "ground_truth" / "remediation.csv").open(newline="", encoding="utf-8") as f:
        truth = {r["charge_id"]: r for r in csv.DictReader(f)}
    ours = {cid: {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                  for k, v in row.items() if k != "rules"}
            for cid, row in rows_of(db).items()}
    assert sorted(set(ours) - set(truth)) == [], "charges flagged that are not anomalous"
    assert sorted(set(truth) - set(ours)) == [], "anomalous charges missed"
    wrong = {cid: (ours[cid], truth[cid]) for cid in truth if ours[cid] != truth[cid]}
    assert not wrong, f"{len(wrong)} rows differ, e.g. {next(iter(wrong.items()))}"


def test_sample_world_remediation_matches_ground_truth(tmp_path: Path) -> None:
    db = tmp_path / "sample.duckdb"
    ingest_world(SAMPLE, db)
    assert_matches_truth(SAMPLE, db)
    assert_change_impact_matches_truth(SAMPLE, db)


@pytest.mark.parametrize(("seed", "formats", "zone"), [
    (3, "csv", "America/New_York"), (11, "parquet", "Asia/Tokyo"), (29, "json", "UTC")])
def test_other_generated_worlds_match_their_ground_truth(tmp_path: Path, seed: int,
                                                         formats: str, zone: str) -> None:
    # Other names, products, dates, zones and formats than the sample: nothing is tuned
    # to one world.
    world = tmp_path / "world"
    generate_world(world, seed=seed, customers=900, days=24, formats=formats,
                            billing_tz=zone)
    db = tmp_path / "world.duckdb"
    ingest_world(world, db)
    assert_matches_truth(world, db)
    assert_change_impact_matches_truth(world, db)


def assert_change_impact_matches_truth(world: Path, db: Path) -> None:
    facts = json.loads((world / "ground_truth" / "incident.json").read_text())
    con = store.connect(db, read_only=True)
    try:
        for cause in facts["causes"]:
            if cause["change_id"] is None:
                continue
            impact = trace_change(con, cause["change_id"]).as_json()["impact"]
            assert (impact["charges"], impact["accounts"], impact["amount"],
                    impact["unrefunded_charges"]) == (
                cause["charges"], cause["customers"], cause["amount"],
                cause["outstanding_charges"])
        for innocent in facts.get("innocent_change_ids", []):
            assert trace_change(con, innocent).as_json()["impact"]["charges"] == 0
    finally:
        con.close()


def test_trace_account(incident_db: Path) -> None:
    from auditlog.analysis.attribution import trace_account
    con = store.connect(incident_db, read_only=True)
    doc = trace_account(con, "svc-orders").as_json()
    with pytest.raises(UsageError, match="no account"):
        trace_account(con, "nobody")
    con.close()
    assert doc["anomalous"] | {"by_currency": None} == {
        "charges": 3, "customers": 2, "amount": "14.97", "currency": "EUR",
        "unrefunded_charges": 2, "changes": ["CHG-up"], "by_currency": None}
    assert [p["id"] for p in doc["privileges"]] == ["P-old", "P-grant"]
    assert doc["activity"][0]["action"] == "subscribe"


# --- the generalized pairing: orders, confirmations, clock skew, currencies ------------

T = "2026-03-12"
EDGES: dict[str, list[dict[str, Any]]] = {
    "accounts": [{"account": "svc-orders", "account_type": "service"},
                 {"account": "partner-x", "account_type": "service"},
                 {"account": "batch", "account_type": "service"}],
    "changes": [{"change_id": "CHG-up", "system": "orders", "kind": "upgrade",
                 "implementer": "eng", "approver": "mgr", "started_at": f"{T}T00:00:00Z"}],
    "actions": [
        # A partner purchase known only by the customer's confirmation on the gateway.
        act("E-pc", f"{T}T10:00:00Z", "P1", "confirm_order", "gateway", "P1", "GAME",
            actor_type="customer", channel="third_party"),
        # The partner subscribes first; the customer's confirmation of that order follows.
        act("E-ps", f"{T}T11:00:00Z", "partner-x", "subscribe", "gateway", "P2", "GAME", "O-p2",
            actor_type="service"),
        act("E-pc2", f"{T}T11:00:40Z", "P2", "confirm_order", "gateway", "P2", "GAME", "O-p2",
            actor_type="customer", channel="third_party"),
        # The customer's own order, then hours later a rogue duplicate of the service.
        act("E-own", f"{T}T08:00:00Z", "P3", "subscribe", "app", "P3", "ADDON",
            actor_type="customer", channel="app"),
        act("E-dup", f"{T}T12:00:00Z", "svc-orders", "subscribe", "orders", "P3", "ADDON",
            actor_type="service"),
        # Billing's clock runs two minutes behind: the charge is written before its action.
        act("E-skew", f"{T}T13:00:00Z", "svc-orders", "subscribe", "orders", "P4", "ADDON",
            actor_type="service"),
        # Ten minutes is beyond the tolerance: that charge has no order.
        act("E-far", f"{T}T14:00:00Z", "svc-orders", "subscribe", "orders", "P5", "ADDON",
            actor_type="service"),
        # Two orders within reach of one charge: the customer's and the service's.
        act("E-u1", f"{T}T15:00:00Z", "P6", "subscribe", "app", "P6", "ADDON",
            actor_type="customer"),
        act("E-u2", f"{T}T15:30:00Z", "svc-orders", "subscribe", "orders", "P6", "ADDON",
            actor_type="service"),
    ],
    "charges": [
        charge("X-pc", f"{T}T10:00:30Z", "P1", "GAME", "4.49", initiated_by="partner-x"),
        charge("X-p2", f"{T}T11:00:20Z", "P2", "GAME", "4.49", initiated_by="partner-x"),
        charge("X-own", f"{T}T08:01:00Z", "P3", "ADDON", "2.99", initiated_by="P3"),
        charge("X-dup", f"{T}T12:01:00Z", "P3", "ADDON", "2.99", initiated_by="svc-orders"),
        {**charge("X-skew", f"{T}T12:58:00Z", "P4", "ADDON", "3.30", initiated_by="svc-orders"),
         "currency": "USD"},
        charge("X-far", f"{T}T13:50:00Z", "P5", "ADDON", "2.99", initiated_by="batch"),
        charge("X-u", f"{T}T15:31:00Z", "P6", "ADDON", "2.99", initiated_by="svc-orders"),
    ],
}


@pytest.fixture(scope="module")
def edges_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("edges") / "edges.duckdb"
    build_fixture(db, EDGES)
    run_packs(db, load_rules())
    return db


def traced(db: Path, charge_id: str) -> dict[str, Any]:
    con = store.connect(db, read_only=True)
    try:
        return trace_charge(con, charge_id).as_json()
    finally:
        con.close()


def test_the_customers_own_confirmation_authorizes_a_charge_without_order_id(
        edges_db: Path) -> None:
    rows = rows_of(edges_db)
    assert "X-pc" not in rows and "X-p2" not in rows
    doc = traced(edges_db, "X-pc")
    assert (doc["anomalous"], doc["chain"][1]["id"]) == (False, "E-pc")
    assert "P1 itself acted on" in doc["reason"]
    # A confirmation after the partner's subscribe: the order's cause is the subscribe.
    assert traced(edges_db, "X-p2")["chain"][1]["id"] == "E-ps"


def test_one_order_per_charge_keeps_the_rogue_duplicate_next_to_a_real_order(
        edges_db: Path) -> None:
    rows = rows_of(edges_db)
    assert "X-own" not in rows
    assert (rows["X-dup"]["actor"], rows["X-dup"]["cause_time"], rows["X-dup"]["change_id"]) == (
        "svc-orders", f"{T}T12:00:00Z", "CHG-up")


def test_clock_skew_tolerance_pairs_a_charge_written_before_its_action(edges_db: Path) -> None:
    rows = rows_of(edges_db)
    assert (rows["X-skew"]["actor"], rows["X-skew"]["cause_time"]) == (
        "svc-orders", f"{T}T13:00:00Z")
    assert "before" in traced(edges_db, "X-skew")["reason"]
    # Ten minutes early is no pairing: nobody can show it was ordered; its initiator answers.
    assert (rows["X-far"]["actor"], rows["X-far"]["cause_time"]) == ("batch", f"{T}T13:50:00Z")
    assert "nobody can show" in traced(edges_db, "X-far")["reason"]


def test_what_the_logs_cannot_decide_is_said_not_guessed(edges_db: Path) -> None:
    doc = traced(edges_db, "X-u")
    # Time order pairs the charge with the customer's own order; the verdict stays, and
    # the trace says that the service's order half an hour later could be the one billed.
    assert doc["anomalous"] is False and doc["chain"][1]["id"] == "E-u1"
    assert doc["undecided"] is not None and "2 orders of P6" in doc["undecided"]
    assert traced(edges_db, "X-dup")["undecided"] is None
    assert traced(edges_db, "X-pc")["undecided"] is None


def test_amounts_in_two_currencies_are_never_added(edges_db: Path) -> None:
    from auditlog.analysis.summary import incident_summary
    con = store.connect(edges_db, read_only=True)
    try:
        impact = trace_change(con, "CHG-up").as_json()["impact"]
        summary = as_json(incident_summary(con))
    finally:
        con.close()
    assert impact["charges"] == 2 and (impact["amount"], impact["currency"]) == (None, None)
    assert [(m["currency"], m["charges"], m["amount"]) for m in impact["by_currency"]] == [
        ("EUR", 1, "2.99"), ("USD", 1, "3.30")]
    assert summary["amount"] is None and summary["currencies"] == ["EUR", "USD"]
    assert {(p["actor"], p["currencies"][0], p["amount"]) for p in summary["parties"]} == {
        ("svc-orders", "EUR", "2.99"), ("svc-orders", "USD", "3.30"), ("batch", "EUR", "2.99")}
