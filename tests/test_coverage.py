"""Coverage: what the loaded logs cannot show, said by status, the commands, the reports
and the export manifest. Hand-built action logs with a known rhythm and holes, and
generated worlds loaded whole or in part."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import auditlog
from auditlog import store
from auditlog.analysis.caveats import Reach, Resting, caveats, charges_on_gaps
from auditlog.cli import app
from auditlog.errors import UsageError
from auditlog.ingest import ingest_paths
from auditlog.ingest.coverage import Coverage, Gap, compute_coverage, coverage, stored_coverage
from auditlog.ingest.world import read_sources
from auditlog.world import generate_world
from tests.conftest import write_rows

runner = CliRunner()

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
BUSY = range(8, 20)  # UTC hours in which the hand-built crm is busy
# The collector is down on the third Wednesday, 09:00 to 15:00.
HOLE = (MONDAY + timedelta(days=16, hours=9), MONDAY + timedelta(days=16, hours=15))
# A quiet night: the small hours of the second Tuesday hold nothing, as nights may.
QUIET = (MONDAY + timedelta(days=8), MONDAY + timedelta(days=8, hours=6))


def within(moment: datetime, window: tuple[datetime, datetime] | None) -> bool:
    return window is not None and window[0] <= moment < window[1]


def regular_world(weeks: int, events: Callable[[datetime], int],
                  holes: tuple[tuple[datetime, datetime], ...] = ()
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(actions, charges) of a crm whose hour h holds events(h) operator logins, and every
    busy hour one customer who subscribes and is charged 10 s later. Nothing is written
    inside `holes`: the actions of those hours are lost, the charges are not."""
    actions: list[dict[str, Any]] = []
    charges: list[dict[str, Any]] = []
    for index in range(weeks * 168):
        hour = MONDAY + timedelta(hours=index)
        lost = any(within(hour, hole) for hole in holes)
        count = events(hour)
        for i in range(count if not lost else 0):
            actions.append({"event_id": f"E{index}-{i}", "ts": ts(hour, minutes=i * 60 // count),
                            "actor": "op1", "action": "login", "system": "crm"})
        if hour.hour in BUSY:
            customer, at = f"C{index}", hour + timedelta(minutes=30)
            if not lost:
                actions.append({"event_id": f"S{index}", "ts": ts(at), "actor": customer,
                                "action": "subscribe", "system": "crm",
                                "target_account": customer, "object": "P"})
            charges.append({"charge_id": f"CH{index}", "ts": ts(at, seconds=10),
                            "account": customer, "product": "P", "amount": "4.99"})
    return actions, charges


def ts(moment: datetime, *, minutes: int = 0, seconds: int = 0) -> str:
    return (moment + timedelta(minutes=minutes, seconds=seconds)).isoformat()


def steady(hour: datetime) -> int:
    """12 events an hour by day, 1 by night; nothing in the quiet night."""
    if within(hour, QUIET):
        return 0
    return 12 if hour.hour in BUSY else 1


CHANGE = {"change_id": "CHG-1", "system": "crm", "implementer": "op1", "approver": "lead",
          "started_at": ts(MONDAY + timedelta(days=1, hours=10))}
GRANT = {"ts": ts(MONDAY + timedelta(hours=9)), "actor": "lead", "subject": "op1",
         "privilege": "crm.login", "operation": "grant", "system": "crm"}


def load(tmp_path: Path, actions: list[dict[str, Any]],
         charges: list[dict[str, Any]]) -> Path:
    db = tmp_path / "cov.duckdb"
    con = store.connect(db)
    try:
        # One change and one grant, so that only the actions' coverage is in question.
        paths = [write_rows(tmp_path / "charges.csv", charges),
                 write_rows(tmp_path / "actions.jsonl", actions),
                 write_rows(tmp_path / "changes.csv", [CHANGE]),
                 write_rows(tmp_path / "privileges.csv", [GRANT])]
        for path in paths:
            ingest_paths(con, [path])
    finally:
        con.close()
    return db


def gaps_of(db: Path) -> list[Gap]:
    con = store.connect(db, read_only=True)
    try:
        return list(coverage(con).gaps)
    finally:
        con.close()


@pytest.fixture()
def holed(tmp_path: Path) -> Path:
    return load(tmp_path, *regular_world(4, steady, (HOLE,)))


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


# --- the definition ------------------------------------------------------------------


def test_a_six_hour_hole_is_one_gap_with_its_window_and_expected_count(holed: Path) -> None:
    # 12 logins and one subscription usually happen in each of the six hours.
    assert gaps_of(holed) == [Gap("actions", "crm", *HOLE, expected=6 * 13)]


def test_a_quiet_night_is_not_a_gap(tmp_path: Path) -> None:
    # Six silent night hours that usually hold one event each: quiet, not a hole.
    assert gaps_of(load(tmp_path, *regular_world(4, steady))) == []


def test_a_stray_timestamp_years_away_is_no_gap_and_the_hole_is_still_found(
        tmp_path: Path) -> None:
    # One event in year 2 and one in 9998 (real exports carry such junk): the silences
    # around them separate periods of activity, they are not gaps of millennia.
    actions, charges = regular_world(4, steady, (HOLE,))
    for n, year in enumerate((2, 9998)):
        actions.append({"event_id": f"STRAY{n}", "ts": f"{year:04d}-06-01T12:00:00Z",
                        "actor": "op1", "action": "login", "system": "crm"})
    assert gaps_of(load(tmp_path, actions, charges)) == [
        Gap("actions", "crm", *HOLE, expected=6 * 13)]


def test_a_source_seen_too_briefly_has_no_gaps(tmp_path: Path) -> None:
    # Two weeks cannot tell a hole from a rhythm: the same hole yields nothing.
    hole = (HOLE[0] - timedelta(days=7), HOLE[1] - timedelta(days=7))
    assert gaps_of(load(tmp_path, *regular_world(2, steady, (hole,)))) == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_rhythms_yield_the_hole_and_nothing_else(tmp_path: Path, seed: int) -> None:
    # Poisson-like counts: busy hours around 8, nights around 0.5, so nights are often
    # silent for hours. Only the hole is a gap.
    draw = random.Random(seed)

    def noisy(hour: datetime) -> int:
        rate = 8.0 if hour.hour in BUSY else 0.5
        return sum(draw.random() < rate / 20 for _ in range(20))

    (gap,) = gaps_of(load(tmp_path, *regular_world(5, noisy, (HOLE,))))
    assert (gap.kind, gap.system) == ("actions", "crm")
    # The silent stretch may reach into a neighbouring busy hour that happened to be
    # empty, never less than the hole.
    assert gap.start <= HOLE[0] and gap.end >= HOLE[1]
    assert gap.end - gap.start <= timedelta(hours=8)


def test_a_generated_world_has_full_coverage(tmp_path: Path) -> None:
    world = tmp_path / "world"
    generate_world(world, seed=5, customers=300, days=24)
    db = tmp_path / "w.duckdb"
    con = store.connect(db)
    for path, kind, tz in read_sources(world):
        ingest_paths(con, [path], kind=kind, tz=tz)
    cov = coverage(con)
    con.close()
    assert (cov.missing, cov.gaps) == ((), ())
    status = json.loads(cli("status", "--db", str(db), "-f", "json").stdout)["coverage"]
    systems = status["kinds"]["actions"]["systems"]
    assert sum(s["rows"] for s in systems) == status["kinds"]["actions"]["rows"] > 0
    assert all(s["first"] <= s["last"] for s in systems)
    report = runner.invoke(app, ["report", "accountability", "--db", str(db), "-f", "md"])
    # Full coverage: the only caveat is the generated corrections' quarantined rows.
    caveats = [line for line in report.stdout.splitlines() if "Caveat" in line]
    assert report.exit_code == 0 and len(caveats) == 1 and "quarantined" in caveats[0]
    assert [line for line in report.stderr.splitlines() if "warning" in line] == [
        ("warning: 3 rows of charges were quarantined at ingest (from 1 file) and are not "
         "in this answer: a charge among them is not judged, a refund among them is not "
         "counted (auditlog quarantine lists them).")]


# --- a billing-only load -------------------------------------------------------------


@pytest.fixture()
def billing_only(tmp_path: Path) -> Path:
    world = tmp_path / "world"
    generate_world(world, seed=9, customers=300, days=21)
    db = tmp_path / "billing.duckdb"
    con = store.connect(db)
    for path, kind, tz in read_sources(world):
        if kind == "charges":
            ingest_paths(con, [path], kind=kind, tz=tz)
    con.close()
    return db


def test_billing_only_status_names_the_missing_kinds(billing_only: Path) -> None:
    status = json.loads(cli("status", "--db", str(billing_only), "-f", "json").stdout)
    assert status["coverage"]["missing"] == ["actions", "privileges", "changes"]
    assert status["coverage"]["kinds"]["charges"]["rows"] == status["kinds"]["charges"]["rows"]
    assert "no rows: actions, privileges, changes" in cli("status", "--db",
                                                         str(billing_only)).stdout


def test_billing_only_commands_warn_that_actions_are_missing(billing_only: Path,
                                                             tmp_path: Path) -> None:
    db = str(billing_only)
    actions_missing = "warning: the actions log holds no rows, so every one-time charge"
    run = cli("run", "--db", db, "-f", "json")
    assert actions_missing in run.stderr
    json.loads(run.stdout)  # still exactly one JSON document
    listed = cli("remediation", "--db", db, "-f", "json")
    assert actions_missing in listed.stderr
    assert "warning: the changes log holds no rows" in listed.stderr
    rows = json.loads(listed.stdout)
    assert rows and set(rows[0]) >= {"charge_id", "change_id", "actor"}
    trace = cli("trace", "charge", rows[0]["charge_id"], "--db", db, "-f", "json")
    assert actions_missing in trace.stderr
    report = cli("report", "accountability", "--db", db, "-f", "md")
    assert actions_missing in report.stderr
    assert "> **Caveat:** The actions log holds no rows" in report.stdout
    exported = cli("export", "--db", db, "--out", str(tmp_path / "export"))
    assert actions_missing in exported.stderr
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text("utf-8"))
    assert manifest["coverage"]["missing"] == ["actions", "changes"]
    assert manifest["coverage"]["caveats"][0].startswith("the actions log holds no rows")


