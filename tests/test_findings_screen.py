"""`auditlog findings` for a person (issue 15): the 80-column screens of the sample
incident as golden files, whole ids that `findings triage` accepts, typos and commands
before a run answered with exit 2, bulk triage recorded with who and when."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from golden import assert_golden, cli_output, sample_db, scrub_now
from rich.console import Console

import auditlog
from auditlog.cli.findings_render import overview_table

__all__ = ["sample_db"]  # the fixture, imported for pytest

FINDING_ID = re.compile(r"\bF-[0-9a-f]{16}\b")


def findings_json(db: Path, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(cli_output(["findings", *args, "--format", "json"],
                                                       db))
    return rows


def first_of(rows: list[dict[str, Any]], rule: str) -> str:
    return str(next(r["finding_id"] for r in rows if r["rule_id"] == rule))


@pytest.fixture()
def triage_db(sample_db: Path, tmp_path: Path) -> Path:
    """A copy of the sample database that a test may triage."""
    return Path(shutil.copy(sample_db, tmp_path / "triage.duckdb"))


# --- the screens ----------------------------------------------------------------------

def test_findings_screen_is_the_golden_one(sample_db: Path) -> None:
    assert_golden("findings", cli_output(["findings"], sample_db), scrub=scrub_now(sample_db))


def test_findings_show_is_the_golden_one(sample_db: Path) -> None:
    finding = first_of(findings_json(sample_db), "unrefunded_anomalous_charge")
    assert_golden("findings_show", cli_output(["findings", "show", finding], sample_db),
                  scrub=scrub_now(sample_db))


def test_findings_screen_fits_and_its_ids_are_whole(sample_db: Path) -> None:
    screen = cli_output(["findings"], sample_db)
    lines = screen.splitlines()
    assert len(lines) <= 120 and max(len(line) for line in lines) <= 80
    assert "\x1b[" not in screen  # no colour when stdout is not a terminal
    every = {r["finding_id"]: r for r in findings_json(sample_db)}
    shown = FINDING_ID.findall(screen)
    assert len(shown) >= 20 and all(i in every for i in shown)
    # The failed controls come first, before any per-charge finding.
    controls = {"change_followed_by_anomaly", "change_self_approved", "change_outside_window",
                "grant_before_change", "grant_without_approval"}
    assert [every[i]["rule_id"] for i in shown[:5]] == sorted(
        controls, key=lambda r: [every[i]["rule_id"] for i in shown].index(r))
    assert {every[i]["rule_id"] for i in shown[:5]} == controls
    # The summary: one line per rule with its count and money as every command writes it.
    per_rule = {}
    for row in every.values():
        per_rule[row["rule_id"]] = per_rule.get(row["rule_id"], 0) + 1
    for rule, count in per_rule.items():
        assert re.search(rf"\b{rule}\s+{count:,}\b", screen), rule
    assert "EUR 3,223.22" in screen and "EUR 689.39" in screen


def test_an_id_read_off_the_screen_is_accepted_by_triage(triage_db: Path) -> None:
    shown = FINDING_ID.findall(cli_output(["findings"], triage_db))[-1]
    out = cli_output(["findings", "triage", shown, "--status", "acknowledged"], triage_db)
    assert out.startswith(f"{shown}: acknowledged")
    (row,) = [r for r in findings_json(triage_db) if r["finding_id"] == shown]
    assert row["status"] == "acknowledged"


def test_severity_is_coloured_on_a_terminal() -> None:
    rows = [{"finding_id": "F-0123456789abcdef", "severity": "critical", "rule_id": "r",
             "ts": None, "account": "C1", "amount": None}]
    console = Console(force_terminal=True, color_system="standard", width=80)
    with console.capture() as captured:
        console.print(overview_table(rows))
    assert "\x1b[1;31mcritical" in captured.get()


# --- lists for programs and narrower lists ---------------------------------------------

def test_json_stays_exact_and_complete(sample_db: Path) -> None:
    with auditlog.open(sample_db) as inv:
        expected = inv.findings()
    rows = findings_json(sample_db)
    assert len(rows) == expected.height
    assert [r["finding_id"] for r in rows] == expected["finding_id"].to_list()
    assert set(rows[0]) == {"finding_id", "rule_id", "severity", "title", "ts", "change_id",
                            "actor", "account", "amount", "evidence", "status", "note",
                            "first_seen", "last_seen"}
    assert len(findings_json(sample_db, "--limit", "3")) == 3


def test_limit_all_columns_and_sort(sample_db: Path) -> None:
    screen = cli_output(["findings", "--rule", "stacked_subscription", "--limit", "5"],
                        sample_db)
    assert len(FINDING_ID.findall(screen)) == 5 and "66 more findings" in screen
    every = cli_output(["findings", "--rule", "stacked_subscription", "--all"], sample_db)
    assert len(FINDING_ID.findall(every)) == 71 and "more findings" not in every
    listed = cli_output(["findings", "--columns", "finding_id,amount", "--sort", "amount",
                         "--limit", "2"], sample_db)
    assert listed.splitlines()[0].split() == ["finding", "amount"]
    assert "EUR 3,223.22" in listed.splitlines()[1]
    csv_text = cli_output(["findings", "--columns", "finding_id,rule_id", "--format", "csv",
                           "--rule", "change_self_approved"], sample_db)
    assert csv_text.splitlines()[0] == "finding_id,rule_id"
    assert "did you mean amount?" in error_of(["findings", "--columns", "finding_id,amout"],
                                              sample_db)


# --- unknown names and typos ------------------------------------------------------------

def error_of(args: list[str], db: Path | None) -> str:
    """The one sentence the console script prints for the error `args` raise (exit 2),
    worded with this command line's flags."""
    from typer.testing import CliRunner

    from auditlog.cli import app
    from auditlog.cli.common import flag
    from auditlog.errors import AuditlogError

    result = CliRunner().invoke(app, [*args, *(["--db", str(db)] if db else [])])
    assert isinstance(result.exception, AuditlogError), (result.exit_code, result.output)
    assert result.exception.exit_code == 2
    return result.exception.worded(flag)


