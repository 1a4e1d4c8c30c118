"""The access review as a certification campaign: an XLSX workbook with one sheet per
reviewer, a `decision` column (keep / revoke / reduce, a list the spreadsheet enforces)
and a `comment` column, and the reading back of the filled-in workbook.

The writing reuses the billing workbook's cells (export/workbook.py): real datetimes in
UTC, text through write_string and the formula defence (export/safety.py), frozen header,
autofilter. A first sheet, `campaign`, names the period, so the decisions read back
belong to the review they were made on. Reading back refuses the whole workbook on the
first decision that is not one of the three, naming sheet, row and value: a typo is never
recorded as something else, and nothing is recorded at all.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from auditlog.analysis.access_review import AccessReview
from auditlog.analysis.review_decisions import DECISIONS, Campaign, Decision
from auditlog.errors import UsageError
from auditlog.export.safety import FORMULA_TRIGGERS
from auditlog.export.workbook import (
    MAX_SHEET_NAME,
    WORKBOOK_OPTIONS,
    Styles,
    column_width,
    header_of,
    write_cell,
)

CAMPAIGN_SHEET = "campaign"
# The columns of a reviewer's sheet, in order: what is decided first, then the evidence.
KEY = ("account", "privilege", "system")
COLUMNS = (*KEY, "decision", "comment", "used", "uses", "last_use", "flags", "reasons",
           "held_from", "held_until", "end_reason", "account_type", "granter", "approver",
           "ticket", "grant_event_ids", "reviewer")
NO_REVIEWER = "(no reviewer)"
HOW = ("On your sheet, set decision to keep, revoke or reduce for each row and say why in "
       "comment; then hand the workbook back (auditlog review import FILE).")
# Characters a sheet name may not hold.
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def reasons_of(row: dict[str, Any], flags: list[str]) -> str:
    return " ".join(str(row[f]) for f in flags if row.get(f))


def campaign_frame(review: AccessReview) -> pl.DataFrame:
    """The review's rows as the workbook shows them, decision and comment empty."""
    rows = review.rows
    reasons = [reasons_of(r, list(r["flags"])) for r in rows.iter_rows(named=True)]
    return rows.with_columns(
        pl.lit(None, pl.String).alias("decision"), pl.lit(None, pl.String).alias("comment"),
        pl.Series("reasons", reasons, pl.String),
        pl.col("flags").list.join(", "),
        pl.col("grant_event_ids").list.join(", "),
        pl.when(pl.col("used")).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("used"),
        pl.col("reviewer").fill_null(NO_REVIEWER),
    ).select(COLUMNS)


def sheet_names(reviewers: list[str]) -> dict[str, str]:
    """reviewer -> a sheet name: at most 31 characters, none a sheet name refuses, unique
    (case-insensitively, as spreadsheets compare them), never `campaign`."""
    taken = {CAMPAIGN_SHEET}
    names = {}
    for reviewer in reviewers:
        base = SHEET_FORBIDDEN.sub("_", reviewer).strip("'")[:MAX_SHEET_NAME] or "_"
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            suffix = f"_{n}"
            name = base[:MAX_SHEET_NAME - len(suffix)] + suffix
        taken.add(name.lower())
        names[reviewer] = name
    return names


def write_campaign(path: Path, review: AccessReview, created: datetime) -> dict[str, int]:
    """The workbook; returns reviewer -> rows on their sheet."""
    frame = campaign_frame(review)
    reviewers = sorted(set(frame["reviewer"].to_list()), key=lambda r: (r == NO_REVIEWER, r))
    workbook = xlsxwriter.Workbook(str(path), {**WORKBOOK_OPTIONS, "constant_memory": False})
    workbook.set_properties({"title": "auditlog access review", "author": "auditlog",
                             "created": created.replace(tzinfo=None)})
    styles = Styles(workbook)
    write_cover(workbook.add_worksheet(CAMPAIGN_SHEET), review, created, styles)
    counts = {}
    for reviewer, name in sheet_names(reviewers).items():
        part = frame.filter(pl.col("reviewer") == reviewer)
        write_reviewer_sheet(workbook.add_worksheet(name), part, styles)
        counts[reviewer] = part.height
    workbook.close()
    return counts


