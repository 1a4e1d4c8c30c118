"""What an investigator reads at 80 columns (issue 15): the traces, the timeline, status,
quarantine and the lists of what can be traced, on the sample incident, as golden files;
no trace shows a Python structure; times in UTC unless --tz says otherwise."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from golden import assert_golden, cli_output, sample_db, scrub_now
from rich.console import Console

import auditlog
from auditlog.cli.display import Clock, field_lines, value_text
from auditlog.cli.status_cmds import common_root, shorten_left
from auditlog.cli.trace_cmds import account_tree, change_tree, charge_tree
from auditlog.ingest.world import sample_logs_dir

__all__ = ["sample_db"]  # the fixture, imported for pytest

CHANGE = "CHG0160644"
SERVICE = "svc-order-sync"
# A charge of the incident with every link of the chain (action, grant, change).
CHARGE = "CH000471040"
README_TIMELINE = ["timeline", "--account", SERVICE, "--since", "2026-09-22",
                   "--until", "2026-09-25"]
PYTHON_REPRS = ("{'", "['", "': ", "{\"", "[\"", "None", "True", "False", "Decimal(",
                "datetime.")


def scrub(db: Path) -> Callable[[str], str]:
    """The times the test made and where the sample lies on this machine."""
    now = scrub_now(db)
    where = str(sample_logs_dir())

    def both(text: str) -> str:
        return now(text).replace(where, "<sample_logs>")
    return both


SCREENS = {
    "trace_charge": ["trace", "charge", CHARGE],
    "trace_change": ["trace", "change", CHANGE],
    "trace_change_berlin": ["trace", "change", CHANGE, "--tz", "Europe/Berlin"],
    "trace_account": ["trace", "account", SERVICE],
    "timeline": README_TIMELINE,
    "status": ["status"],
    "quarantine": ["quarantine"],
    "changes": ["changes"],
    "accounts": ["accounts", "--limit", "10"],
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(sample_db: Path, name: str) -> None:
    assert_golden(name, cli_output(SCREENS[name], sample_db), scrub=scrub(sample_db))


def test_no_trace_prints_a_python_structure(sample_db: Path) -> None:
    # Every change, every account that can be traced, and charges of every kind (the
    # incident's, the operator's, authorized ones): rendered as the CLI renders them.
    with auditlog.open(sample_db) as inv:
        docs = [change_tree(inv.trace_change(c["change_id"]), Clock())
                for c in inv.changes()["changes"]]
        docs += [account_tree(inv.trace_account(a["account"]), Clock())
                 for a in inv.accounts()["accounts"]]
        anomalous = inv.remediation()["charge_id"].to_list()
        authorized = [r[0] for r in inv.sql(
            "SELECT charge_id FROM charges WHERE type <> 'refund' AND charge_id NOT IN "
            "(SELECT unnest($ids)) ORDER BY charge_id LIMIT 20", {"ids": anomalous}).rows()]
        docs += [charge_tree(inv.trace_charge(c), Clock())
                 for c in [*anomalous[:: max(1, len(anomalous) // 40)], *authorized]]
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    for tree in docs:
        console.print(tree)
    text = console.export_text()
    assert text.count("\n") > 1000
    for repr_mark in PYTHON_REPRS:
        assert repr_mark not in text, repr_mark


def test_json_stays_utc_whatever_the_display_zone(sample_db: Path) -> None:
    shown = cli_output(["trace", "change", CHANGE, "--tz", "Europe/Berlin"], sample_db)
    assert "2026-09-22 19:45:00 CEST" in shown and "UTC" not in shown
    doc = json.loads(cli_output(["trace", "change", CHANGE, "--format", "json",
                                 "--tz", "Europe/Berlin"], sample_db))
    assert doc["started_at"] == "2026-09-22T17:45:00Z"


def test_an_unknown_zone_is_refused_before_anything_runs(sample_db: Path) -> None:
    cli_output(["trace", "change", CHANGE, "--tz", "Mars/Olympus"], sample_db, exit_code=2)


def test_a_mistyped_id_names_the_nearest_and_the_list(sample_db: Path) -> None:
    with auditlog.open(sample_db) as inv, pytest.raises(auditlog.UsageError) as error:
        inv.trace_change(CHANGE.replace("1", "I", 1))  # CHG0I60644
    assert f"(did you mean {CHANGE}?)" in str(error.value)
    assert "'auditlog changes'" in str(error.value)
    with auditlog.open(sample_db) as inv, pytest.raises(auditlog.UsageError) as error:
        inv.trace_account("svc-order-snyc")
    assert "did you mean svc-order-sync?" in str(error.value)


def test_the_lists_say_what_their_cut_leaves_out_last(sample_db: Path) -> None:
    for args, noun in ((["changes", "--limit", "3"], "changes"),
                       (["accounts", "--limit", "3"], "accounts"),
                       (["quarantine", "--limit", "1"], "quarantined rows"),
                       (README_TIMELINE, "events")):
        last = cli_output(args, sample_db).rstrip().splitlines()
        assert any(line.startswith("showing ") and f" {noun}" in line
                   for line in last[-3:]), (args, last[-3:])
    whole = json.loads(cli_output(["changes", "--all", "--format", "json"], sample_db))
    assert whole["shown"] == whole["total"] == len(whole["changes"]) > 3


def test_the_timeline_keeps_the_grant_and_the_revocation(sample_db: Path) -> None:
    shown = cli_output(README_TIMELINE, sample_db)
    assert "grant PRV00797610" in shown and "revoke PRV00797614" in shown
    assert len(shown.splitlines()) <= 150
    everything = cli_output([*README_TIMELINE, "--all"], sample_db)
    assert "showing " not in everything and everything.count(" ! ") >= 2158  # evidence


def test_values_are_shown_for_people() -> None:
    berlin = Clock.named("Europe/Berlin")
    assert berlin.time("2026-01-15T12:00:00Z") == "2026-01-15 13:00:00 CET"
    assert Clock().time("2026-07-15T12:00:00.5Z") == "2026-07-15 12:00:00 UTC"
    assert value_text(True, Clock()) == "yes" and value_text(1234567, Clock()) == "1,234,567"
    lines = field_lines({"amount": "3453.19", "currency": "EUR", "approval": {
        "approver": "a", "approved": True}, "tags": ["x", "y"], "ticket": None}, Clock(),
        keep_empty=("ticket",))
    assert lines == [("amount", "EUR 3,453.19"), ("approval approver", "a"),
                     ("approval approved", "yes"), ("tags", "x, y"), ("ticket", "none")]


def test_paths_keep_their_file_name_and_what_tells_them_apart() -> None:
    paths = ["/data/x/billing/charges_2026-09.csv", "/data/x/billing/charges_2026-10.csv",
             "/data/x/iam/grants.json"]
    root = common_root(paths)
    assert root == "/data/x/" and [p.removeprefix(root) for p in paths][:2] == [
        "billing/charges_2026-09.csv", "billing/charges_2026-10.csv"]
    assert shorten_left("/a/very/long/path/to/billing/charges_2026-09.csv", 36) == (
        "…/to/billing/charges_2026-09.csv")
    assert shorten_left("short.csv", 36) == "short.csv"


def test_actors_of_sources_without_types_are_listed_whole_at_80_columns(
        tmp_path: Path) -> None:
    # CloudTrail and GitHub name no actor type: such an actor is no customer (it is
    # billed for nothing), and a long ARN-like name folds instead of pushing columns off.
    db = tmp_path / "real.duckdb"
    data = Path(__file__).parent / "data"
    with auditlog.open(db) as inv:
        inv.ingest([data / "cloudtrail", data / "github"])
        listed = inv.accounts()
    assert listed["total"] >= 10
    assert {a["account_type"] for a in listed["accounts"]} >= {None}
    shown = cli_output(["accounts", "--all"], db)
    assert all(len(line.rstrip()) <= 80 for line in shown.splitlines())
    assert shown.splitlines()[1].rstrip().endswith("anomalous")


def test_the_ingest_table_keeps_file_names_and_kinds_whole(tmp_path: Path) -> None:
    deep = tmp_path / "a-rather-long-directory-name" / "exported-from-the-billing-platform"
    deep.mkdir(parents=True)
    header = "charge_id,ts,account,product,amount,currency\n"
    for month in ("2026-09", "2026-10"):
        (deep / f"charges_{month}_corrections.csv").write_text(
            header + f"c-{month},{month}-01T00:00:00Z,A,P,1.00,EUR\n")
    from typer.testing import CliRunner

    from auditlog.cli import app

    result = CliRunner().invoke(app, ["ingest", str(deep), "--db", str(tmp_path / "i.duckdb")],
                                env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert sum("charges_2026-09_corrections.csv  charges" in line for line in lines) == 1
    assert sum("charges_2026-10_corrections.csv  charges" in line for line in lines) == 1


def test_file_details_break_between_parts_never_inside_one() -> None:
    # Under a long path the digest, zone and time wrap as whole parts: Rich alone broke
    # "2026-12-01 22:40" into a date line and a time line.
    from auditlog.cli.status_cmds import packed

    parts = ["9cfc6675f59b", "tz Europe/Amsterdam", "2026-12-01 22:40"]
    assert [t.plain for t in packed(parts, 80)] == [" · ".join(parts)]
    assert [t.plain for t in packed(parts, 36)] == ["9cfc6675f59b · tz Europe/Amsterdam",
                                                   "2026-12-01 22:40"]
    assert [t.plain for t in packed(parts, 20)] == parts
