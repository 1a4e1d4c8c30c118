"""A trace installs only the shared views its SQL reads (start time, issue 14): the views
each trace declares (analysis/attribution.py) cover every view its SQL reads, in every
branch the sample incident reaches, with the stored attribution fresh and stale; and the
answer is the one over every view installed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from golden import sample_db

from auditlog import store
from auditlog.analysis import attribution
from auditlog.engines import sandbox
from auditlog.pack.units import shared_units, sql_reads

__all__ = ["sample_db"]

UNITS = {unit.name for unit in shared_units()}


class Reading:
    """A connection that notes the shared views each query reads (DDL left out)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.read: set[str] = set()

    def execute(self, sql: str, *args: Any) -> duckdb.DuckDBPyConnection:
        if not sql.lstrip().upper().startswith(("CREATE", "DROP")):
            self.read |= sql_reads(sql) & UNITS
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


@pytest.fixture
def connection(sample_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = store.connect(sample_db, read_only=True)
    yield con
    con.close()


def charges(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Anomalous and ordinary charges, and one-time charges without an order id (the
    undecided check's branch)."""
    picks = ["SELECT charge_id FROM attribution_anomalous_charges ORDER BY charge_id LIMIT 3",
             "SELECT charge_id FROM charges WHERE type <> 'one_time' ORDER BY charge_id LIMIT 2",
             ("SELECT charge_id FROM charges WHERE type = 'one_time' AND order_id IS NULL "
              "AND refund_of IS NULL ORDER BY charge_id LIMIT 3")]
    return [row[0] for sql in picks for row in con.execute(sql).fetchall()]


def traces(con: duckdb.DuckDBPyConnection) -> list[tuple[tuple[str, ...], Callable[..., Any]]]:
    ((change,),) = con.execute("SELECT change_id FROM attribution_anomalous_charges "
                               "ORDER BY change_id LIMIT 1").fetchall()
    ((actor,),) = con.execute("SELECT actor FROM attribution_anomalous_charges "
                              "ORDER BY actor LIMIT 1").fetchall()
    found: list[tuple[tuple[str, ...], Callable[..., Any]]] = [
        (attribution.CHARGE_VIEWS,
         lambda c, charge=charge: attribution.trace_charge(c, charge, records=True))
        for charge in charges(con)]
    return [*found,
            (attribution.CHANGE_VIEWS, lambda c: attribution.trace_change(c, change)),
            (attribution.ACCOUNT_VIEWS, lambda c: attribution.trace_account(c, actor))]


@pytest.mark.parametrize("stale", [False, True])
def test_a_trace_reads_only_the_views_it_declares(connection: duckdb.DuckDBPyConnection,
                                                  stale: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if stale:  # as after an ingest without a run: every view computed from the raw tables
        monkeypatch.setattr(sandbox, "fresh_stored_views", lambda con, views: set())
    seen: set[str] = set()
    for declared, trace in traces(connection):
        reading = Reading(connection)
        trace(reading)
        assert reading.read <= set(declared), sorted(reading.read - set(declared))
        seen |= reading.read
    # Every branch that reads a view was taken by some trace (the undecided check too).
    assert seen == {*attribution.CHARGE_VIEWS, *attribution.CHANGE_VIEWS,
                    *attribution.ACCOUNT_VIEWS}


def test_over_fresh_stored_tables_a_trace_creates_only_what_it_reads(
        connection: duckdb.DuckDBPyConnection) -> None:
    charge = charges(connection)[0]
    attribution.trace_charge(connection, charge)
    created = {name for (name,) in connection.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()}
    assert created == set(attribution.CHARGE_VIEWS)  # each stored one, or built on tables
    assert len(created) < len(UNITS)


def test_the_answer_is_the_one_over_every_view(sample_db: Path,
                                               connection: duckdb.DuckDBPyConnection) -> None:
    whole = store.connect(sample_db, read_only=True)
    try:
        sandbox.install_shared_views(whole)
        for _declared, trace in traces(connection):
            assert trace(connection).as_json() == trace(whole).as_json()
    finally:
        whole.close()


def test_existing_tables_are_those_information_schema_lists(
        connection: duckdb.DuckDBPyConnection) -> None:
    from auditlog.store.attribution import existing_tables, table_exists

    connection.execute("CREATE TEMP VIEW a_view AS SELECT 1 AS x")
    connection.execute("CREATE TEMP TABLE a_table AS SELECT 1 AS x")
    listed = {name for (name,) in connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}
    asked = listed | {"nope", "sqlite_master", "duckdb_tables", "pragma_database_list"}
    assert {"a_view", "a_table", "charges"} <= listed
    assert existing_tables(connection, asked) == listed
    assert {name for name in asked if table_exists(connection, name)} == listed