def write_cover(sheet: Any, review: AccessReview, created: datetime, styles: Styles) -> None:
    """The period (read back on import) and how to fill the sheets in."""
    lines: list[tuple[str, Any]] = [
        ("period_since (UTC)", review.since), ("period_until (UTC)", review.until),
        ("created (UTC)", created), ("rows", review.rows.height),
        ("how", HOW),
    ]
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 90)
    for row, (label, value) in enumerate(lines):
        sheet.write_string(row, 0, label, styles.header)
        write_cell(sheet, row, 1, value, styles)


def write_reviewer_sheet(sheet: Any, frame: pl.DataFrame, styles: Styles) -> None:
    decision_col = COLUMNS.index("decision")
    for col, (column, dtype) in enumerate(frame.schema.items()):
        header = header_of(column, dtype)
        width = 12 if column in ("decision", "comment") else column_width(frame, column, header)
        sheet.set_column(col, col, width if column != "comment" else 30)
        sheet.write_string(0, col, header, styles.header)
    sheet.freeze_panes(1, len(KEY))
    sheet.autofilter(0, 0, max(frame.height, 1), len(COLUMNS) - 1)
    if frame.height:
        sheet.data_validation(1, decision_col, frame.height, decision_col, {
            "validate": "list", "source": list(DECISIONS), "ignore_blank": True,
            "error_title": "decision", "error_message": "keep, revoke or reduce"})
    for row, values in enumerate(frame.iter_rows(), start=1):
        for col, value in enumerate(values):
            write_cell(sheet, row, col, value, styles)


def plain(value: Any) -> str | None:
    """A cell's text as written: the formula defence's leading quote taken off again."""
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS):
        text = text[1:]
    return text or None


def instant(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    raise UsageError(f"{where}: expected a date and time, found '{value}'; was the "
                     "campaign sheet edited?")


def read_campaign(path: Path) -> Campaign:
    """The decisions a filled-in campaign workbook holds (rows without a decision are
    open and not returned); a UsageError naming sheet, row and value for anything else
    than keep / revoke / reduce, or a workbook that is not a campaign."""
    import openpyxl  # a dependency of reading back only
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, KeyError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read it as an XLSX workbook ({exc})") from None
    try:
        if CAMPAIGN_SHEET not in workbook.sheetnames:
            raise UsageError(f"{path}: not an access review campaign (no sheet "
                             f"'{CAMPAIGN_SHEET}'; write one with auditlog review access "
                             "--format xlsx)")
        cover = {row[0]: row[1] for row in workbook[CAMPAIGN_SHEET].iter_rows(
            max_col=2, values_only=True) if row and row[0]}
        since = instant(cover.get("period_since (UTC)"), f"{path}, sheet {CAMPAIGN_SHEET}")
        until = instant(cover.get("period_until (UTC)"), f"{path}, sheet {CAMPAIGN_SHEET}")
        decisions: list[Decision] = []
        for name in workbook.sheetnames:
            if name != CAMPAIGN_SHEET:
                decisions.extend(read_sheet(path, name, workbook[name].iter_rows(
                    values_only=True)))
    finally:
        workbook.close()
    return Campaign(since, until, tuple(decisions))


def read_sheet(path: Path, sheet: str, rows: Any) -> list[Decision]:
    header = [plain(v) for v in next(rows, ())]
    missing = [c for c in (*KEY, "decision", "comment", "reviewer") if c not in header]
    if missing:
        raise UsageError(f"{path}, sheet {sheet}: no column {', '.join(missing)} in its "
                         "first row; was the header edited?")
    at = {name: header.index(name) for name in (*KEY, "decision", "comment", "reviewer")}
    decisions = []
    for number, values in enumerate(rows, start=2):
        cell = {name: plain(values[i]) if i < len(values) else None for name, i in at.items()}
        if cell["account"] is None and cell["privilege"] is None:
            continue  # a blank row below the data
        raw = cell["decision"]
        if raw is None:
            continue  # still open
        if raw.lower() not in DECISIONS:
            raise UsageError(f"{path}, sheet {sheet}, row {number}: decision '{raw}' is not "
                             f"one of {', '.join(DECISIONS)}; nothing was recorded")
        if cell["account"] is None or cell["privilege"] is None:
            raise UsageError(f"{path}, sheet {sheet}, row {number}: a decision without its "
                             "account and privilege; nothing was recorded")
        decisions.append(Decision(
            reviewer=cell["reviewer"] or NO_REVIEWER, account=cell["account"],
            privilege=cell["privilege"], system=cell["system"], decision=raw.lower(),
            comment=cell["comment"], sheet=sheet, row=number))
    return decisions
