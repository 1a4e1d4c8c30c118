"""An ingest or a forget after a run refreshes the stored attribution for what its rows
reach (store/refresh.py), and the stored tables are then exactly the views computed
afresh over all the data: row for row, and trace for trace (issue 14).

Batches of new rows are drawn (seeded) from a generated world's own rows, each aimed at
one of the ways a row moves the model: new charges and orders of existing customers, an
order id that ties or unties a charge, refunds, a change or a service account that moves
a blame, grants and revocations, and rows the attribution never reads. They are ingested
one after another, then forgotten in another order; after every step the stored tables
are compared with the computed views, and after each forget with the tables as they were
before that batch came.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

import auditlog
from auditlog import store
from auditlog.analysis import stored_refresh
from auditlog.analysis.attribution import trace_charge
from auditlog.engines import sandbox
from auditlog.pack.units import shared_units
from auditlog.store import refresh
from auditlog.store.attribution import (
    KEYED_VIEWS,
    STORED_VIEWS,
    fresh_stored_views,
    key_name,
    stored_name,
)
from auditlog.world import generate_world
from tests.test_report import loaded_db

Row = dict[str, Any]


# One world: each batch is asserted to reach rows of it, and tests/test_stored_attribution.py
# checks the stored tables against the computed views on a world of another seed (a
# second world here cost ~3 minutes of CI for the same assertions).
@pytest.fixture(scope="module", params=[11])
def ran_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world, ingested and run once."""
    world = tmp_path_factory.mktemp(f"world{request.param}")
    generate_world(world, customers=400, seed=request.param, days=21, formats="jsonl")
    return loaded_db(world, tmp_path_factory.mktemp("db") / "w.duckdb")


