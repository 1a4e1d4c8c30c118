"""The notebook API: auditlog.open(path) gives the same answers as the library and the
command line, on a generated world it has never seen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import auditlog
from auditlog import store
from auditlog.analysis.attribution import (
    REMEDIATION_COLUMNS,
    remediation,
    remediation_records,
    trace_charge,
)
from auditlog.analysis.timeline import timeline
from auditlog.cli import app
from auditlog.values import parse_time
from auditlog.world import WorldSummary, generate_world
from tests.conftest import write_rows


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return generate_world(tmp_path_factory.mktemp("api") / "world", customers=150, seed=31,
                          days=21, formats="mixed", billing_tz="Australia/Lord_Howe")


@pytest.fixture(scope="module")
def inv(world: WorldSummary) -> Iterator[auditlog.Investigation]:
    with auditlog.open(world.out_dir.parent / "api.duckdb") as investigation:
        investigation.ingest_world(world.out_dir)
        investigation.run()
        yield investigation


def test_public_names() -> None:
    assert {"open", "Investigation", "AuditlogError", "UsageError"} <= set(auditlog.__all__)


def test_ingest_world_reports_every_file_and_loses_no_row(world: WorldSummary,
                                                          inv: auditlog.Investigation) -> None:
    status = inv.status()
    for kind, rows in world.counts.items():  # the mixed world has broken rows on purpose
        held = status["kinds"][kind]
        assert held["rows"] + held["quarantined"] == rows
    assert status["quarantined"] == world.broken_rows > 0
    again = inv.ingest_world(world.out_dir)  # reloading changes nothing
    assert again["loaded"].sum() == 0
    assert (again["duplicates"] + again["quarantined"] == again["rows_read"]).all()


def test_ingest_files_with_kind_and_zone(tmp_path: Path) -> None:
    row = {"account": "C1", "product": "P", "amount": "1.50"}
    path = write_rows(tmp_path / "c.csv", [
        {"charge_id": "c1", "ts": "2026-01-15 12:00:00", **row},
        {"charge_id": "c2", "ts": "2026-07-15 12:00:00", **row}])
    with auditlog.open(tmp_path / "x.duckdb") as inv:
        files = inv.ingest(path, kind="charges", tz="Australia/Lord_Howe")
        stored = inv.sql("SELECT strftime(ts, '%H:%M') AS utc FROM charges ORDER BY charge_id")
    assert files.select("kind", "rows_read", "loaded").rows() == [("charges", 2, 2)]
    # Lord Howe is +11 in its summer and +10:30 in its winter.
    assert stored["utc"].to_list() == ["01:00", "01:30"]


def test_findings_and_remediation_are_the_library_frames(inv: auditlog.Investigation) -> None:
    con = store.connect(inv.path, read_only=True)
    expected = remediation(con)
    con.close()
    assert inv.remediation().equals(expected)
    assert expected.height > 0
    change = expected["change_id"].drop_nulls()[0]
    assert set(inv.remediation(change)["change_id"]) == {change}
    found = inv.findings()
    assert found.height > 0 and found["rule_id"].n_unique() > 1
    billing = inv.findings(rules=["stacked_subscription"], severity="low")
    assert set(billing["rule_id"]) == {"stacked_subscription"}


def test_remediation_agrees_with_the_command_line(inv: auditlog.Investigation) -> None:
    result = CliRunner().invoke(app, ["remediation", "--db", str(inv.path), "--format", "json"])
    assert result.exit_code == 0, result.output
    # The command adds refund columns (refunded_amount, outstanding) to the contract's.
    shown = [{k: row[k] for k in REMEDIATION_COLUMNS} for row in json.loads(result.stdout)]
    assert shown == remediation_records(inv.remediation())


def test_traces_are_the_library_documents(world: WorldSummary,
                                          inv: auditlog.Investigation) -> None:
    charge_id = inv.remediation()["charge_id"][0]
    con = store.connect(inv.path, read_only=True)
    assert inv.trace_charge(charge_id) == trace_charge(con, charge_id).as_json()
    con.close()
    facts = world.incident
    impact = inv.trace_change(facts.change_id)["impact"]
    assert impact["charges"] == facts.service_charges
    assert inv.trace_account(facts.service_account)["anomalous"]["changes"] == [facts.change_id]


def test_timeline_takes_iso_text_or_datetimes(inv: auditlog.Investigation) -> None:
    frame = inv.timeline(since="2000-01-01", kinds=["changes"], limit=5)
    con = store.connect(inv.path, read_only=True)
    expected = timeline(con, since=parse_time("2000-01-01T00:00:00Z", "since"),
                        kinds=["changes"], limit=5)
    con.close()
    assert frame.equals(expected) and frame.height == 5
    with pytest.raises(auditlog.UsageError, match="not an ISO 8601 time"):
        inv.timeline(since="yesterday")


def test_run_selects_packs_and_rules(inv: auditlog.Investigation) -> None:
    report = inv.run(rules=["change_self_approved"])
    assert report.findings == inv.findings(rules=["change_self_approved"]).height == 1
    with pytest.raises(auditlog.UsageError, match="unknown pack 'nope'; use one of"):
        inv.run(packs=["nope"])


def test_sql_is_read_only(inv: auditlog.Investigation) -> None:
    assert isinstance(inv.sql("SELECT count(*) AS n FROM actions"), pl.DataFrame)
    with pytest.raises(Exception, match="read-only"):
        inv.sql("DELETE FROM actions")


def test_a_closed_investigation_refuses_calls(tmp_path: Path) -> None:
    inv = auditlog.open(tmp_path / "closed.duckdb")
    inv.close()
    with pytest.raises(auditlog.UsageError, match="closed"):
        inv.remediation()
    with pytest.raises(auditlog.UsageError, match="closed"):
        inv.run()