@pytest.mark.parametrize(("args", "suggestion"), [
    (["findings", "--rule", "stacked_subscriptoin"], "did you mean stacked_subscription?"),
    (["findings", "triage", "--rule", "stacked_subscriptoin", "--status", "resolved"],
     "did you mean stacked_subscription?"),
    (["run", "--rule", "unrefunded_anomalus_charge"],
     "did you mean unrefunded_anomalous_charge?"),
    (["rules", "show", "change_self_aproved"], "did you mean change_self_approved?"),
])
def test_a_typo_gets_the_nearest_name(sample_db: Path, args: list[str],
                                      suggestion: str) -> None:
    # `rules show` reads the packs, not a database.
    assert suggestion in error_of(args, None if args[0] == "rules" else sample_db)


def test_unknown_and_ambiguous_finding_ids(sample_db: Path) -> None:
    ids = [r["finding_id"] for r in findings_json(sample_db)]
    wrong = ids[0][:-1] + ("0" if ids[0][-1] != "0" else "1")
    assert wrong not in ids
    message = error_of(["findings", "show", wrong], sample_db)
    assert message.startswith(f"no finding '{wrong}'; did you mean ") and ids[0] in message
    prefix = next(p for p in ("F-0", "F-1", "F-2") if sum(i.startswith(p) for i in ids) > 1)
    message = error_of(["findings", "show", prefix], sample_db)
    assert "is ambiguous" in message
    assert min(i for i in ids if i.startswith(prefix)) in message
    unique = next(i[:8] for i in ids if sum(j.startswith(i[:8]) for j in ids) == 1)
    shown = cli_output(["findings", "show", unique], sample_db)
    assert shown.startswith(next(i for i in ids if i.startswith(unique)))


def test_findings_before_any_run_say_so(tmp_path: Path) -> None:
    from auditlog.ingest.world import sample_logs_dir

    db = tmp_path / "unrun.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest([sample_logs_dir() / "changes"])
    for args in (["findings"], ["findings", "--format", "json"], ["findings", "show", "F-1"]):
        assert "no rules have been run on this database yet" in error_of(args, db)


