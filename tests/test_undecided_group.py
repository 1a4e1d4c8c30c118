"""The group a charge's `undecided` is judged in (analysis/undecided.py), found by
widening a time window around the one traced charge, is the connected part of the whole
pairing graph that holds it: the graph built here at once from every open charge and
every unbound order, as queries/shared/unordered_causes.sql defines them, of random
worlds dense enough for chains of charges and orders, orders of several actions days
apart, orders billed by id and charges naming an order no action carries."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from auditlog import store
from auditlog.analysis.undecided import pairing_group
from auditlog.engines.cases import build_fixture
from auditlog.engines.sandbox import install_shared_views

# Every edge of the model's pairing graph: an open one-time charge (no order_id an action
# carries) and an order of its customer and product that no one-time charge names, whose
# reach (clock skew before its first action, pairing hours after its last) holds it.
EDGES_SQL = """
    WITH spans AS (
        SELECT customer, object, order_key, min(ts) AS first_ts, max(ts) AS last_ts
        FROM order_actions
        WHERE object IS NOT NULL AND (order_id IS NULL OR order_id NOT IN (
            SELECT order_id FROM sale_charges
            WHERE charge_type = 'one_time' AND order_id IS NOT NULL))
        GROUP BY customer, object, order_key),
    open_charges AS (
        SELECT charge_id, ts, account, product FROM sale_charges
        WHERE charge_type = 'one_time' AND (order_id IS NULL OR order_id NOT IN (
            SELECT order_id FROM order_actions WHERE order_id IS NOT NULL)))
    SELECT c.charge_id, c.account, c.product, c.ts, s.order_key
    FROM open_charges AS c CROSS JOIN model_params AS p
    LEFT JOIN spans AS s
      ON s.customer = c.account AND s.object = c.product
     AND c.ts >= s.first_ts - p.clock_skew_minutes * INTERVAL 1 MINUTE
     AND c.ts <= s.last_ts + p.pairing_hours * INTERVAL 1 HOUR"""


START = datetime(2026, 5, 1, tzinfo=UTC)


def random_world(seed: int) -> dict[str, list[dict[str, Any]]]:
    """Three customers, two products, ten days: orders of the customer or the service,
    with or without order_id, some confirmed by the customer minutes or days later;
    charges without order_id, with an existing order's id, or with an id of no order."""
    rng = random.Random(seed)
    actions: list[dict[str, Any]] = []
    charges: list[dict[str, Any]] = []

    def when() -> str:
        return (START + timedelta(minutes=rng.randrange(10 * 24 * 60))).isoformat()

    for n in range(90):
        customer, product = rng.choice(["K1", "K2", "K3"]), rng.choice(["ADD", "TV"])
        at = START + timedelta(minutes=rng.randrange(10 * 24 * 60))
        order_id = f"O{n}" if rng.random() < 0.6 else None
        actor = customer if rng.random() < 0.4 else "svc"
        actions.append({"event_id": f"A{n}", "ts": at.isoformat(), "actor": actor,
                        "action": "subscribe", "system": "orders",
                        "target_account": customer, "object": product,
                        **({"order_id": order_id} if order_id else {})})
        if order_id and rng.random() < 0.4:  # confirmed minutes or days later
            later = at + timedelta(minutes=rng.choice([2, 90, 26 * 60, 40 * 60]))
            actions.append({"event_id": f"A{n}c", "ts": later.isoformat(), "actor": customer,
                            "action": "confirm_order", "system": "orders",
                            "target_account": customer, "object": product,
                            "order_id": order_id})
    for n in range(70):
        customer, product = rng.choice(["K1", "K2", "K3"]), rng.choice(["ADD", "TV"])
        named = rng.random()
        order = (f"O{rng.randrange(90)}" if named < 0.15 else
                 f"NONE{n}" if named < 0.25 else None)
        charges.append({"charge_id": f"Z{n}", "ts": when(), "account": customer,
                        "product": product, "amount": "1.00", "currency": "EUR",
                        **({"order_id": order} if order else {})})
    return {"actions": actions, "charges": charges}


@pytest.fixture(scope="module", params=[1, 2, 3, 4])
def connection(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("pairing") / "world.duckdb"
    build_fixture(path, random_world(request.param))
    con = store.connect(path, read_only=True)
    install_shared_views(con)
    yield con
    con.close()


def components(con: duckdb.DuckDBPyConnection) -> tuple[
        dict[str, tuple[frozenset[str], frozenset[str]]], dict[str, tuple[str, str, datetime]]]:
    """Per open charge: the charges and orders of its connected part; and the charges."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    charges: dict[str, tuple[str, str, datetime]] = {}
    for charge_id, account, product, ts, order_key in con.execute(EDGES_SQL).fetchall():
        charges[charge_id] = (account, product, ts)
        find("c:" + charge_id)
        if order_key is not None:  # orders are per customer and product
            parent[find("c:" + charge_id)] = find(f"o:{account}\0{product}\0{order_key}")
    members: dict[str, set[str]] = defaultdict(set)
    for node in list(parent):
        members[find(node)].add(node)
    parts = {}
    for charge_id in charges:
        part = members[find("c:" + charge_id)]
        parts[charge_id] = (frozenset(n[2:] for n in part if n.startswith("c:")),
                            frozenset(n[2:].rsplit("\0", 1)[1] for n in part
                                      if n.startswith("o:")))
    return parts, charges


def test_the_windowed_group_is_the_whole_graphs_connected_part(
        connection: duckdb.DuckDBPyConnection) -> None:
    parts, charges = components(connection)
    sizes = {(len(cs), len(os)) for cs, os in parts.values()}
    # A charge with its order, and larger groups of both kinds.
    assert (1, 1) in sizes and any(c > o for c, o in sizes) and any(o > c for c, o in sizes), \
        sizes
    for charge_id in sorted(parts):
        account, product, ts = charges[charge_id]
        group = pairing_group(connection, charge_id, ts, account, product)
        assert (group.charges, frozenset(o.key for o in group.orders)) == parts[charge_id], \
            charge_id
