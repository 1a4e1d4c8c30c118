"""The sample-world generator: determinism, formats, and a ground truth that is right.

The strongest check here re-derives the anomalous charges from the generated files with
a small, independent implementation of docs/attribution.md and compares it with the
generator's own ground truth: any legitimate flow that accidentally breaks the model,
or an incident charge the generator mislabels, makes it fail.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from auditlog.errors import UsageError
from auditlog.world import WorldSummary, generate_world
from auditlog.world.plan import BillingShape

SMALL = 200
REPO = Path(__file__).resolve().parents[1]
ORDER_ACTIONS = {"subscribe", "confirm_order", "change_plan", "add_package", "order"}


# ---------------------------------------------------------------- fixtures and readers


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return generate_world(tmp_path_factory.mktemp("mixed"), customers=SMALL, seed=11)


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return generate_world(
        tmp_path_factory.mktemp("jsonl"), customers=SMALL, seed=11, formats="jsonl"
    )


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _remediation(world: WorldSummary) -> list[dict[str, str]]:
    with open(world.out_dir / "ground_truth/remediation.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _incident(world: WorldSummary) -> dict[str, Any]:
    return json.loads((world.out_dir / "ground_truth/incident.json").read_text())


def _mixed_charges(world: WorldSummary) -> list[dict[str, str]]:
    """charges.csv with its naive local times read in the billing zone, as `--tz` would."""
    zone = ZoneInfo(world.billing_tz)
    with open(world.out_dir / "billing/charges.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        local = datetime.fromisoformat(row["ts"]).replace(tzinfo=zone)
        row["ts_utc"] = local.astimezone(UTC)
    return rows


def _changes(world: WorldSummary) -> dict[str, dict[str, Any]]:
    table = pq.read_table(world.out_dir / "changes/changes.parquet").to_pylist()
    return {row["change_id"]: row for row in table}


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate_world(tmp_path / "a", customers=SMALL, seed=3)
    again = generate_world(tmp_path / "b", customers=SMALL, seed=3)
    other = generate_world(tmp_path / "c", customers=SMALL, seed=4)
    a, b, c = _files(first.out_dir), _files(again.out_dir), _files(other.out_dir)
    assert len(a) == 9 and a.keys() == b.keys() == c.keys()
    assert a == b
    differing = {name for name in a if a[name] != c[name]}
    assert {
        "billing/charges.csv",
        "order_platform/actions.jsonl.gz",
        "ground_truth/remediation.csv",
    } <= differing
    assert first.incident.change_id != other.incident.change_id


def test_the_world_does_not_depend_on_the_output_format(
    mixed: WorldSummary, jsonl: WorldSummary
) -> None:
    remediation = "ground_truth/remediation.csv"
    assert (mixed.out_dir / remediation).read_bytes() == (jsonl.out_dir / remediation).read_bytes()
    assert mixed.counts["actions"] == jsonl.counts["actions"]
    # mixed adds the corrections file to the charges
    assert mixed.counts["charges"] == jsonl.counts["charges"] + 5


def test_regenerating_replaces_previous_files_and_keeps_others(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine")
    generate_world(tmp_path, customers=SMALL, formats="csv")
    generate_world(tmp_path, customers=SMALL, formats="parquet")
    sources = json.loads((tmp_path / "sources.json").read_text())
    logs = {
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*.*")
        if p.is_file() and p.parent.name != "ground_truth"
    }
    assert logs == {s["path"] for s in sources} | {"README.md", "sources.json"}
    assert (tmp_path / "README.md").read_text() == "mine"


# ---------------------------------------------------------------- the ground truth


@dataclass
class _Charge:
    charge_id: str
    ts: datetime
    account: str
    product: str
    amount: Decimal
    type: str
    order_id: str | None
    refund_of: str | None
    initiated_by: str | None


def _attribute(world: WorldSummary) -> dict[str, dict[str, Any]]:
    """docs/attribution.md, applied to the files: anomalous charge id -> responsibility."""
    out = world.out_dir
    actions = [
        a
        for a in _jsonl(out / "order_platform/actions.jsonl")
        if a.get("result", "success") == "success"
    ]
    for a in actions:
        a["ts"] = _utc(a["ts"])
    charges = [
        _Charge(
            c["charge_id"],
            _utc(c["ts"]),
            c["account"],
            c["product"],
            Decimal(c["amount"]),
            c.get("type", "one_time"),
            c.get("order_id"),
            c.get("refund_of"),
            c.get("initiated_by"),
        )
        for c in _jsonl(out / "billing/charges.jsonl")
    ]
    changes = _jsonl(out / "changes/changes.jsonl")
    directory = {a["account"]: a for a in _jsonl(out / "directory/accounts.jsonl")}

    order_actions = sorted(
        (a for a in actions if a["action"].lower() in ORDER_ACTIONS),
        key=lambda a: (a["ts"], a["event_id"]),
    )
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in order_actions:
        if a.get("order_id"):
            by_order[a["order_id"]].append(a)

    billed = sorted(
        (c for c in charges if c.type in ("one_time", "recurring")),
        key=lambda c: (c.ts, c.charge_id),
    )
    # A charge naming an order that actions carry: that order's placing action, else its
    # confirmation. Any other one-time charge bills an order (the actions sharing an
    # order_id, or one action without it) of its customer and product that no charge
    # names, from 5 minutes before the order's first action to 24 hours after its last;
    # orders are taken first come, first served.
    cause: dict[str, dict[str, Any] | None] = {}
    for c in billed:
        if c.type == "one_time" and c.order_id and by_order.get(c.order_id):
            candidates = by_order[c.order_id]
            placing = [a for a in candidates if a["action"].lower() != "confirm_order"]
            cause[c.charge_id] = (placing or candidates)[0]
    named = {c.order_id for c in billed if c.type == "one_time" and c.order_id}
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for a in order_actions:
        if a.get("object") is not None and a.get("order_id") not in named:
            customer = a.get("target_account") or a["actor"]
            grouped[(customer, a["object"], a.get("order_id") or a["event_id"])].append(a)
    pending: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for (customer, product, key), acts in grouped.items():
        placing = [a for a in acts if a["action"].lower() != "confirm_order"]
        pending[(customer, product)].append({
            "key": key, "first": acts[0]["ts"], "last": acts[-1]["ts"],
            "cause": (placing or acts)[0]})
    for queue in pending.values():
        queue.sort(key=lambda o: (o["first"], o["key"]))
    for c in billed:
        if c.type == "one_time" and c.charge_id not in cause:
            queue = pending[(c.account, c.product)]
            while queue and queue[0]["last"] + timedelta(hours=24) < c.ts:
                queue.pop(0)
            early = queue and queue[0]["first"] - timedelta(minutes=5) <= c.ts
            cause[c.charge_id] = queue.pop(0)["cause"] if early else None

    customer_orders = {(a["actor"], a["order_id"]) for a in actions if a.get("order_id")}
    anomalous: dict[str, dict[str, Any]] = {}
    for c in billed:
        if c.type != "one_time":
            continue
        causal = cause[c.charge_id]
        orders = {c.order_id, causal.get("order_id") if causal else None} - {None}
        if any((c.account, o) in customer_orders for o in orders):
            continue
        anomalous[c.charge_id] = {
            "charge": c,
            "causal": causal,
            "actor": causal["actor"] if causal else c.initiated_by,
            "cause_time": causal["ts"] if causal else c.ts,
            "system": causal["system"] if causal else None,
            "change_id": causal.get("change_id") if causal else None,
        }

    service = {a["actor"] for a in actions if a.get("actor_type") == "service"}
    service |= {k for k, v in directory.items() if v.get("account_type") == "service"}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in anomalous.values():
        if item["change_id"] is None and item["actor"] in service and item["system"]:
            groups[(item["actor"], item["system"])].append(item)
    for (_, system), items in groups.items():
        t0 = min(i["cause_time"] for i in items)
        eligible = [
            ch
            for ch in changes
            if ch["system"] == system
            and ch.get("kind") != "rollback"
            and t0 - timedelta(days=7) <= _utc(ch["started_at"]) <= t0
        ]
        if eligible:
            blamed = max(eligible, key=lambda ch: _utc(ch["started_at"]))
            for i in items:
                if i["cause_time"] >= _utc(blamed["started_at"]):
                    i["change_id"] = blamed["change_id"]

    refunds: dict[str, list[_Charge]] = defaultdict(list)
    for c in charges:
        if c.type == "refund" and c.refund_of:
            refunds[c.refund_of].append(c)
    result = {}
    for charge_id, item in anomalous.items():
        rs = sorted(refunds[charge_id], key=lambda r: (r.ts, r.charge_id))
        refunded = sum((r.amount for r in rs), Decimal(0)) >= item["charge"].amount
        result[charge_id] = {
            "account": item["charge"].account,
            "amount": item["charge"].amount,
            "actor": item["actor"],
            "cause_time": item["cause_time"],
            "change_id": item["change_id"],
            "refunded": refunded and bool(rs),
            "refund_id": rs[0].charge_id if rs else None,
        }
    return result


def test_ground_truth_is_what_the_attribution_model_finds_in_the_files(jsonl: WorldSummary) -> None:
    expected = _attribute(jsonl)
    truth = _remediation(jsonl)
    assert [r["charge_id"] for r in truth] == sorted(expected)
    for row in truth:
        model = expected[row["charge_id"]]
        assert row["account"] == model["account"]
        assert Decimal(row["amount"]) == model["amount"]
        assert row["actor"] == model["actor"]
        assert _utc(row["cause_time"]) == model["cause_time"]
        assert (row["change_id"] or None) == model["change_id"]
        assert row["refunded"] == ("true" if model["refunded"] else "false")
        assert (row["refund_id"] or None) == model["refund_id"]


def test_ground_truth_rows_match_the_billing_export(mixed: WorldSummary) -> None:
    charges = {c["charge_id"]: c for c in _mixed_charges(mixed)}
    refunds = defaultdict(list)
    for c in charges.values():
        if c["type"] == "refund":
            refunds[c["refund_of"]].append(c)
    truth = _remediation(mixed)
    assert truth == sorted(truth, key=lambda r: r["charge_id"])
    for row in truth:
        charge = charges[row["charge_id"]]
        assert (charge["account"], charge["product"], charge["amount"], charge["type"]) == (
            row["account"],
            row["product"],
            row["amount"],
            "one_time",
        )
        assert charge["ts_utc"] == _utc(row["charged_at"])  # naive local time round-trips
        covered = sum(Decimal(r["amount"]) for r in refunds[row["charge_id"]])
        assert (row["refunded"] == "true") == (covered >= Decimal(row["amount"]))
        if row["refunded"] == "true":
            first = min(refunds[row["charge_id"]], key=lambda r: r["ts_utc"])
            assert row["refund_id"] == first["charge_id"]


@pytest.mark.parametrize("plain", [False, True])
def test_billing_shape_is_what_the_generator_writes(tmp_path: Path, plain: bool) -> None:
    shape = BillingShape.plain() if plain else BillingShape(second_currency="USD")
    world = generate_world(tmp_path, customers=300, seed=5, days=21, formats="jsonl",
                           shape=shape)
    charges = {c["charge_id"]: c for c in _jsonl(tmp_path / "billing/charges.jsonl")}
    actions = _jsonl(tmp_path / "order_platform/actions.jsonl")
    one_time = [c for c in charges.values() if c.get("type", "one_time") == "one_time"]
    missing = sum(not c.get("order_id") for c in one_time) / len(one_time)
    assert (0.1 < missing < 0.22) if plain else (0.27 < missing < 0.4)
    # Partner orders: the customer's confirmation, and the partner's subscribe or not.
    partners = {c["initiated_by"] for c in one_time if c["channel"] == "third_party"}
    confirmed = {a["order_id"] for a in actions if a["action"] == "confirm_order"
                 and a.get("channel") == "third_party"}
    subscribed = {a["order_id"] for a in actions if a["actor"] in partners}
    confirm_only = len(confirmed - subscribed) / len(confirmed)
    assert confirm_only == 0 if plain else 0.3 < confirm_only < 0.7
    # Billing's clock: without skew a charge comes at least a minute after its cause.
    truth = _remediation(world)
    early = min(_utc(r["charged_at"]) - _utc(r["cause_time"]) for r in truth)
    assert (early >= timedelta(seconds=60)) if plain else (early < timedelta(seconds=60))
    currencies = Counter(c["currency"] for c in one_time)
    assert set(currencies) == ({"EUR"} if plain else {"EUR", "USD"})
    for refund in (c for c in charges.values() if c.get("type") == "refund"):
        assert refund["currency"] == charges[refund["refund_of"]]["currency"]
    facts = _incident(world)
    assert [m["currency"] for m in facts["by_currency"]] == sorted({r["currency"] for r in truth})
    assert (facts["anomalous_amount"] is None) is (not plain)


def test_service_account_charges_fall_between_upgrade_and_rollback(mixed: WorldSummary) -> None:
    facts = mixed.incident
    changes = _changes(mixed)
    upgrade = _utc(changes[facts.change_id]["started_at"])
    rollback = _utc(changes[facts.rollback_change_id]["started_at"])
    service = [r for r in _remediation(mixed) if r["actor"] == facts.service_account]
    assert len(service) == facts.service_charges > 0
    skew = timedelta(minutes=2)  # billing's clock against the order system's
    for row in service:
        assert upgrade < _utc(row["cause_time"]) < _utc(row["charged_at"]) + skew
        assert _utc(row["charged_at"]) < rollback
        assert row["change_id"] == facts.change_id
        assert _utc(row["charged_at"]) - _utc(row["cause_time"]) <= timedelta(minutes=10) + skew
    per_customer = Counter(r["account"] for r in service)
    stacked = [c for c, n in per_customer.items() if n == 2]
    assert len(stacked) == facts.stacked_customers > 0
    assert max(per_customer.values()) == 2
    missing_order = [r for r in service if not _charge_order(mixed, r["charge_id"])]
    assert 0.2 < len(missing_order) / len(service) < 0.47  # a third, as exports do
    refunded = sum(r["refunded"] == "true" for r in service)
    assert 0.8 < refunded / len(service) < 0.95


def _charge_order(world: WorldSummary, charge_id: str) -> str:
    cache = world.__dict__.setdefault("_orders", {})  # frozen dataclass: memo via __dict__
    if not cache:
        cache.update({c["charge_id"]: c["order_id"] for c in _mixed_charges(world)})
    return cache[charge_id]


def test_operator_charges_were_never_confirmed_and_blame_no_change(mixed: WorldSummary) -> None:
    facts = mixed.incident
    actions = _jsonl(mixed.out_dir / "order_platform/actions.jsonl.gz")
    confirmed = {a["order_id"] for a in actions if a["action"] == "confirm_order"}
    by_order = {
        a["order_id"]: a
        for a in actions
        if a["action"] == "subscribe" and a["actor"] == facts.operator
    }
    # The operator's order of each victim, found by customer and time when billing's
    # export lacks the order_id.
    by_victim = {(a["target_account"], _utc(a["ts"])): a["order_id"] for a in by_order.values()}
    operator = [r for r in _remediation(mixed) if r["actor"] == facts.operator]
    assert len(operator) == facts.operator_charges >= 10
    upgrade = _utc(_changes(mixed)[facts.change_id]["started_at"])
    for row in operator:
        order = _charge_order(mixed, row["charge_id"]) or by_victim[
            (row["account"], _utc(row["cause_time"]))]
        assert order in by_order and order not in confirmed
        assert row["change_id"] == ""
        assert _utc(row["cause_time"]) > upgrade  # after the upgrade: a trap for naive tools
    assert facts.anomalous_charges == facts.service_charges + facts.operator_charges
    assert len(_remediation(mixed)) == facts.anomalous_charges


def test_incident_facts_and_controls(mixed: WorldSummary) -> None:
    facts, incident = mixed.incident, _incident(mixed)
    changes = _changes(mixed)
    upgrade = changes[facts.change_id]
    assert upgrade["approver"] == upgrade["implementer"]
    assert not upgrade["window_start"] <= upgrade["started_at"] <= upgrade["window_end"]
    assert changes[facts.rollback_change_id]["kind"] == "rollback"
    # Everything else was done properly, including the neighbours on the incident days.
    for change_id, change in changes.items():
        if change_id != facts.change_id:
            assert change["approver"] and change["approver"] != change["implementer"]
            assert change["ticket"]
            assert (
                _utc(change["window_start"])
                <= _utc(change["started_at"])
                <= _utc(change["window_end"])
            )
    for change_id in facts.innocent_change_ids:
        assert changes[change_id]["system"] != "order-system"
        gap = _utc(changes[change_id]["started_at"]) - _utc(upgrade["started_at"])
        assert timedelta(days=-1) < gap < timedelta(days=2)
    privileges = json.loads((mixed.out_dir / "iam/privileges.json").read_text())["Records"]
    grant = next(p for p in privileges if p["event_id"] == facts.grant_event_id)
    assert (grant["subject"], grant["operation"], grant["ticket"], grant["approver"]) == (
        facts.service_account,
        "grant",
        None,
        None,
    )
    started = _utc(upgrade["started_at"])
    granted = datetime.fromtimestamp(grant["ts"] / 1000, UTC)
    assert timedelta(hours=1) < started - granted < timedelta(hours=12)
    routine = [p for p in privileges if p["event_id"] != facts.grant_event_id]
    assert all(p["ticket"] and p["approver"] for p in routine)
    outstanding = [r for r in _remediation(mixed) if r["refunded"] == "false"]
    assert len(outstanding) == facts.outstanding_refunds == incident["outstanding_refunds"]
    assert sum(Decimal(r["amount"]) for r in outstanding) == facts.outstanding_amount
    assert (
        Decimal(incident["anomalous_amount"])
        == facts.anomalous_amount
        == sum(Decimal(r["amount"]) for r in _remediation(mixed))
    )
    summary = json.loads(json.dumps(mixed.to_dict()))
    assert summary["incident"]["anomalous_amount"] == incident["anomalous_amount"]
    assert summary["counts"]["charges"] == sum(f.rows for f in mixed.files if f.kind == "charges")


def test_accounts_directory_holds_staff_and_services_but_no_customers(mixed: WorldSummary) -> None:
    accounts = pl.read_csv(mixed.out_dir / "directory/accounts.tsv", separator="\t")
    names = set(accounts["account"])
    assert not any(n.startswith("C") and n[1:].isdigit() for n in names)
    actions = _jsonl(mixed.out_dir / "order_platform/actions.jsonl.gz")
    staff = {a["actor"] for a in actions if a.get("actor_type") != "customer"}
    assert staff <= names
    # Sign-ins without an actor type are by accounts the directory can type.
    untyped = {a["actor"] for a in actions if "actor_type" not in a}
    assert untyped and untyped <= set(accounts.filter(pl.col("account_type") == "human")["account"])
    services = accounts.filter(pl.col("account_type") == "service")
    assert mixed.incident.service_account in set(services["account"])
    assert services["owner"].null_count() == 0


# ---------------------------------------------------------------- files and formats


def test_mixed_layout_uses_the_documented_formats_and_zones(mixed: WorldSummary) -> None:
    out = mixed.out_dir
    sources = json.loads((out / "sources.json").read_text())
    assert {(s["path"], s["kind"], s["tz"]) for s in sources} == {
        (f.path, f.kind, f.tz) for f in mixed.files
    }
    assert all((out / s["path"]).is_file() for s in sources)
    with gzip.open(out / "order_platform/actions.jsonl.gz", "rt") as f:
        assert json.loads(f.readline())["ts"].endswith("Z")
    header = (out / "billing/charges.csv").read_text().splitlines()[:2]
    assert "invoice_no" in header[0].split(",")  # a column beyond the contract
    naive = header[1].split(",")[1]
    assert datetime.fromisoformat(naive).tzinfo is None
    record = json.loads((out / "iam/privileges.json").read_text())["Records"][0]
    assert isinstance(record["ts"], int) and record["ts"] > 10**12  # epoch milliseconds
    change = next(iter(_changes(mixed).values()))
    assert change["started_at"][-6:] in ("+01:00", "+02:00")
    charges_tz = {f.path: f.tz for f in mixed.files}
    assert charges_tz["billing/charges.csv"] == mixed.billing_tz
    assert charges_tz["order_platform/actions.jsonl.gz"] == "UTC"
    actions = _jsonl(out / "order_platform/actions.jsonl.gz")
    stamps = [a["ts"] for a in actions]
    assert stamps == sorted(stamps)
    assert len({a["event_id"] for a in actions}) == len(actions)


def test_corrections_file_holds_exactly_three_broken_rows(mixed: WorldSummary) -> None:
    with open(mixed.out_dir / "billing/charges_corrections.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    broken = []
    for row in rows:
        problems = []
        try:
            Decimal(row["amount"])
        except InvalidOperation:
            problems.append("amount")
        if not row["account"]:
            problems.append("account")
        try:
            datetime.fromisoformat(row["ts"])
        except ValueError:
            problems.append("ts")
        broken += problems
        if problems:
            assert row["type"] == "recurring"  # can never become an anomaly
        else:
            assert row["type"] == "refund"
    assert sorted(broken) == ["account", "amount", "ts"] and mixed.broken_rows == 3
    truth = {r["charge_id"] for r in _remediation(mixed)}
    assert not truth & {r["refund_of"] for r in rows}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "json"])
def test_every_format_reads_back_with_duckdb(tmp_path: Path, fmt: str) -> None:
    world = generate_world(tmp_path, customers=100, seed=5, formats=fmt)
    assert len(world.files) == 5 and world.broken_rows == 0
    con = duckdb.connect()
    for f in world.files:
        path = str(world.out_dir / f.path)
        reader = {
            "jsonl": "read_json_auto",
            "json": "read_json_auto",
            "csv": "read_csv_auto",
            "parquet": "read_parquet",
        }[fmt]
        relation = con.sql(f"SELECT * FROM {reader}('{path}')")
        assert len(relation) == f.rows > 0
        assert {"ts", "started_at", "account"} & set(relation.columns)
    charges = con.execute(
        f"SELECT sum(amount::DECIMAL(18, 2)) FROM {reader}('{world.out_dir / world.files[1].path}')"
        " WHERE type = 'one_time'"
    ).fetchone()
    assert charges is not None and charges[0] > world.incident.anomalous_amount


def test_parquet_uses_native_timestamps_and_decimals(tmp_path: Path) -> None:
    world = generate_world(tmp_path, customers=100, formats="parquet")
    schema = pq.read_schema(world.out_dir / "billing/charges.parquet")
    assert str(schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("amount").type).startswith("decimal128")
    frame = pl.read_parquet(world.out_dir / "billing/charges.parquet")
    truth = _remediation(world)
    row = frame.filter(pl.col("charge_id") == truth[0]["charge_id"]).row(0, named=True)
    assert row["ts"] == _utc(truth[0]["charged_at"])
    assert row["amount"] == Decimal(truth[0]["amount"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"formats": "xml"},
        {"customers": 10},
        {"days": 7},
        {"billing_tz": "Mars/Olympus"},
    ],
)
def test_invalid_arguments_are_usage_errors(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        generate_world(tmp_path, **kwargs)


@pytest.mark.parametrize("kwargs", [
    {"second_currency": "EUR"}, {"second_currency": "dollars"}, {"missing_order_id": 1.5},
    {"clock_skew_seconds": 600}])
def test_invalid_billing_shapes_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        BillingShape(**kwargs)


def test_committed_sample_logs_are_what_the_defaults_generate(tmp_path: Path) -> None:
    """Whoever changes the generator must regenerate sample_logs/ (`auditlog generate`)."""
    committed = REPO / "sample_logs"
    fresh = generate_world(tmp_path)
    for path, content in _files(fresh.out_dir).items():
        old = (committed / path).read_bytes()
        if path.endswith(".gz"):  # compare content: zlib versions may differ in bytes
            old, content = gzip.decompress(old), gzip.decompress(content)
        if path.endswith(".parquet"):  # the writer's version is in the file's metadata
            assert pq.read_table(committed / path).equals(pq.read_table(fresh.out_dir / path))
            continue
        assert old == content, f"sample_logs/{path} is stale: regenerate it"