def test_a_rule_never_run_is_not_reported_as_clean(tmp_path: Path) -> None:
    from auditlog.ingest.world import sample_logs_dir

    db = tmp_path / "one_rule.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest([sample_logs_dir() / "changes"])
        inv.run(rules=["change_self_approved"])
    message = error_of(["findings", "--rule", "stacked_subscription"], db)
    assert "has not been run on this database" in message
    assert "auditlog run --rule stacked_subscription" in message


# --- triage of many --------------------------------------------------------------------

def test_bulk_triage_dry_run_then_for_real(triage_db: Path) -> None:
    args = ["findings", "triage", "--rule", "stacked_subscription", "--status",
            "acknowledged", "--note", "customers called"]
    dry = cli_output([*args, "--dry-run"], triage_db)
    assert dry.startswith("would set 71 finding(s) to acknowledged; nothing changed")
    assert len(FINDING_ID.findall(dry)) == 10 and dry.rstrip().endswith("... and 61 more")
    assert {r["status"] for r in findings_json(triage_db, "--rule", "stacked_subscription")
            } == {"open"}
    done = cli_output([*args, "--by", "auditor.jansen"], triage_db)
    assert done.startswith("set 71 finding(s) to acknowledged, by auditor.jansen at ")
    rows = findings_json(triage_db, "--rule", "stacked_subscription")
    assert {(r["status"], r["note"]) for r in rows} == {("acknowledged", "customers called")}
    assert {r["status"] for r in findings_json(triage_db, "--rule", "operator_unusual_hours")
            } == {"open"}
    shown = cli_output(["findings", "show", rows[0]["finding_id"]], triage_db)
    assert re.search(r"Triage history \(1\)\n\s+\S+ \S+ UTC\s+auditor\.jansen\s+"
                     r"acknowledged: customers called", shown)


def test_bulk_triage_narrows_by_severity_time_and_status(triage_db: Path) -> None:
    since = "2026-09-23T12:00:00Z"
    with auditlog.open(triage_db) as inv:
        # --severity is "at least this severe", as in `findings`.
        chosen = set(inv.findings(severity="high", since=since)["finding_id"])
        result = inv.triage_many("resolved", "handled", severity="high", since=since, by="t")
        assert set(result.finding_ids) == chosen and 0 < len(chosen) < inv.findings().height
        after = inv.findings()
        assert set(after.filter(after["status"] == "resolved")["finding_id"]) == chosen
        again = inv.triage_many("open", rules=["unauthorized_order_charge"],
                                from_status="resolved", dry_run=True)
        picked = set(again.finding_ids)
        assert picked and picked <= chosen
        assert set(after.filter(after["rule_id"] == "unauthorized_order_charge")
                   ["finding_id"]) & chosen == picked
        still = inv.findings()
        assert set(still.filter(still["status"] == "resolved")["finding_id"]) == chosen


def test_bulk_triage_needs_a_filter(triage_db: Path) -> None:
    message = error_of(["findings", "triage", "--status", "resolved"], triage_db)
    assert "bulk triage needs a filter (--rule, --severity" in message


# --- money per currency ----------------------------------------------------------------