# --- a hole in the action log, through every command ---------------------------------

HOLE_WARNING = ("warning: the actions log of system crm has no events from 2026-03-18 09:00 "
                "to 15:00 UTC (about 78 expected); 6 anomalous charges billed in that window "
                "(CH393, CH394, CH395, CH396, CH397 and 1 more) may be judged anomalous only "
                "because their actions are missing.")


def test_the_python_api_gives_the_same_caveats(holed: Path) -> None:
    with auditlog.open(holed) as inv:
        assert inv.caveats("remediation") == [HOLE_WARNING.removeprefix("warning: ")]
        assert inv.status()["coverage"]["gaps"][0]["system"] == "crm"
        with pytest.raises(UsageError, match="no answer 'trace charge'"):
            inv.caveats("trace charge")


def test_an_ingest_keeps_the_coverage_and_a_later_change_makes_it_stale(holed: Path,
                                                                        tmp_path: Path) -> None:
    con = store.connect(holed)
    try:
        assert stored_coverage(con) == compute_coverage(con)  # kept by the last ingest
        con.execute("DELETE FROM actions WHERE system = 'crm' AND ts < ?", [HOLE[0]])
        assert stored_coverage(con) is None  # the data changed: computed again
        assert coverage(con).gaps == ()  # the history before the hole is gone
    finally:
        con.close()


