"""Rows handed over as data (a rule case's) take ingest's own way: typed, checked and
judged as the same rows in a JSON Lines file are, and a row ingest would quarantine is
reported with its number and reason; the case harness makes that a case error that names
the case file and the row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from auditlog import store
from auditlog.engines.cases import Case, build_fixture, run_case
from auditlog.errors import RuleError
from auditlog.ingest import ingest_paths
from auditlog.ingest.pipeline import ingest_rows
from auditlog.pack.model import Rule
from tests.conftest import write_rows

ACTIONS = [
    {"event_id": "E1", "ts": "2026-03-01T10:00:00Z", "actor": "svc", "action": "subscribe",
     "system": "orders"},
    {"ts": "2026-03-01T11:00:00+02:00", "actor": " op.1 ", "action": "login",
     "system": "crm", "result": "FAILURE", "actor_type": "Human"},
    {"event_id": "E3", "ts": datetime(2026, 3, 1, 12, tzinfo=UTC), "actor": "svc",
     "action": "confirm_order", "system": "orders", "order_id": "O-1"},
]
COLUMNS = ("event_id, ts, actor, actor_type, action, system, order_id, result, extra, "
           "_row, _digest")


def stored(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(f"SELECT {COLUMNS} FROM actions ORDER BY _row").fetchall()


def test_rows_are_stored_as_the_same_rows_in_a_file_are(tmp_path: Path) -> None:
    from_file = store.connect(tmp_path / "file.duckdb")
    from_rows = store.connect(tmp_path / "rows.duckdb")
    try:
        as_text = [{**row, "ts": row["ts"].isoformat() if isinstance(row["ts"], datetime)
                    else row["ts"]} for row in ACTIONS]
        ingest_paths(from_file, [write_rows(tmp_path / "a.jsonl", as_text)], kind="actions")
        done = ingest_rows(from_rows, {"actions": ACTIONS}, source="case x")["actions"]
        assert done.rejected == ()
        assert (done.result.rows_read, done.result.loaded, done.result.quarantined) == (3, 3, 0)
        assert done.result.path == "case x (actions)"
        assert stored(from_rows) == stored(from_file)
        # What the ingest contract fills and normalises, the rules can rely on.
        assert from_rows.execute(
            "SELECT result, actor, actor_type FROM actions ORDER BY _row").fetchall() == [
            ("success", "svc", None), ("failure", "op.1", "human"), ("success", "svc", None)]
        assert from_rows.execute("SELECT count(*) FROM actions WHERE event_id IS NULL"
                                 ).fetchone() == (0,)
    finally:
        from_file.close()
        from_rows.close()


def test_a_row_that_breaks_the_contract_is_rejected_with_its_number(
        con: duckdb.DuckDBPyConnection) -> None:
    rows = [ACTIONS[0], {"ts": "2026-03-01T10:00:00Z", "action": "login", "system": "crm"},
            {**ACTIONS[0], "event_id": "E9", "result": "maybe"}]
    done = ingest_rows(con, {"actions": rows, "charges": []}, source="case y")
    assert (done["actions"].result.loaded, done["actions"].result.quarantined) == (1, 2)
    assert (done["charges"].result.rows_read, done["charges"].rejected) == (0, ())
    assert [(r.row, r.reason) for r in done["actions"].rejected] == [
        (2, "missing required field actor"),
        (3, "unknown value maybe for result (expected success, failure)")]
    assert con.execute("SELECT path, location FROM quarantine ORDER BY row_number"
                       ).fetchall() == [("case y (actions)", "row 2"), ("case y (actions)", "row 3")]


def test_a_case_row_ingest_would_quarantine_is_a_case_error(tmp_path: Path) -> None:
    tables = {"charges": [
        {"charge_id": "CH-1", "ts": "2026-03-01T10:00:00Z", "account": "C1", "product": "P",
         "amount": 2.5},
        {"charge_id": "CH-2", "ts": "2026-03-01T10:00:00Z", "account": "C1", "product": "P",
         "amount": -1}]}
    where = "queries/billing/cases/x.toml (case 'bad amount')"
    with pytest.raises(RuleError) as raised:
        build_fixture(tmp_path / "f.duckdb", tables, source=where)
    assert str(raised.value) == (
        f"{where}: charges row 2 breaks the ingest contract: negative amount in amount: -1 "
        "(a refund is written as a positive amount with type refund and refund_of naming "
        "the charge it refunds)")
    rule = Rule(id="x", pack="billing", title="x", severity="low", description="x",
                rationale="x", investigate="x", sql="SELECT 1", source="queries/billing/x.sql")
    case = Case(rule_id="x", name="bad amount", expect="fire", tables=tables, source=where)
    result = run_case(rule, case, tmp_path)
    assert not result.passed
    assert result.message == f"error: {raised.value}"


def test_a_fixture_holds_exactly_its_rows(tmp_path: Path) -> None:
    build_fixture(tmp_path / "f.duckdb", {"actions": ACTIONS, "charges": []})
    con = store.connect(tmp_path / "f.duckdb")
    try:
        assert con.execute("SELECT count(*) FROM actions").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM charges").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    finally:
        con.close()