def test_an_amount_over_two_currencies_is_split_only_when_its_charges_add_up(
        tmp_path: Path) -> None:
    from decimal import Decimal

    import polars as pl

    from auditlog import store
    from auditlog.analysis.finding_views import summarize, with_currency

    con = store.connect(tmp_path / "money.duckdb")
    charges = [("CH1", "EUR", "2.99"), ("CH2", "USD", "3.49"), ("CH3", "EUR", "1.00")]
    for charge_id, currency, amount in charges:
        con.execute("INSERT INTO charges (charge_id, ts, account, product, amount, currency, "
                    "type) VALUES (?, TIMESTAMPTZ '2026-09-22 10:00:00+00', 'C1', 'P', ?, ?, "
                    "'one_time')", [charge_id, Decimal(amount), currency])
    frame = pl.DataFrame({
        "finding_id": ["F-sum", "F-odd", "F-eur", "F-none"],
        "rule_id": ["r", "r", "r", "r"], "severity": ["high"] * 4, "title": ["t"] * 4,
        "ts": [None] * 4,
        "amount": [Decimal("6.48"), Decimal("5.00"), Decimal("3.99"), None],
        "evidence": [["CH1", "CH2", "CHG1"], ["CH1", "CH2"], ["CH1", "CH3", "CH1"], ["EV1"]],
    }, schema_overrides={"amount": pl.Decimal(18, 4), "ts": pl.Datetime(time_zone="UTC")})
    found = {r["finding_id"]: r for r in with_currency(con, frame).iter_rows(named=True)}
    con.close()
    assert found["F-sum"]["mixed_currency"] and [
        (p["currency"], p["amount"]) for p in found["F-sum"]["by_currency"]] == [
        ("EUR", Decimal("2.99")), ("USD", Decimal("3.49"))]
    # Its charges do not add up to the amount: no split is made up.
    assert found["F-odd"]["mixed_currency"] and found["F-odd"]["by_currency"] is None
    assert (found["F-eur"]["currency"], found["F-eur"]["mixed_currency"]) == ("EUR", False)
    assert found["F-none"]["currency"] is None and not found["F-none"]["mixed_currency"]
    (rule,) = summarize(pl.DataFrame(list(found.values())), {})
    assert [(m.currency, m.amount) for m in rule.money] == [
        ("EUR", Decimal("6.98")), ("USD", Decimal("3.49"))]
    assert rule.mixed_currency == 1


def test_nearest_names_are_the_close_ones_only() -> None:
    from auditlog.pack.names import nearest, unknown_name

    rules = ["stacked_subscription", "operator_unconfirmed_subscription", "admin_grant",
             "unrefunded_anomalous_charge"]
    assert nearest("stacked_subscriptoin", rules) == ["stacked_subscription"]
    assert nearest("ADMIN_GRANT", rules) == ["admin_grant"]  # case does not matter
    assert nearest("unrefunded", rules) == ["unrefunded_anomalous_charge"]  # a start
    assert nearest("qqqq", rules) == []
    assert "use one of: billing, change" in str(unknown_name("pack", "zzz",
                                                             ["billing", "change"]))


def test_columns_too_wide_for_80_become_blocks_with_whole_ids(sample_db: Path) -> None:
    wide = cli_output(["findings", "--columns",
                       "finding_id,severity,rule_id,ts,about,amount,status", "--limit", "3"],
                      sample_db)
    assert max(len(line) for line in wide.splitlines()) <= 80
    ids = FINDING_ID.findall(wide)
    assert len(ids) == 3
    assert all(re.search(rf"^finding\s+{i}\s*$", wide, re.MULTILINE) for i in ids)


def test_tz_shows_the_times_in_that_zone_and_json_stays_utc(sample_db: Path) -> None:
    rows = findings_json(sample_db, "--rule", "change_self_approved")
    utc = rows[0]["ts"]  # ISO 8601 UTC, as every JSON answer writes it
    assert utc.endswith("Z")
    text = cli_output(["findings", "--rule", "change_self_approved", "--tz", "Asia/Tokyo"],
                      sample_db)
    # Tokyo is UTC+9 all year: the same instant, nine hours on, and the zone named.
    from datetime import datetime, timedelta
    tokyo = datetime.fromisoformat(utc) + timedelta(hours=9)
    assert "time (Asia/Tokyo)" in text
    assert tokyo.strftime("%Y-%m-%d %H:%M") in text
    shown = cli_output(["findings", "show", rows[0]["finding_id"], "--tz", "Asia/Tokyo"],
                       sample_db)
    assert f"{tokyo:%Y-%m-%d %H:%M} JST" in shown
    assert findings_json(sample_db, "--rule", "change_self_approved", "--tz",
                         "Asia/Tokyo")[0]["ts"] == utc