def test_status_table_and_json_show_the_gap(holed: Path) -> None:
    (gap,) = json.loads(cli("status", "--db", str(holed), "-f", "json").stdout)[
        "coverage"]["gaps"]
    assert gap == {"kind": "actions", "system": "crm", "start": "2026-03-18T09:00:00Z",
                   "end": "2026-03-18T15:00:00Z", "expected": 78}
    table = cli("status", "--db", str(holed)).stdout
    assert "2026-03-18 09:00" in table and "2026-03-18 15:00" in table
    assert max(len(line) for line in table.splitlines()) <= 80


def test_remediation_counts_the_charges_that_rest_on_the_gap(holed: Path) -> None:
    result = cli("remediation", "--db", str(holed), "-f", "json")
    assert result.stderr.strip() == HOLE_WARNING
    rows = json.loads(result.stdout)
    # The charges of the hole are anomalous only because their subscriptions were lost.
    assert [r["charge_id"] for r in rows] == [f"CH{2 * 168 + 48 + h}" for h in range(9, 15)]


def test_a_hole_in_a_system_without_orders_rests_no_verdict(tmp_path: Path) -> None:
    # The sso system only logs logins: its hole hides no authorization.
    actions, charges = regular_world(4, steady, (HOLE,))
    sso_hole = (HOLE[0] - timedelta(days=7), HOLE[1] - timedelta(days=7))
    actions += [{**row, "event_id": f"sso-{row['event_id']}", "system": "sso"}
                for row in regular_world(4, steady, (sso_hole,))[0]
                if row["action"] == "login"]
    db = load(tmp_path, actions, charges)
    result = cli("remediation", "--db", str(db), "-f", "json")
    lines = result.stderr.splitlines()
    assert lines[0] == ("warning: the actions log of system sso has no events from 2026-03-11 "
                        "09:00 to 15:00 UTC (about 72 expected); that system places and "
                        "confirms no orders and the order systems logged orders meanwhile, so "
                        "no charge's verdict rests on it, but its actions from then are not "
                        "in this answer.")
    assert lines[1:] == [HOLE_WARNING]
    sso_charge = cli("trace", "charge", f"CH{9 * 24 + 10}", "--db", str(db), "-f", "json")
    assert sso_charge.stderr == ""


