"""The access review (issue 16, items 2 and 3): each flag on small logs made for it, the
sample incident's review against its ground truth, the certification campaign's round
trip through a spreadsheet and a bad decision refused with its place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from golden import cli_output, sample_db

import auditlog
from auditlog.errors import UsageError

__all__ = ["sample_db"]

ROOT = Path(__file__).resolve().parents[1]
TRUTH = json.loads((ROOT / "sample_logs/ground_truth/incident.json").read_text())

ACCOUNTS = [
    {"account": "ann", "manager": "boss", "account_type": "human"},
    {"account": "bob", "manager": "boss", "account_type": "human"},
    {"account": "cid", "manager": "boss", "account_type": "human",
     "disabled_at": "2026-03-10T00:00:00Z"},
    {"account": "svc-x", "manager": "boss", "owner": "ops-lead", "account_type": "service"},
]


def grant(event_id: str, ts: str, actor: str, subject: str, privilege: str, system: str,
          **more: str) -> dict[str, str]:
    return {"event_id": event_id, "ts": ts, "actor": actor, "subject": subject,
            "privilege": privilege, "operation": "grant", "system": system, **more}


PRIVILEGES = [
    # ann: approved grant, used: no flag but none of the others
    grant("P1", "2026-03-01T00:00:00Z", "boss", "ann", "crm:read", "crm",
          ticket="T-1", approver="lead"),
    # bob: no ticket, granted and approved by one person, never used
    grant("P2", "2026-03-01T00:00:00Z", "lead", "bob", "crm:export", "crm", approver="lead"),
    # ann grants herself, with a ticket
    grant("P3", "2026-03-02T00:00:00Z", "ann", "ann", "billing:admin", "billing",
          ticket="T-3", approver="lead"),
    # cid: still granted when disabled on 03-10
    grant("P4", "2026-03-01T00:00:00Z", "boss", "cid", "crm:read", "crm",
          ticket="T-4", approver="lead"),
    # bob can deploy on shop; he approves ann's change and implements+approves his own
    grant("P5", "2026-03-01T00:00:00Z", "boss", "bob", "shop:deploy", "shop",
          ticket="T-5", approver="lead"),
    grant("P6", "2026-03-01T00:00:00Z", "boss", "svc-x", "shop:batch", "shop",
          ticket="T-6", approver="lead"),
]
ACTIONS = [
    {"event_id": "A1", "ts": "2026-03-05T10:00:00Z", "actor": "ann", "action": "view",
     "system": "crm"},
    {"event_id": "A2", "ts": "2026-03-05T11:00:00Z", "actor": "svc-x", "action": "sync",
     "system": "shop"},
    {"event_id": "A3", "ts": "2026-03-06T11:00:00Z", "actor": "bob", "action": "deploy",
     "system": "shop"},
    {"event_id": "A4", "ts": "2026-03-20T11:00:00Z", "actor": "ann", "action": "view",
     "system": "billing"},
]
CHANGES = [
    {"change_id": "C1", "system": "shop", "implementer": "ann", "approver": "bob",
     "started_at": "2026-03-04T10:00:00Z"},
    {"change_id": "C2", "system": "shop", "implementer": "bob", "approver": "bob",
     "started_at": "2026-03-06T10:00:00Z"},
]
SINCE, UNTIL = "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review")
    db = root / "r.duckdb"
    with auditlog.open(db) as inv:
        for kind, rows in (("accounts", ACCOUNTS), ("privileges", PRIVILEGES),
                           ("actions", ACTIONS), ("changes", CHANGES)):
            inv.ingest([write_jsonl(root / f"{kind}.jsonl", rows)], kind=kind)
    return db


def rows_of(db: Path, **options: object) -> dict[tuple[str, str], dict[str, object]]:
    with auditlog.open(db) as inv:
        review = inv.review_access(since=SINCE, until=UNTIL, **options)  # type: ignore[arg-type]
    return {(r["account"], r["privilege"]): r for r in review.rows.iter_rows(named=True)}


def test_each_flag_is_raised_where_it_belongs_and_nowhere_else(small_db: Path) -> None:
    rows = rows_of(small_db)
    flags = {key: set(row["flags"]) for key, row in rows.items()}  # type: ignore[arg-type]
    assert flags[("ann", "crm:read")] == set()
    assert flags[("bob", "crm:export")] == {"no_approval", "granter_approved", "unused"}
    assert "Granted without ticket." in str(rows[("bob", "crm:export")]["no_approval"])
    assert flags[("ann", "billing:admin")] == {"self_granted"}  # used on 03-20
    assert flags[("cid", "crm:read")] == {"held_when_disabled", "unused"}
    assert rows[("cid", "crm:read")]["held_until"] == datetime(2026, 3, 10, tzinfo=UTC)
    assert flags[("bob", "shop:deploy")] == {"deploy_and_approve", "self_approved"}
    assert "(C1)" in str(rows[("bob", "shop:deploy")]["deploy_and_approve"])
    assert "(C2)" in str(rows[("bob", "shop:deploy")]["self_approved"])
    assert flags[("svc-x", "shop:batch")] == set()


def test_reviewer_is_the_manager_or_a_service_accounts_owner(small_db: Path) -> None:
    rows = rows_of(small_db)
    assert rows[("ann", "crm:read")]["reviewer"] == "boss"
    assert rows[("svc-x", "shop:batch")]["reviewer"] == "ops-lead"
    assert set(rows_of(small_db, reviewer="ops-lead")) == {("svc-x", "shop:batch")}


def test_use_counts_only_actions_within_the_period_and_the_holding(small_db: Path) -> None:
    rows = rows_of(small_db)
    assert rows[("ann", "crm:read")]["uses"] == 1
    assert rows[("ann", "crm:read")]["last_use"] == datetime(2026, 3, 5, 10, tzinfo=UTC)
    with auditlog.open(small_db) as inv:
        early = inv.review_access(since=SINCE, until="2026-03-05T10:00:00Z")
    early_rows = {(r["account"], r["privilege"]): r for r in early.rows.iter_rows(named=True)}
    assert early_rows[("ann", "crm:read")]["uses"] == 0  # the period is half-open
    assert "unused" in early_rows[("ann", "crm:read")]["flags"]


def test_privilege_actions_parameter_narrows_what_uses_a_privilege(small_db: Path) -> None:
    narrowed = rows_of(small_db, params={"privilege_actions": "shop:batch@shop=bulk_order"})
    assert narrowed[("svc-x", "shop:batch")]["uses"] == 0
    assert "unused" in narrowed[("svc-x", "shop:batch")]["flags"]  # type: ignore[operator]
    every = rows_of(small_db, params={"privilege_actions": "*@shop=sync,deploy"})
    assert every[("svc-x", "shop:batch")]["uses"] == 1
    with pytest.raises(UsageError, match="'shop:batch=sync' is not PRIVILEGE@SYSTEM"):
        rows_of(small_db, params={"privilege_actions": "shop:batch=sync"})


def test_sample_review_names_the_incident_grant_the_deploy_grant_and_unused(
        sample_db: Path) -> None:
    with auditlog.open(sample_db) as inv:
        review = inv.review_access()
        actions = inv.sql("SELECT actor, system, ts FROM actions")
    rows = list(review.rows.iter_rows(named=True))
    incident = TRUTH["privilege_grant"]
    grant_row = next(r for r in rows if incident["event_id"] in r["grant_event_ids"])
    assert (grant_row["account"], grant_row["privilege"]) == (incident["subject"],
                                                              incident["privilege"])
    assert "no_approval" in grant_row["flags"] and "in_finding" in grant_row["flags"]
    assert "ticket" in grant_row["no_approval"]
    implementer = TRUTH["responsible_change"]["implementer"]
    deploy = [r for r in rows if r["account"] == implementer and "deploy" in r["privilege"]
              and r["system"] == TRUTH["responsible_change"]["system"]]
    assert deploy and "self_approved" in deploy[0]["flags"]
    assert TRUTH["responsible_change"]["change_id"] in deploy[0]["self_approved"]
    unused = [r for r in rows if "unused" in r["flags"]]
    assert unused
    for row in unused:  # no action of the holder on the system while it held it
        held_until = row["held_until"] or review.until
        acted = actions.filter((pl.col("actor") == row["account"])
                               & (pl.col("system") == row["system"])
                               & (pl.col("ts") >= row["held_from"])
                               & (pl.col("ts") < held_until))
        assert acted.height == 0, row
    used = [r for r in rows if r["used"]]
    assert used and all(r["last_use"] is not None for r in used)


def fill(workbook: Path, out: Path, decisions: dict[tuple[str, str], str]) -> None:
    book = openpyxl.load_workbook(workbook)
    for sheet in book.worksheets[1:]:
        header = [c.value for c in sheet[1]]
        at = {name: header.index(name) + 1 for name in ("account", "privilege", "decision",
                                                        "comment")}
        for row in range(2, sheet.max_row + 1):
            key = (sheet.cell(row, at["account"]).value, sheet.cell(row, at["privilege"]).value)
            if key in decisions:
                sheet.cell(row, at["decision"]).value = decisions[key]
                sheet.cell(row, at["comment"]).value = f"because {key[0]}"
    book.save(out)


def test_campaign_round_trip(small_db: Path, tmp_path: Path) -> None:
    workbook = tmp_path / "campaign.xlsx"
    with auditlog.open(small_db) as inv:
        counts = inv.review_workbook(workbook, since=SINCE, until=UNTIL)
    assert counts == {"boss": 5, "ops-lead": 1}
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames == ["campaign", "boss", "ops-lead"]
    sheet = book["boss"]
    header = [c.value for c in sheet[1]]
    decision = openpyxl.utils.get_column_letter(header.index("decision") + 1)
    assert "comment" in header and sheet.freeze_panes == "D2"
    assert sheet.auto_filter.ref is not None
    (rule,) = sheet.data_validations.dataValidation
    assert rule.type == "list" and rule.formula1 == '"keep,revoke,reduce"'
    assert str(rule.sqref) == f"{decision}2:{decision}6"
    held_from = sheet.cell(2, header.index("held_from (UTC)") + 1).value
    assert isinstance(held_from, datetime)  # a real date, not text

    filled = tmp_path / "filled.xlsx"
    fill(workbook, filled, {("bob", "crm:export"): "revoke", ("ann", "crm:read"): "keep",
                            ("svc-x", "shop:batch"): "Reduce"})
    with auditlog.open(small_db) as inv:
        recorded = inv.review_import(filled, by="auditor")
        status = inv.review_status()
        stored = inv.sql("SELECT reviewer, account, decision, comment, recorded_by, sheet, "
                         "row_number FROM review_decisions ORDER BY account")
    assert recorded.decisions == 3 and recorded.by_decision == {"keep": 1, "revoke": 1,
                                                                "reduce": 1}
    assert stored.row(0)[:5] == ("boss", "ann", "keep", "because ann", "auditor")
    assert (status.decided, status.open) == (3, 3)
    todo = {(r["account"], r["decision"]) for r in status.revocations.iter_rows(named=True)}
    assert todo == {("bob", "revoke"), ("svc-x", "reduce")}
    assert status.unmatched.height == 0

    # A decision on a row the reviewer renamed is kept, and said to match nothing.
    book = openpyxl.load_workbook(filled)
    sheet = book["boss"]
    (row,) = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "bob"
              and sheet.cell(r, 2).value == "crm:export"]
    sheet.cell(row, 1).value = "nobody"
    book.save(tmp_path / "renamed.xlsx")
    with auditlog.open(small_db) as inv:
        inv.review_import(tmp_path / "renamed.xlsx")
        again = inv.review_status()
    assert again.unmatched["account"].to_list() == ["nobody"]


def test_a_bad_decision_is_refused_with_its_place_and_nothing_recorded(
        small_db: Path, tmp_path: Path) -> None:
    workbook, filled = tmp_path / "c.xlsx", tmp_path / "bad.xlsx"
    with auditlog.open(small_db) as inv:
        inv.review_workbook(workbook, since=SINCE, until=UNTIL)
    fill(workbook, filled, {("ann", "crm:read"): "keep", ("bob", "crm:export"): "revokee"})
    book = openpyxl.load_workbook(filled)
    header = [c.value for c in book["boss"][1]]
    row = next(r for r in range(2, 8) if book["boss"].cell(r, 1).value == "bob"
               and book["boss"].cell(r, 2).value == "crm:export")
    result = subprocess.run([sys.executable, "-m", "auditlog", "review", "import",
                             str(filled), "--db", str(small_db)], capture_output=True,
                            text=True, check=False, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 2, result.stderr
    assert f"sheet boss, row {row}: decision 'revokee' is not one of" in result.stderr
    assert "Traceback" not in result.stderr and "decision" in header
    with auditlog.open(small_db) as inv:
        before = inv.sql("SELECT count(*) AS n FROM information_schema.tables "
                         "WHERE table_name = 'review_decisions'").item()
        if before:
            assert inv.sql("SELECT count(*) FROM review_decisions "
                           "WHERE workbook = 'bad.xlsx'").item() == 0


def test_cli_review_fits_80_columns_and_status_lists_revocations_as_csv(
        sample_db: Path, tmp_path: Path) -> None:
    text = cli_output(["review", "access"], sample_db)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    incident = TRUTH["privilege_grant"]
    assert incident["privilege"] in text and incident["subject"] in text
    md = cli_output(["review", "access", "--format", "md"], sample_db)
    assert md.startswith("# Access review")
    (line,) = [ln for ln in md.splitlines() if ln.startswith(f"| {incident['subject']} |")
               and incident["privilege"] in ln]
    assert "no_approval: Granted without ticket or approver." in line
    html = cli_output(["review", "access", "--format", "html"], sample_db)
    assert html.count("<h2>Reviewer: ") == md.count("## Reviewer: ") > 1
    workbook = tmp_path / "s.xlsx"
    cli_output(["review", "access", "--format", "xlsx", "--out", str(workbook)], sample_db)
    filled = tmp_path / "s-filled.xlsx"
    fill(workbook, filled, {(incident["subject"], incident["privilege"]): "revoke"})
    cli_output(["review", "import", str(filled)], sample_db)
    csv_text = cli_output(["review", "status", "--format", "csv"], sample_db)
    lines = csv_text.splitlines()
    assert lines[0].startswith("system,account,privilege,decision")
    assert any(incident["subject"] in line and "revoke" in line for line in lines[1:])


@pytest.mark.filterwarnings("ignore::auditlog.errors.AuditlogWarning")  # no charges here
def test_export_carries_the_decisions_with_the_evidence(small_db: Path, tmp_path: Path
                                                        ) -> None:
    workbook, filled = tmp_path / "c.xlsx", tmp_path / "filled.xlsx"
    with auditlog.open(small_db) as inv:
        inv.review_workbook(workbook, since=SINCE, until=UNTIL)
        fill(workbook, filled, {("cid", "crm:read"): "revoke"})
        inv.review_import(filled, by="auditor")
        inv.export(tmp_path / "out", ["csv"])
        assert inv.verify(tmp_path / "out").intact
    exported = pl.read_csv(tmp_path / "out/review_decisions.csv")
    cid = exported.filter(pl.col("account") == "cid")
    assert cid["decision"].to_list()[-1] == "revoke"
    assert cid["recorded_by"].to_list()[-1] == "auditor"
    assert "review_decisions.csv" in (tmp_path / "out/manifest.json").read_text()


def test_log_text_never_becomes_a_formula_and_reads_back_as_written(tmp_path: Path) -> None:
    evil, manager = "=HYPERLINK(\"http://x\")", "@boss"
    db = tmp_path / "f.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest([write_jsonl(tmp_path / "accounts.jsonl", [
            {"account": evil, "manager": manager, "account_type": "human"}])],
            kind="accounts")
        inv.ingest([write_jsonl(tmp_path / "privileges.jsonl", [
            grant("E1", "2026-03-01T00:00:00Z", "lead", evil, "+crm:read", "crm",
                  ticket="T", approver="boss")])], kind="privileges")
        workbook, filled = tmp_path / "c.xlsx", tmp_path / "filled.xlsx"
        inv.review_workbook(workbook, since=SINCE, until=UNTIL)
        book = openpyxl.load_workbook(workbook)
        sheet = book.worksheets[1]
        assert sheet.cell(2, 1).data_type == "s" and sheet.cell(2, 1).value == "'" + evil
        assert sheet.cell(2, 2).value == "'+crm:read"
        fill(workbook, filled, {("'" + evil, "'+crm:read"): "revoke"})
        inv.review_import(filled)
        status = inv.review_status()
    (row,) = status.revocations.iter_rows(named=True)
    assert (row["account"], row["privilege"], row["decided_by"]) == (evil, "+crm:read", manager)