@pytest.fixture()
def db(ran_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(ran_db, copy)
    return copy


@pytest.fixture()
def incremental_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if a refresh recomputes the whole model: these tests are about the other way."""
    def refused(*_args: Any, **_kwargs: Any) -> bool:
        raise AssertionError("the whole model was recomputed")
    monkeypatch.setattr(stored_refresh, "persist_attribution", refused)


def reading(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = store.connect(db, read_only=True)
    try:
        yield con
    finally:
        con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any] | None = None) -> list[Row]:
    result = con.execute(sql, args or [])
    names = [c[0] for c in result.description or ()]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def stored_tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored table's rows, the key tables' (store/attribution.KEYED_VIEWS) too."""
    names = {v: stored_name(v) for v in STORED_VIEWS} | {key_name(v): key_name(v)
                                                          for v in KEYED_VIEWS}
    for con in reading(db):
        return {v: sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                for v, table in names.items()}
    raise AssertionError("unreachable")


def key_differences(db: Path) -> dict[str, int]:
    """Rows of a key table that are not (key, locator) of its stored table's rows, or
    the other way (as multisets: one key row per stored row)."""
    out = {}
    for con in reading(db):
        for view, (key, locator) in KEYED_VIEWS.items():
            pairs = f"SELECT {key}, {locator} FROM {stored_name(view)}"
            keys = f"SELECT {key}, {locator} FROM {key_name(view)}"
            ((n,),) = con.execute(f"SELECT count(*) FROM (({pairs} EXCEPT ALL {keys}) "
                                  f"UNION ALL ({keys} EXCEPT ALL {pairs}))").fetchall()
            out[view] = n
    return out


def differences(db: Path) -> dict[str, int]:
    """Rows in a stored table and not in its view computed afresh, or the other way."""
    for con in reading(db):
        assert fresh_stored_views(con, shared_units()) == set(STORED_VIEWS)
        sandbox.install_shared_views(con, use_stored=False)
        out = {}
        for view in STORED_VIEWS:
            table = stored_name(view)
            ((n,),) = con.execute(
                f"SELECT count(*) FROM ((SELECT * FROM {table} EXCEPT ALL SELECT * FROM {view})"
                f" UNION ALL (SELECT * FROM {view} EXCEPT ALL SELECT * FROM {table}))").fetchall()
            out[view] = n
        return out
    raise AssertionError("unreachable")


def assert_traces_equal(db: Path, charges: list[str]) -> None:
    """Each charge's trace from the stored tables is the one computed without them."""
    for con in reading(db):
        stored = [trace_charge(con, c).as_json() for c in charges]
    computing = sandbox.install_shared_views

    def computed_views(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> None:
        computing(con, *args, **{**kwargs, "use_stored": False})

    from auditlog.analysis import attribution
    original = attribution.install_shared_views
    attribution.install_shared_views = computed_views  # type: ignore[assignment]
    try:
        for con in reading(db):
            computed = [trace_charge(con, c).as_json() for c in charges]
    finally:
        attribution.install_shared_views = original  # type: ignore[assignment]
    assert stored == computed


# --- batches of new rows, drawn from the world's own ------------------------------------------


def plain(row: Row) -> Row:
    """A row as a JSON Lines file holds it."""
    out: Row = {}
    for key, value in row.items():
        if key.startswith("_") or key == "extra":
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[key] = value
    return out


def pick(rng: random.Random, population: list[Row], k: int) -> list[Row]:
    assert population, "the world has no such rows"
    return rng.sample(population, min(k, len(population)))


def shifted(value: datetime, rng: random.Random, lo: float, hi: float) -> datetime:
    return value + timedelta(minutes=rng.uniform(lo, hi))


ORDER_ACTIONS = "('subscribe', 'confirm_order', 'change_plan', 'add_package', 'order')"


def customers_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """New charges and order actions of existing customers, near their own orders."""
    charges = pick(rng, rows(con, "SELECT * FROM charges WHERE type = 'one_time' "
                                   "ORDER BY charge_id"), 12)
    actions = pick(rng, rows(con, f"SELECT * FROM actions WHERE lower(action) IN "
                                   f"{ORDER_ACTIONS} AND result = 'success' ORDER BY event_id"),
                         12)
    orders = [a["order_id"] for a in actions if a["order_id"]]
    new_charges = []
    for n, c in enumerate(charges):
        order = rng.choice([c["order_id"], None, f"ORD{tag}{n}", *(orders[:2])])
        new_charges.append({**c, "charge_id": f"CH{tag}{n}", "order_id": order,
                            "ts": shifted(c["ts"], rng, -120, 40 * 60)})
    new_actions = []
    for n, a in enumerate(actions):
        order = rng.choice([a["order_id"], None, f"ORD{tag}{n}"])
        new_actions.append({**a, "event_id": f"EV{tag}{n}", "order_id": order,
                            "ts": shifted(a["ts"], rng, -30, 24 * 60)})
    return {"charges": new_charges, "actions": new_actions}


def orders_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """The customer confirms orders billed as anomalous; charges name orders that had
    none (binding them takes them out of the pairing by time), some of them charges of
    another product than the order's (a charge and its order in two groups)."""
    anomalous = pick(rng, rows(con, "SELECT c.* FROM charges AS c JOIN "
                                     "attribution_anomalous_charges AS a USING (charge_id) "
                                     "WHERE c.order_id IS NOT NULL ORDER BY charge_id"), 6)
    # ... among them the first of each blamed pair's: its blame starts later, or not at all.
    anomalous += rows(con, """
        SELECT * FROM charges WHERE order_id IS NOT NULL AND charge_id IN (
            SELECT arg_min(charge_id, (cause_time, charge_id)) FROM attribution_anomalous_charges
            WHERE change_id IS NOT NULL GROUP BY actor, cause_system)
        ORDER BY charge_id""")
    confirms = [{"event_id": f"EV{tag}{n}", "ts": shifted(c["ts"], rng, -20, -1),
                 "actor": c["account"], "actor_type": "customer", "action": "confirm_order",
                 "system": c["system"], "target_account": c["account"], "object": c["product"],
                 "order_id": c["order_id"], "channel": "web", "result": "success"}
                for n, c in enumerate(anomalous)]
    unbound = pick(rng, rows(con, f"""
        SELECT a.* FROM actions AS a WHERE lower(a.action) IN {ORDER_ACTIONS}
          AND a.order_id IS NOT NULL AND a.result = 'success'
          AND a.order_id NOT IN (SELECT order_id FROM charges WHERE order_id IS NOT NULL)
        ORDER BY a.event_id"""), 6)
    products = sorted({r[0] for r in con.execute("SELECT product FROM charges").fetchall()})
    naming = [{"charge_id": f"CH{tag}{n}", "ts": shifted(a["ts"], rng, 1, 90),
               "account": a["target_account"] or a["actor"],
               "product": a["object"] if n % 2 else
               rng.choice([p for p in products if p != a["object"]]),
               "amount": "9.99", "currency": "EUR", "type": "one_time",
               "order_id": a["order_id"], "initiated_by": a["actor"], "system": a["system"],
               "channel": "api"} for n, a in enumerate(unbound) if a["object"]]
    return {"actions": confirms, "charges": naming}


def refunds_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """Refunds, whole and partial, of anomalous and of ordinary charges."""
    picked = pick(rng, rows(con, "SELECT * FROM charges WHERE type = 'one_time' "
                                  "AND charge_id IN (SELECT charge_id FROM "
                                  "attribution_anomalous_charges) ORDER BY charge_id"), 5)
    picked += pick(rng, rows(con, "SELECT * FROM charges WHERE type = 'one_time' "
                                   "ORDER BY charge_id"), 5)
    # A refund may be booked under another product code than the charge it refunds.
    return {"charges": [
        {**c, "charge_id": f"CH{tag}{n}", "type": "refund", "refund_of": c["charge_id"],
         "product": "ADJUSTMENT" if n in (0, 5) else c["product"],
         "ts": shifted(c["ts"], rng, 60, 3 * 24 * 60),
         "amount": str(c["amount"] if n % 2 else (c["amount"] / 2).quantize(Decimal("0.01")))}
        for n, c in enumerate(picked)]}


def blame_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """A change just before a blamed service account's first anomalous cause on its
    system (the blame moves to it), and a rollback."""
    blames = rows(con, "SELECT * FROM attribution_change_blame ORDER BY actor, system")
    change = rows(con, "SELECT * FROM changes ORDER BY change_id LIMIT 1")[0]
    changes = []
    for n, b in enumerate(pick(rng, blames, min(2, len(blames)))):
        changes.append({**change, "change_id": f"CHG{tag}{n}", "system": b["system"],
                        "kind": "rollback" if n else "config",
                        "started_at": b["t0"] - timedelta(minutes=5),
                        "window_start": None, "window_end": None, "finished_at": None})
    return {"changes": changes}


SERVICES = ("SELECT actor FROM actions WHERE actor_type = 'service' "
            "UNION SELECT account FROM accounts WHERE account_type = 'service'")


def human_culprit(con: duckdb.DuckDBPyConnection) -> str:
    """The account, not a service, that caused the most anomalous charges (the world's
    operator), whom a human's actions are never blamed on a change for."""
    ((actor,),) = con.execute(f"""
        SELECT actor FROM attribution_charge_causes
        WHERE anomalous AND actor NOT IN ({SERVICES})
        GROUP BY actor ORDER BY count(*) DESC, actor LIMIT 1""").fetchall()
    return str(actor)


NEW_OPERATOR = "op-new~operator"


def operator_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """A new operator, outside the directory, placing the orders the culprit placed
    (new ids, an hour later), and their charges: anomalous charges of a human."""
    culprit = human_culprit(con)
    actions = pick(rng, rows(con, f"SELECT * FROM actions WHERE actor = ? AND lower(action) "
                                  f"IN {ORDER_ACTIONS} AND order_id IS NOT NULL "
                                  "ORDER BY event_id", [culprit]), 6)
    new_actions, new_charges = [], []
    for n, a in enumerate(actions):
        for c in rows(con, "SELECT * FROM charges WHERE order_id = ? ORDER BY charge_id",
                      [a["order_id"]]):
            new_charges.append({**c, "charge_id": f"CH{tag}{n}{c['charge_id']}",
                                "order_id": f"ORD{tag}{n}", "initiated_by": NEW_OPERATOR,
                                "ts": c["ts"] + timedelta(hours=1)})
        new_actions.append({**a, "event_id": f"EV{tag}{n}", "actor": NEW_OPERATOR,
                            "order_id": f"ORD{tag}{n}", "ts": a["ts"] + timedelta(hours=1)})
    return {"actions": new_actions, "charges": new_charges}


def service_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """The culprit logged once as a service account: a service now, its charges blamed."""
    culprit = human_culprit(con)
    ((system,),) = con.execute("SELECT cause_system FROM attribution_charge_causes "
                               "WHERE actor = ? AND anomalous LIMIT 1", [culprit]).fetchall()
    return {"actions": [{"event_id": f"EV{tag}0", "ts": datetime(2020, 1, 1).astimezone(),
                         "actor": culprit, "actor_type": "service", "action": "sync_orders",
                         "system": system, "result": "success"}]}


def directory_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """The operator_batch's new operator in the directory, as a service account."""
    return {"accounts": [{"account": NEW_OPERATOR, "account_type": "service", "owner": "ops"}]}


def crossed_orders(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Orders named by a charge of another product or account than their actions'."""
    return rows(con, """
        SELECT DISTINCT a.order_id, coalesce(a.target_account, a.actor) AS customer,
               a.object, a.ts AS action_ts, c.account, c.product, c.ts AS charge_ts
        FROM actions AS a JOIN charges AS c ON c.order_id = a.order_id
        WHERE a.object IS NOT NULL AND (c.product <> a.object
              OR c.account <> coalesce(a.target_account, a.actor))
        ORDER BY ALL""")


def order_group_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """Charges without order_id in the group of a crossed order's actions, right after
    them: the order is bound by the other group's charge and may not pair with them."""
    return {"charges": [
        {"charge_id": f"CH{tag}{n}", "ts": o["action_ts"] + timedelta(minutes=3),
         "account": o["customer"], "product": o["object"], "amount": "4.99",
         "currency": "EUR", "type": "one_time", "system": "order-system", "channel": "api"}
        for n, o in enumerate(crossed_orders(con))]}


def charge_group_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """A charge without order_id in the group of a crossed order's charge: that group is
    recomputed, and its charge's cause is an action of another group."""
    return {"charges": [
        {"charge_id": f"CH{tag}{n}", "ts": o["charge_ts"] + timedelta(days=2),
         "account": o["account"], "product": o["product"], "amount": "4.99",
         "currency": "EUR", "type": "one_time", "system": "order-system", "channel": "api"}
        for n, o in enumerate(crossed_orders(con))]}


def grants_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """Grants again, and revocations, of privileges already granted."""
    picked = pick(rng, rows(con, "SELECT * FROM privileges WHERE operation = 'grant' "
                                  "ORDER BY event_id"), 4)
    out = []
    for n, p in enumerate(picked):
        out.append({**p, "event_id": f"PR{tag}{n}",
                    "operation": "revoke" if n % 2 else "grant",
                    "ts": shifted(p["ts"], rng, 1, 3 * 24 * 60)})
    return {"privileges": out}


def unrelated_batch(con: duckdb.DuckDBPyConnection, rng: random.Random, tag: str) -> dict:
    """Logins: rows the attribution never reads."""
    actors = rows(con, "SELECT DISTINCT actor FROM actions ORDER BY actor LIMIT 50")
    return {"actions": [{"event_id": f"EV{tag}{n}", "ts": datetime(2026, 9, 9, 9, n).astimezone(),
                         "actor": a["actor"], "actor_type": "human", "action": "login",
                         "system": "sso", "result": "success"}
                        for n, a in enumerate(pick(rng, actors, 5))]}


BATCHES: dict[str, Callable[[duckdb.DuckDBPyConnection, random.Random, str], dict]] = {
    "customers": customers_batch, "orders": orders_batch, "refunds": refunds_batch,
    "blame": blame_batch, "operator": operator_batch, "service": service_batch,
    "directory": directory_batch, "order_group": order_group_batch,
    "charge_group": charge_group_batch, "grants": grants_batch,
    "unrelated": unrelated_batch,
}


def write_batch(db: Path, folder: Path, name: str, seed: int) -> tuple[list[Path], list[str]]:
    """The batch's files (one per kind), and the ids of the charges it touches."""
    for con in reading(db):
        batch = BATCHES[name](con, random.Random(f"{seed}-{name}"), f"~{name}")
    folder.mkdir(parents=True, exist_ok=True)
    assert any(batch.values()), f"the world gave batch {name} no rows"
    paths = []
    for kind, new in batch.items():
        if not new:
            continue
        path = folder / f"{name}-{kind}.jsonl"
        path.write_text("".join(json.dumps(plain(r)) + "\n" for r in new), encoding="utf-8")
        paths.append(path)
    touched = [r["refund_of"] if r.get("type") == "refund" else r["charge_id"]
               for r in batch.get("charges", [])]
    return paths, touched


def ingest(db: Path, paths: list[Path]) -> None:
    with auditlog.open(db) as inv:
        for path in paths:
            frame = inv.ingest(path, kind=path.stem.split("-")[-1], tz="UTC")
            assert int(frame["quarantined"].sum()) == 0, path


def anomalous_sample(db: Path, n: int) -> list[str]:
    for con in reading(db):
        ids = [r[0] for r in con.execute("SELECT charge_id FROM attribution_anomalous_charges "
                                         "ORDER BY charge_id").fetchall()]
        return ids[:: max(1, len(ids) // n)][:n]
    raise AssertionError("unreachable")


# --- the tests ---------------------------------------------------------------------------------


def test_the_refresh_holds_for_the_views_as_they_are() -> None:
    """If this fails, a shared view now reads other tables or views than the incremental
    refresh was derived from: check store/refresh.py's partition keys against the new SQL
    and update EXPECTED_READS (until then every refresh recomputes the whole model)."""
    assert refresh.dependencies_hold(shared_units())


@pytest.mark.usefixtures("incremental_only")
def test_ingests_then_forgets_keep_the_stored_tables_the_computed_ones(
        db: Path, tmp_path: Path) -> None:
    seed = int(db.stat().st_size)  # differs between worlds; fixed for each
    before: list[dict[str, list[tuple[Any, ...]]]] = []
    loaded: list[tuple[str, list[Path]]] = []
    for name in BATCHES:
        before.append(stored_tables(db))
        paths, touched = write_batch(db, tmp_path / "batches", name, seed)
        ingest(db, paths)
        loaded.append((name, paths))
        assert differences(db) == dict.fromkeys(STORED_VIEWS, 0), f"after ingesting {name}"
        assert key_differences(db) == dict.fromkeys(KEYED_VIEWS, 0), f"after ingesting {name}"
        assert_traces_equal(db, touched[:4] + anomalous_sample(db, 2))
    # Forgotten in another order than they came: the tables are the computed ones at each
    # step; the last one forgotten leaves them as the run left them.
    order = list(range(len(loaded)))
    random.Random(seed).shuffle(order)
    for step, index in enumerate(order):
        name, paths = loaded[index]
        with auditlog.open(db) as inv:
            inv.forget([str(p) for p in paths])
        assert differences(db) == dict.fromkeys(STORED_VIEWS, 0), f"after forgetting {name}"
        assert key_differences(db) == dict.fromkeys(KEYED_VIEWS, 0), f"after forgetting {name}"
        if step == len(order) - 1:
            assert stored_tables(db) == before[0]
    assert_traces_equal(db, anomalous_sample(db, 3))


def test_forgetting_the_last_batch_gives_back_the_tables_before_it(
        db: Path, tmp_path: Path, incremental_only: None) -> None:
    for name in ("customers", "blame"):
        tables = stored_tables(db)
        paths, _ = write_batch(db, tmp_path, name, 5)
        ingest(db, paths)
        with auditlog.open(db) as inv:
            inv.forget([str(p) for p in paths])
        assert stored_tables(db) == tables, name


def test_forgetting_the_charges_a_blame_rests_on_takes_the_blame_away(
        db: Path, tmp_path: Path, incremental_only: None) -> None:
    loaded = {}
    for name in ("operator", "directory"):
        loaded[name], _ = write_batch(db, tmp_path, name, 7)
        ingest(db, loaded[name])

    def blamed() -> list[Row]:
        for con in reading(db):
            return rows(con, "SELECT * FROM attribution_change_blame WHERE actor = ?",
                        [NEW_OPERATOR])
        raise AssertionError("unreachable")
    assert blamed()  # a service account now: its anomalous charges are blamed on a change
    with auditlog.open(db) as inv:
        inv.forget([str(p) for p in loaded["operator"]])
    assert not blamed()
    assert differences(db) == dict.fromkeys(STORED_VIEWS, 0)


def test_a_batch_that_reaches_most_charges_recomputes_the_model(
        db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refresh, "FULL_SHARE", 0.0)
    recomputed: list[bool] = []
    whole = stored_refresh.persist_attribution

    def counted(*args: Any, **kwargs: Any) -> bool:
        recomputed.append(True)
        return whole(*args, **kwargs)
    monkeypatch.setattr(stored_refresh, "persist_attribution", counted)
    paths, touched = write_batch(db, tmp_path, "customers", 3)
    ingest(db, paths)
    assert recomputed
    assert differences(db) == dict.fromkeys(STORED_VIEWS, 0)
    assert key_differences(db) == dict.fromkeys(KEYED_VIEWS, 0)
    assert_traces_equal(db, touched[:2])


def test_a_refresh_that_fails_leaves_the_stored_tables_as_they_were(
        db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = stored_tables(db)
    paths, _ = write_batch(db, tmp_path, "refunds", 4)

    def broken(self: refresh.Refresher) -> int:
        raise RuntimeError("disk full")
    monkeypatch.setattr(refresh.Refresher, "anomalous_charges", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(db, paths)
    # The rows were loaded (their own transaction); the attribution is stale, not wrong.
    assert stored_tables(db) == tables
    for con in reading(db):
        assert fresh_stored_views(con, shared_units()) == set()
