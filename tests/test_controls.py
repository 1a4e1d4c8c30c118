"""Each control is written once, in SQL (queries/controls/), and the rules, `trace change`
and the accountability report all read it: with the model's grace_minutes set, a change
that started ten minutes before its window is within it for all three; without, it is
outside for all three. The model's parameters reach the views as typed literals and the
readers use those of the latest run."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.analysis.caveats import model_reach
from auditlog.cli import app
from auditlog.engines.cases import build_fixture
from auditlog.engines.sandbox import install_shared_views
from auditlog.engines.translate import to_spark
from auditlog.errors import RuleError, UsageError
from auditlog.pack.params import MODEL_PARAMS, model_defaults, with_model_params
from auditlog.pack.units import SqlUnit, shared_units
from auditlog.report.accountability import accountability
from auditlog.store.attribution import STORED_VIEWS, fresh_stored_views
from auditlog.store.runs import latest_run_params
from tests.test_attribution import INCIDENT

runner = CliRunner()

# The incident's upgrade, started ten minutes before its window opened (22:00).
EARLY = "CHG-up"
# A change that started two hours after its window closed: no grace of 30 minutes helps.
LATE = {"change_id": "CHG-late", "system": "crm", "kind": "config", "implementer": "eng4",
        "approver": "mgr", "window_start": "2026-03-02T01:00:00Z",
        "window_end": "2026-03-02T02:00:00Z", "started_at": "2026-03-02T04:00:00Z"}


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    changes = [{**c, "started_at": c["started_at"].replace("T19:30", "T21:50")}
               if c["change_id"] == EARLY else c for c in INCIDENT["changes"]]
    assert any(c["started_at"].endswith("T21:50:00Z") for c in changes)
    path = tmp_path / "controls.duckdb"
    build_fixture(path, {**INCIDENT, "changes": [*changes, LATE]})
    return path


def cli(db: Path, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--format" in args else result.stdout


def outside_by_rule(db: Path) -> set[str]:
    found = cli(db, "findings", "--rule", "change_outside_window", "--format", "json")
    return {f["change_id"] for f in found}


def window_checks(db: Path) -> dict[str, list[str]]:
    """change id -> the texts of the report's change-window checks."""
    con = store.connect(db, read_only=True)
    try:
        report = accountability(con).as_json()
        scoped = accountability(con, LATE["change_id"]).as_json()
    finally:
        con.close()
    return {c["change_id"]: [x["text"] for x in c["controls"] if x["check"] == "outside_window"]
            for c in report["changes"] + scoped["changes"]}


def test_a_change_within_its_grace_is_within_for_the_rule_the_trace_and_the_report(
        db: Path) -> None:
    cli(db, "run", "--param", "grace_minutes=30")
    assert outside_by_rule(db) == {LATE["change_id"]}
    assert cli(db, "trace", "change", EARLY, "--format", "json")["window"]["started_within"] is True
    late = cli(db, "trace", "change", LATE["change_id"], "--format", "json")
    assert late["window"]["started_within"] is False
    checks = window_checks(db)
    assert checks[EARLY] == []
    assert checks[LATE["change_id"]] == [
        ("Started 2026-03-02 04:00 UTC, 2 h 0 min after its window closed (approved window "
         "2026-03-02 01:00 UTC to 2026-03-02 02:00 UTC).")]


def test_without_grace_the_rule_the_trace_and_the_report_all_say_outside(db: Path) -> None:
    cli(db, "run", "--param", "grace_minutes=30")
    # The readers follow the latest run: one without the parameter is back to no grace.
    cli(db, "run")
    assert outside_by_rule(db) == {EARLY, LATE["change_id"]}
    doc = cli(db, "trace", "change", EARLY, "--format", "json")
    assert doc["window"]["started_within"] is False
    assert doc["approval"] == {"approver": "eng", "ticket": None, "approved": True,
                               "self_approved": True}
    assert window_checks(db)[EARLY] == [
        ("Started 2026-03-10 21:50 UTC, 10 min before its window opened (approved window "
         "2026-03-10 22:00 UTC to 2026-03-11 00:00 UTC).")]


