"""The attribution `auditlog run` stores (rules/stored.py) gives exactly what computing
the shared views gives, is never used once the data changed, and a database without it
still works."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog import store
from auditlog.analysis.attribution import (
    remediation,
    remediation_records,
    rules_for,
    trace_account,
    trace_change,
    trace_charge,
)
from auditlog.analysis.findings import run_packs
from auditlog.analysis.summary import incident_summary
from auditlog.engines.sandbox import install_shared_views, open_sandbox
from auditlog.errors import UsageError
from auditlog.export.bundle import gather
from auditlog.ingest import ingest_paths
from auditlog.pack import load_rules
from auditlog.pack.units import shared_units
from auditlog.report.accountability import accountability
from auditlog.store.attribution import (
    EVIDENCE_STATE,
    EVIDENCE_TABLE,
    KEYED_VIEWS,
    STATE_TABLE,
    STORED_VIEWS,
    evidence_is_fresh,
    fresh_stored_views,
    key_name,
    stored_name,
)
from auditlog.values import as_json
from auditlog.world import generate_world
from tests.test_report import loaded_db

STORED_TABLES = (*(stored_name(v) for v in STORED_VIEWS), STATE_TABLE, EVIDENCE_TABLE,
                 EVIDENCE_STATE)


# One world of its own seed (tests/test_refresh_incremental.py refreshes another).
@pytest.fixture(scope="module", params=[29])
def run_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world, ingested and run once."""
    seed: int = request.param
    world = tmp_path_factory.mktemp(f"world{seed}")
    generate_world(world, customers=500, seed=seed, days=21, formats="mixed")
    return loaded_db(world, tmp_path_factory.mktemp(f"db{seed}") / "w.duckdb")