def test_a_hole_in_the_whole_log_rests_verdicts_on_a_quiet_order_system(
        tmp_path: Path) -> None:
    # crm only logs one subscription an hour, too few for its own six silent hours to be a
    # gap; the busy sso log falls silent at the same time, and no order action at all was
    # logged meanwhile: the whole log was down, so the charges then rest on it.
    actions, charges = regular_world(4, steady, (HOLE,))
    actions = [{**row, "system": "sso"} if row["action"] == "login" else row
               for row in actions]
    db = load(tmp_path, actions, charges)
    assert [(g.system, g.start, g.end) for g in gaps_of(db)] == [("sso", *HOLE)]
    result = cli("remediation", "--db", str(db), "-f", "json")
    assert result.stderr.splitlines() == [HOLE_WARNING.replace("crm", "sso").replace(
        "about 78", "about 72")]


def test_run_warns_of_the_gap_unless_it_runs_on_another_window(holed: Path) -> None:
    result = cli("run", "--db", str(holed), "-f", "json")
    assert HOLE_WARNING in result.stderr.splitlines()
    assert json.loads(result.stdout)["run_id"]
    before = cli("run", "--db", str(holed), "--until", "2026-03-18T09:00:00Z", "-f", "json")
    assert "no events" not in before.stderr


def test_trace_charge_warns_only_for_a_charge_in_the_gap_window(holed: Path) -> None:
    inside = cli("trace", "charge", "CH393", "--db", str(holed), "-f", "json")
    assert ("1 anomalous charge billed in that window (CH393) may be judged anomalous only "
            "because its actions are missing.") in inside.stderr
    assert json.loads(inside.stdout)["anomalous"] is True
    before = cli("trace", "charge", "CH8", "--db", str(holed), "-f", "json")
    assert before.stderr == ""