def test_every_check_of_the_views_is_a_finding_of_its_rule(db: Path) -> None:
    cli(db, "run")
    con = store.connect(db, read_only=True)
    try:
        install_shared_views(con)
        changes = con.execute("SELECT check_name, change_id FROM change_controls").fetchall()
        grants = con.execute("SELECT control, check_name, grant_event_id "
                             "FROM grant_controls").fetchall()
        report = accountability(con).as_json()
    finally:
        con.close()
    rule_of = {"no_approval": "change_unapproved", "self_approval": "change_self_approved",
               "outside_window": "change_outside_window"}
    findings = cli(db, "findings", "--format", "json")
    keys = {(f["rule_id"], f["evidence"][0]) for f in findings if len(f["evidence"]) == 1}
    assert {(rule_of[check], cid) for check, cid in changes} <= keys
    assert {("grant_without_approval" if control == "access-approval" else "self_grant", gid)
            for control, _, gid in grants} <= keys
    assert ("grant_without_ticket_or_approver", "P-grant") in {(c, g) for _, c, g in grants}
    (up,) = [c for c in report["changes"] if c["change_id"] == EARLY]
    assert [c["check"] for c in up["controls"] if c["source"] == "records"] == [
        "self_approval", "outside_window", "implementer_granted"]
    assert up["controls"][2]["text"] == ("The implementer also granted svc-orders the privilege "
                                         "order:bulk_subscribe it used (P-grant).")


def test_a_parameter_that_is_not_of_its_type_is_refused(db: Path) -> None:
    result = runner.invoke(app, ["run", "--db", str(db), "--param", "grace_minutes=soon"])
    assert isinstance(result.exception, UsageError)
    assert "grace_minutes='soon'" in str(result.exception)


def params_unit(sql: str) -> SqlUnit:
    return SqlUnit(name=MODEL_PARAMS, sql=sql, source="model_params.sql", reads=frozenset(),
                   kind="view")


def test_model_parameters_are_installed_as_literals_of_their_defaults_type() -> None:
    unit = params_unit("SELECT 24 AS pairing_hours, 'x' AS label, true AS strict, -1 AS skew")
    assert model_defaults(unit) == {"pairing_hours": 24, "label": "x", "strict": True, "skew": -1}
    (same,) = with_model_params([unit], {"pairing_hours": "24", "other_rule_param": 3})
    assert same.sql == unit.sql  # defaults: the fingerprint of the stored attribution holds
    (changed,) = with_model_params([unit], {"label": "it's", "strict": "no", "skew": "5"})
    assert "SELECT 24 AS pairing_hours, 'it''s' AS label, FALSE AS strict, 5 AS skew" \
        in changed.sql
    with pytest.raises(RuleError):
        model_defaults(params_unit("SELECT pairing_hours FROM somewhere"))


def test_the_shipped_parameters_have_grace_minutes_and_the_controls_translate_to_spark() -> None:
    units = shared_units()
    (params,) = [u for u in units if u.name == MODEL_PARAMS]
    assert model_defaults(params)["grace_minutes"] == 0
    controls = [u for u in units if u.kind == "control"]
    assert {u.name for u in controls} == {"change_controls", "grant_controls",
                                          "change_grant_controls"}
    for unit in controls:
        assert to_spark(unit.sql, unit.source).startswith(("SELECT", "WITH"))


def test_caveats_read_the_models_reach_with_the_latest_runs_values(db: Path) -> None:
    cli(db, "run", "--param", "pairing_hours=48")
    con = store.connect(db, read_only=True)
    try:
        install_shared_views(con)
        assert con.execute("SELECT pairing_hours, grace_minutes FROM model_params"
                           ).fetchall() == [(48, 0)]
        assert model_reach(con).after == timedelta(hours=48)
    finally:
        con.close()


def test_a_run_with_parameters_leaves_a_stored_attribution_its_readers_find_fresh(
        db: Path) -> None:
    cli(db, "run", "--param", "grace_minutes=30")
    con = store.connect(db, read_only=True)
    try:
        params = latest_run_params(con)
        assert params == {"grace_minutes": "30"}
        as_run = with_model_params(shared_units(), params)
        assert fresh_stored_views(con, as_run) == set(STORED_VIEWS)
        # The units as shipped are not what that run stored: the fingerprint tells them apart.
        assert fresh_stored_views(con, shared_units()) == set()
    finally:
        con.close()
