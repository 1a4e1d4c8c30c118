"""The catalog read once per read-only open (store/catalog.py, issue 14): within
`frozen(con)` the persistent tables and views are listed once and answers derived from
them remembered, yet every answer is the one the catalog gives at that moment: a TEMP
object created or dropped after the snapshot is seen, a writer (never frozen) sees the
tables it creates, and leaving the scope forgets it all. What is counted is queries,
never time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from golden import sample_db

import auditlog
from auditlog import store
from auditlog.analysis.attribution import CHARGE_VIEWS, cause_row, reads_stored, trace_charge
from auditlog.analysis.caveats import NEEDS, charge_caveats
from auditlog.engines.sandbox import install_shared_views
from auditlog.pack.params import with_model_params
from auditlog.pack.units import shared_units
from auditlog.store import catalog
from auditlog.store.attribution import (
    STORED_VIEWS,
    existing_tables,
    fingerprint,
    fresh_stored_views,
    table_exists,
)
from auditlog.store.runs import latest_run_params

__all__ = ["sample_db"]

CATALOG = ("duckdb_tables", "duckdb_views", "information_schema")
ASKED = ["ingested_files", "actions", "charges", "findings", "runs", "attribution_state",
         "coverage_state", "naive_files", "rule_sources", "no_such_table", "charge_causes",
         "scratch", "scratch_view"]


class Counting:
    """A connection that counts the catalog queries it is given (DuckDB's connection
    cannot be patched); frozen by itself, as Investigation.connect freezes its own."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.catalog = 0
        self.statements: list[str] = []

    def execute(self, sql: str, *args: Any) -> duckdb.DuckDBPyConnection:
        self.statements.append(sql)
        self.catalog += any(name in sql for name in CATALOG)
        return self.con.execute(sql, *args)

    def sql(self, sql: str, *args: Any, **kwargs: Any) -> duckdb.DuckDBPyRelation:
        self.statements.append(sql)
        self.catalog += any(name in sql for name in CATALOG)
        return self.con.sql(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def test_frozen_answers_as_the_catalog_does_temp_objects_included(sample_db: Path) -> None:
    con = store.connect(sample_db, read_only=True)
    try:
        plain = existing_tables(con, ASKED)
        with catalog.frozen(con):
            assert catalog.is_frozen(con)
            assert existing_tables(con, ASKED) == plain
            names = catalog.persistent_names(con)
            assert names is not None and "charges" in names and "scratch" not in names
            # TEMP objects made after the snapshot: found, then gone again when dropped.
            con.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")
            con.execute("CREATE TEMP VIEW scratch_view AS SELECT 2 AS y")
            assert existing_tables(con, ASKED) == plain | {"scratch", "scratch_view"}
            assert table_exists(con, "scratch") and table_exists(con, "scratch_view")
            con.execute("DROP TABLE scratch")
            con.execute("DROP VIEW scratch_view")
            assert existing_tables(con, ASKED) == plain
            assert catalog.persistent_names(con) is names  # read once
        assert not catalog.is_frozen(con)
        assert catalog.persistent_names(con) is None
    finally:
        con.close()


def test_a_writer_is_never_frozen_and_sees_what_it_creates(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with auditlog.open(db) as inv, inv.connect(read_only=False) as con:
        assert not catalog.is_frozen(con)
        assert catalog.persistent_names(con) is None
        assert not table_exists(con, "made_later")
        con.execute("CREATE TABLE made_later (x INTEGER)")
        assert table_exists(con, "made_later")
        calls: list[int] = []
        assert catalog.remembered(con, "k", lambda: calls.append(1) or 1) == 1
        assert catalog.remembered(con, "k", lambda: calls.append(1) or 1) == 1
        assert calls == [1, 1]  # nothing remembered on a writer


def test_investigation_freezes_its_read_only_opens_only(sample_db: Path) -> None:
    with auditlog.open(sample_db) as inv:
        with inv.connect() as con:
            assert catalog.is_frozen(con)
            calls: list[int] = []
            assert catalog.remembered(con, "k", lambda: calls.append(1) or 7) == 7
            assert catalog.remembered(con, "k", lambda: calls.append(1) or 8) == 7
            assert calls == [1]
        assert not catalog.is_frozen(con)  # forgotten on leaving


def test_remembered_answers_are_the_unremembered_ones(sample_db: Path) -> None:
    con = store.connect(sample_db, read_only=True)
    try:
        views = with_model_params(shared_units(), latest_run_params(con))
        plain = (fingerprint(con, views), fingerprint(con, []), latest_run_params(con),
                 fresh_stored_views(con, views))
        with catalog.frozen(con):
            for _ in range(2):  # the first computes, the second remembers
                assert (fingerprint(con, views), fingerprint(con, []), latest_run_params(con),
                        fresh_stored_views(con, views)) == plain
            latest_run_params(con)["changed"] = 1  # a caller's copy, not the memo
            assert latest_run_params(con) == plain[2]
        assert plain[3] == set(STORED_VIEWS)  # the sample after a run: fresh
    finally:
        con.close()


def test_installing_says_which_views_read_stored_tables(sample_db: Path) -> None:
    con = store.connect(sample_db, read_only=True)
    try:
        stored = install_shared_views(con, reads=CHARGE_VIEWS)
        assert stored == set(STORED_VIEWS)
        assert all(reads_stored(con, view) == (view in stored) for view in CHARGE_VIEWS)
        ((charge,),) = con.execute("SELECT charge_id FROM attribution_anomalous_charges "
                                   "ORDER BY charge_id LIMIT 1").fetchall()
        assert cause_row(con, charge, stored) == cause_row(con, charge)
        computed = install_shared_views(con, reads=CHARGE_VIEWS, use_stored=False)
        assert computed == set()
        assert not reads_stored(con, "charge_causes")
        assert cause_row(con, charge, computed) == cause_row(con, charge)
    finally:
        con.close()


@pytest.mark.parametrize("freeze", [True, False])
def test_a_charge_trace_asks_the_catalog_once_when_frozen(sample_db: Path, freeze: bool) -> None:
    con = store.connect(sample_db, read_only=True)
    try:
        counting = Counting(con)
        ((charge,),) = con.execute("SELECT charge_id FROM attribution_anomalous_charges "
                                   "ORDER BY charge_id LIMIT 1").fetchall()
        if freeze:
            with catalog.frozen(counting):  # type: ignore[arg-type]
                trace = trace_charge(counting, charge)  # type: ignore[arg-type]
                caveats = charge_caveats(counting, NEEDS["trace charge"], charge,  # type: ignore[arg-type]
                                         trace.anomalous)
        else:
            trace = trace_charge(counting, charge)  # type: ignore[arg-type]
            caveats = charge_caveats(counting, NEEDS["trace charge"], charge,  # type: ignore[arg-type]
                                     trace.anomalous)
        again = trace_charge(con, charge)
        assert trace == again
        assert caveats == charge_caveats(con, NEEDS["trace charge"], charge, again.anomalous)
        if freeze:
            assert counting.catalog == 1
            # the data's counts once, though the attribution and the coverage both ask
            assert sum("SELECT (SELECT count(*) FROM actions)" in s
                       for s in counting.statements) == 1
        else:
            assert counting.catalog > 1
    finally:
        con.close()