def test_trace_account_and_change_name_the_gap(holed: Path) -> None:
    gap = "warning: the actions log of system crm has no events from 2026-03-18 09:00"
    account = cli("trace", "account", "op1", "--db", str(holed), "-f", "json")
    assert gap in account.stderr
    assert json.loads(account.stdout)["account"] == "op1"
    # The change is blamed for none of the charges of the hole: its answer names none.
    change = cli("trace", "change", "CHG-1", "--db", str(holed), "-f", "json")
    assert change.stderr.startswith(gap)
    assert ("no anomalous charge of this answer was billed then or up to 24 hours after it, "
            "but actions from then are not in it.") in change.stderr


def test_caveats_of_other_kinds_and_windows_across_midnight() -> None:
    start = datetime(2026, 9, 23, 22, tzinfo=UTC)
    billing = Gap("charges", None, start, start + timedelta(hours=6), 1234)
    grants = Gap("privileges", "iam", start, start + timedelta(hours=2), 12)
    cov = Coverage((), ("changes",), (billing, grants))
    reach = Reach(after=timedelta(hours=24), before=timedelta(minutes=5))
    assert caveats(cov, reach, {}) == [
        "the changes log holds no rows, so no change can be blamed for a charge.",
        ("the charges log has no events from 2026-09-23 22:00 to 2026-09-24 04:00 UTC "
        "(about 1,234 expected); charges billed then are not in this answer."),
        ("the privileges log of system iam has no events from 2026-09-23 22:00 to "
        "2026-09-24 00:00 UTC (about 12 expected); privileges granted then are not in the "
        "chain.")]


def test_a_charge_rests_on_a_gap_within_the_models_reach() -> None:
    start = datetime(2026, 9, 23, 2, tzinfo=UTC)
    hole = Gap("actions", "crm", start, start + timedelta(hours=6), 410)
    reach = Reach(after=timedelta(hours=24), before=timedelta(minutes=5))
    charges = [("early", start - timedelta(minutes=6)), ("skewed", start - timedelta(minutes=4)),
               ("inside", start + timedelta(hours=1)), ("late", hole.end + timedelta(hours=23)),
               ("later", hole.end + timedelta(hours=24))]
    assert charges_on_gaps([hole], charges, reach) == {
        hole: Resting(inside=("skewed", "inside"), after=("late",))}
    resting = {hole: Resting(("inside",), ("late",))}
    assert caveats(Coverage((), (), (hole,)), reach, resting) == [
        ("the actions log of system crm has no events from 2026-09-23 02:00 to 08:00 UTC "
        "(about 410 expected); 1 anomalous charge billed in that window (inside) may be "
        "judged anomalous only because its actions are missing; 1 more billed up to 24 "
        "hours after it may rest on it too.")]


def test_reports_carry_the_caveat(holed: Path, tmp_path: Path) -> None:
    db = str(holed)
    caveat = "The actions log of system crm has no events from 2026-03-18 09:00 to 15:00 UTC"
    md = cli("report", "accountability", "--db", db, "-f", "md")
    assert HOLE_WARNING in md.stderr.splitlines()
    summary = md.stdout.split("## Summary", 1)[1].split("##", 1)[0]
    assert f"> **Caveat:** {caveat}" in summary and "CH393" in summary
    out = tmp_path / "r.html"
    cli("report", "accountability", "--db", db, "-f", "html", "--out", str(out))
    assert f"<strong>What the logs cannot show:</strong> {caveat}" in out.read_text("utf-8")
    terminal = cli("report", "accountability", "--db", db)
    assert "Caveats" in terminal.stdout and "no events from 2026-03-18" in terminal.stdout


def test_export_manifest_carries_the_gap(holed: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = cli("export", "--db", str(holed), "--out", str(out))
    assert HOLE_WARNING in result.stderr.splitlines()
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["coverage"] == {
        "missing": [],
        "gaps": [{"kind": "actions", "system": "crm", "start": "2026-03-18T09:00:00Z",
                  "end": "2026-03-18T15:00:00Z", "expected": 78}],
        "caveats": [HOLE_WARNING.removeprefix("warning: ")]}
