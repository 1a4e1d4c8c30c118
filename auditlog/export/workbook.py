"""XLSX workbooks for billing: real dates, amounts in their currency, filters, totals,
and never a formula.

Every text cell is written with write_string (and the workbook refuses to turn strings
into formulas, numbers or links), text a spreadsheet could execute is neutralized, the
document date is fixed by the caller, so the same data gives the same bytes.

What a person filtering and ageing charges needs:
- instants are spreadsheet datetimes in UTC (a spreadsheet has no zones, so the header
  says it: `charged_at (UTC)`), dates are dates; a time before 1900, which spreadsheets
  cannot hold, stays ISO text;
- amounts are numbers shown with thousands separators and 2 to 4 decimals, with the
  row's currency code when the sheet has a `currency` column; an amount a double cannot
  hold exactly (over 15 significant digits) stays exact decimal text;
- the header is frozen and filterable, columns are as wide as their content;
- below the rows, after a blank row the filter leaves out, one totals row per currency:
  the sums are values computed here, never a formula, and two currencies are never one
  figure. A sheet without a currency column gets its row count only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from auditlog.export.safety import cell_text, safe_cell_text
from auditlog.values import decimal_text

MAX_ROWS = 1_048_576 - 1  # a sheet's rows, less the header
MAX_SHEET_NAME = 31
MAX_WIDTH = 60
MAX_CELL = 32_767
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_numbers": False,
                    "strings_to_urls": False, "constant_memory": True}
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
AMOUNT_FORMAT = "#,##0.00##"
# Only a code of this shape goes into a number format (a format string is code to the
# spreadsheet: a currency value from a log never reaches it otherwise).
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
FIRST_SPREADSHEET_YEAR = 1900
UTC_SUFFIX = " (UTC)"


class Styles:
    """The workbook's cell formats, made once each (a workbook caps how many it has)."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self.header = workbook.add_format({"bold": True, "bottom": 1})
        self.datetime = workbook.add_format({"num_format": DATETIME_FORMAT})
        self.date = workbook.add_format({"num_format": DATE_FORMAT})
        self.total_label = workbook.add_format({"bold": True, "top": 1})
        self.total_blank = workbook.add_format({"top": 1})
        self.amounts: dict[str | None, Format] = {}
        self.total_amounts: dict[str | None, Format] = {}

    def amount(self, currency: str | None, *, total: bool = False) -> Format:
        code = currency if currency and CURRENCY_CODE.fullmatch(currency) else None
        made = self.total_amounts if total else self.amounts
        if code not in made:
            pattern = f'{AMOUNT_FORMAT} "{code}"' if code else AMOUNT_FORMAT
            made[code] = self.workbook.add_format(
                {"num_format": pattern, **({"bold": True, "top": 1} if total else {})})
        return made[code]


@dataclass(frozen=True)
class Total:
    """One totals row: its label and the sum of each amount column, in one currency."""

    label: str
    currency: str | None
    sums: dict[str, Decimal]


def write_workbook(path: Path, sheets: dict[str, pl.DataFrame], created: datetime) -> None:
    """One sheet per frame (a frame beyond a sheet's rows continues on name_2, ...)."""
    workbook = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    workbook.set_properties({"title": "auditlog export", "author": "auditlog",
                             "created": created.replace(tzinfo=None)})
    styles = Styles(workbook)
    for name, frame in sheets.items():
        totals = totals_of(frame)
        per_sheet = MAX_ROWS - len(totals) - 1  # room for the blank row and the totals
        starts = range(0, max(frame.height, 1), per_sheet)
        for part, start in enumerate(starts, start=1):
            sheet = workbook.add_worksheet(sheet_name(name, part))
            last = part == len(starts)
            write_sheet(sheet, frame.slice(start, per_sheet), styles, totals if last else [])
    workbook.close()


def sheet_name(name: str, part: int) -> str:
    if part == 1:
        return name[:MAX_SHEET_NAME]
    suffix = f"_{part}"
    return name[:MAX_SHEET_NAME - len(suffix)] + suffix


def header_of(column: str, dtype: pl.DataType) -> str:
    """The column's name; an instant's says its zone, as a spreadsheet cannot."""
    return column + UTC_SUFFIX if isinstance(dtype, pl.Datetime) else column


def amount_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if isinstance(t, pl.Decimal)]