@pytest.fixture()
def copy_db(run_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(run_db, db)
    return db


def read_only(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = store.connect(db, read_only=True)
    try:
        yield con
    finally:
        con.close()


def drop_stored(db: Path) -> None:
    """What a database from before stored attribution looks like."""
    con = store.connect(db)
    try:
        for table in STORED_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    finally:
        con.close()


def outputs(db: Path) -> dict[str, Any]:
    """Everything that reads the attribution, as JSON text (exact values, total order)."""
    for con in read_only(db):
        frame = remediation(con)
        charges = sorted(con.execute("SELECT charge_id FROM charges WHERE type IS DISTINCT "
                                     "FROM 'refund' ORDER BY charge_id").fetchall())
        ids = frame["charge_id"].to_list()
        sample = [c for (c,) in charges[:: max(1, len(charges) // 8)]] + ids[:8] + ids[-3:]
        changes = sorted({c for c in frame["change_id"].to_list() if c is not None})
        actors = sorted({a for a in frame["actor"].to_list() if a is not None})
        export = gather(con)
        doc = {
            "remediation": remediation_records(frame),
            "charges": {c: trace_charge(con, c).as_json() for c in sample},
            "changes": {c: trace_change(con, c).as_json() for c in changes},
            "accounts": {a: trace_account(con, a).as_json() for a in actors},
            "summary": as_json(incident_summary(con)),
            "report": accountability(con).as_json(),
            "export": {name: t.rows() for name, t in export.tables.items()},
        }
        return json.loads(json.dumps(doc, default=str, sort_keys=True))
    raise AssertionError("unreachable")


def test_run_stores_the_attribution_and_readers_use_it(run_db: Path) -> None:
    for con in read_only(run_db):
        assert fresh_stored_views(con, shared_units()) == set(STORED_VIEWS)
        assert evidence_is_fresh(con)
        install_shared_views(con)
        views = dict(con.execute("SELECT view_name, sql FROM duckdb_views() "
                                 "WHERE temporary").fetchall())
        for name in STORED_VIEWS:
            assert stored_name(name) in views[name]
        assert "attribution_" not in views["order_causes"]


def test_stored_and_computed_outputs_are_identical(run_db: Path, copy_db: Path) -> None:
    drop_stored(copy_db)
    for con in read_only(copy_db):
        assert fresh_stored_views(con, shared_units()) == set()
        assert not evidence_is_fresh(con)
    stored, computed = outputs(run_db), outputs(copy_db)
    assert stored["remediation"], "the world has an incident"
    assert any(doc["rules"] for doc in stored["charges"].values())
    assert stored == computed


def test_a_key_table_holds_the_key_and_locator_of_every_stored_row_sorted(
        run_db: Path) -> None:
    for con in read_only(run_db):
        for view, (key, locator) in KEYED_VIEWS.items():
            pairs = sorted(con.execute(f"SELECT {key}, {locator} FROM {stored_name(view)}")
                           .fetchall(), key=repr)
            keys = con.execute(f"SELECT {key}, {locator} FROM {key_name(view)}").fetchall()
            assert sorted(keys, key=repr) == pairs and len(pairs) > 100
            assert [k for k, _ in keys] == sorted(k for k, _ in keys)  # as stored


def test_a_trace_over_the_stored_tables_finds_the_charge_by_its_key_table(
        copy_db: Path) -> None:
    for con in read_only(copy_db):
        ((charge,),) = con.execute(f"SELECT min(charge_id) FROM {stored_name('anomalous_charges')}"
                                   ).fetchall()
        assert trace_charge(con, charge).chain[0].id == charge
    con = store.connect(copy_db)
    try:  # a key table out of step with its stored table: the look-up goes through it
        con.execute(f"UPDATE {key_name('charge_causes')} SET ts = ts - INTERVAL 1 DAY "
                    "WHERE charge_id = ?", [charge])
    finally:
        con.close()
    for con in read_only(copy_db):
        with pytest.raises(UsageError, match="no charge"):
            trace_charge(con, charge)


def test_rules_of_an_item_match_the_findings_scan(run_db: Path, copy_db: Path) -> None:
    drop_stored(copy_db)
    for con in read_only(run_db):
        items = [i for (i,) in con.execute(
            f"SELECT DISTINCT item FROM {EVIDENCE_TABLE} ORDER BY item").fetchall()]
        indexed = {i: rules_for(con, i) for i in items[:: max(1, len(items) // 60)]}
    for con in read_only(copy_db):
        scanned = {i: rules_for(con, i) for i in indexed}
    assert indexed == scanned
    assert any(len(r) > 1 for r in indexed.values())


def new_charges(tmp_path: Path, db: Path) -> list[str]:
    """Ingest two one_time charges no customer ordered: anomalous, caused by nothing."""
    con = store.connect(db)
    try:
        return ingest_late_charges(tmp_path, con)
    finally:
        con.close()


def ingest_late_charges(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> list[str]:
    ((account, product),) = con.execute("SELECT account, product FROM charges "
                                        "ORDER BY ts DESC, charge_id LIMIT 1").fetchall()
    ((service,),) = con.execute("SELECT min(account) FROM accounts "
                                "WHERE account_type = 'service'").fetchall()
    rows = [{"charge_id": f"CH-LATE-{n}", "ts": f"2027-01-0{n}T10:00:00Z", "account": account,
             "product": product, "amount": "12.3400", "currency": "EUR", "type": "one_time",
             "initiated_by": service}
            for n in (1, 2)]
    path = tmp_path / "late_charges.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ingest_paths(con, [path], kind="charges", tz="UTC")
    return [r["charge_id"] for r in rows]


def test_after_an_ingest_without_a_run_the_stored_tables_are_not_used(
        copy_db: Path, tmp_path: Path) -> None:
    late = new_charges(tmp_path, copy_db)
    for con in read_only(copy_db):
        assert fresh_stored_views(con, shared_units()) == set()
        ids = remediation(con)["charge_id"].to_list()
        assert set(late) <= set(ids)
        doc = trace_charge(con, late[0]).as_json()
        assert doc["anomalous"] and doc["chain"][0]["id"] == late[0]
    after_ingest = outputs(copy_db)
    drop_stored(copy_db)
    assert outputs(copy_db) == after_ingest


def test_a_new_run_stores_the_new_data(copy_db: Path, tmp_path: Path) -> None:
    late = new_charges(tmp_path, copy_db)
    run_packs(copy_db, load_rules())
    for con in read_only(copy_db):
        assert fresh_stored_views(con, shared_units()) == set(STORED_VIEWS)
        stored = con.execute(f"SELECT count(*) FROM {stored_name('anomalous_charges')} "
                             "WHERE charge_id IN (SELECT unnest(?))", [late]).fetchall()
        assert stored == [(len(late),)]


def test_a_sandbox_computes_the_views_unless_a_run_has_just_stored_them(
        run_db: Path) -> None:
    # rules validate and rules test open the sandbox plainly: never the stored tables.
    con = open_sandbox(run_db)
    try:
        definitions = " ".join(r[0] for r in con.execute(
            "SELECT sql FROM duckdb_views() WHERE temporary").fetchall())
    finally:
        con.close()
    assert "attribution_" not in definitions
    assert "charge_causes" in definitions


def test_a_run_recomputes_before_its_rules_read_the_stored_tables(
        copy_db: Path, tmp_path: Path) -> None:
    late = new_charges(tmp_path, copy_db)
    run_packs(copy_db, load_rules())
    for con in read_only(copy_db):
        cited = con.execute("SELECT count(*) FROM findings WHERE present AND "
                            "rule_id LIKE 'unauthorized_%' AND list_has_any(evidence, ?)",
                            [late]).fetchall()
    assert cited[0][0] > 0, "the run's rules did not see the charges loaded after the last run"