def totals_of(frame: pl.DataFrame) -> list[Total]:
    """The totals rows: per currency when the frame names one, else the row count."""
    amounts = amount_columns(frame)
    rows = f"{frame.height:,} row{'s' if frame.height != 1 else ''}"
    if "currency" not in frame.columns or not amounts or frame.height == 0:
        return [Total(f"total: {rows}", None, {})]
    grouped = (frame.group_by("currency")
               .agg(pl.len().alias("_rows"), *[pl.col(c).sum() for c in amounts])
               .sort("currency", nulls_last=True))
    totals = []
    for row in grouped.iter_rows(named=True):
        currency, count = row["currency"], row["_rows"]
        name = currency if currency is not None else "without currency"
        label = f"total {name}: {count:,} row{'s' if count != 1 else ''}"
        totals.append(Total(label, currency, {c: row[c] for c in amounts
                                              if row[c] is not None}))
    return totals


def write_sheet(sheet: Worksheet, frame: pl.DataFrame, styles: Styles,
                totals: list[Total]) -> None:
    columns = frame.columns
    currencies = frame["currency"].to_list() if "currency" in columns else None
    for col, (column, dtype) in enumerate(frame.schema.items()):
        header = header_of(column, dtype)
        sheet.set_column(col, col, column_width(frame, column, header))
        sheet.write_string(0, col, header, styles.header)
    sheet.freeze_panes(1, 0)
    if columns:
        sheet.autofilter(0, 0, max(frame.height, 1), len(columns) - 1)
    for row, values in enumerate(frame.iter_rows(), start=1):
        currency = currencies[row - 1] if currencies is not None else None
        for col, value in enumerate(values):
            write_cell(sheet, row, col, value, styles, currency)
    if columns:
        write_totals(sheet, frame, styles, totals)


def write_totals(sheet: Worksheet, frame: pl.DataFrame, styles: Styles,
                 totals: list[Total]) -> None:
    """After one blank row (outside the filter's range): a row per total, values only."""
    first = frame.height + 2
    for offset, total in enumerate(totals):
        row = first + offset
        for col, column in enumerate(frame.columns):
            if col == 0:
                sheet.write_string(row, col, total.label, styles.total_label)
            elif column in total.sums:
                write_amount(sheet, row, col, total.sums[column],
                             styles.amount(total.currency, total=True))
            else:
                sheet.write_blank(row, col, None, styles.total_blank)


def column_width(frame: pl.DataFrame, column: str, header: str) -> int:
    """Wide enough for the header and the first rows' values as a person sees them."""
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime):
        widest = len("2026-01-01 00:00:00")
    elif isinstance(dtype, pl.Decimal):
        sample = frame[column].head(100).drop_nulls().to_list()
        widest = max((len(f"{v:,.2f}") for v in sample), default=4) + len(" EUR")
    else:
        widest = max((len(cell_text(v)) for v in frame[column].head(100).to_list()),
                     default=0)
    return min(max(len(header), widest) + 2, MAX_WIDTH)


def write_cell(sheet: Worksheet, row: int, col: int, value: Any, styles: Styles,
               currency: str | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, datetime):
        write_instant(sheet, row, col, value, styles)
    elif isinstance(value, date):
        if value.year < FIRST_SPREADSHEET_YEAR:
            sheet.write_string(row, col, value.isoformat())
        else:
            sheet.write_datetime(row, col, datetime(value.year, value.month, value.day),
                                 styles.date)
    elif isinstance(value, Decimal):
        write_amount(sheet, row, col, value, styles.amount(currency))
    elif isinstance(value, int) and abs(value) < 2**53:
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, fit_cell(safe_cell_text(value)))


def write_instant(sheet: Worksheet, row: int, col: int, value: datetime,
                  styles: Styles) -> None:
    """A UTC datetime cell (a naive value is UTC, as every stored time is)."""
    at = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if at.year < FIRST_SPREADSHEET_YEAR:
        sheet.write_string(row, col, cell_text(value))
    else:
        sheet.write_datetime(row, col, at, styles.datetime)


def write_amount(sheet: Worksheet, row: int, col: int, value: Decimal, style: Format) -> None:
    if exact_as_double(value):
        sheet.write_number(row, col, float(value), style)
    else:
        sheet.write_string(row, col, decimal_text(value) or "")


def fit_cell(text: str) -> str:
    """Text within a cell's 32,767 characters; a longer one (a finding naming thousands
    of charges) says it was cut. The other formats and the evidence sheets hold it all."""
    if len(text) <= MAX_CELL:
        return text
    note = f" ... [cut: {len(text)} characters]"
    return text[:MAX_CELL - len(note)] + note


def exact_as_double(value: Decimal) -> bool:
    """True when a spreadsheet's double shows exactly this decimal."""
    digits = len(value.normalize().as_tuple().digits)
    return digits <= 15 and Decimal(repr(float(value))) == value
