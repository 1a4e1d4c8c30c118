"""XLSX workbooks that open the same everywhere and can never run a formula.

Every text cell is written with write_string (and the workbook refuses to turn strings
into formulas, numbers or links), text a spreadsheet could execute is neutralized, the
document date is fixed by the caller, so the same data gives the same bytes. Amounts are
numbers shown with 2 to 4 decimals when a double holds them exactly (up to 15
significant digits), otherwise exact decimal text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from auditlog.export.safety import cell_text, safe_cell_text
from auditlog.values import decimal_text

MAX_ROWS = 1_048_576 - 1  # a sheet's rows, less the header
MAX_SHEET_NAME = 31
MAX_WIDTH = 60
MAX_CELL = 32_767
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_numbers": False,
                    "strings_to_urls": False, "constant_memory": True}


def write_workbook(path: Path, sheets: dict[str, pl.DataFrame], created: datetime) -> None:
    """One sheet per frame (a frame beyond a sheet's rows continues on name_2, ...)."""
    workbook = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    workbook.set_properties({"title": "auditlog export", "author": "auditlog",
                             "created": created.replace(tzinfo=None)})
    header = workbook.add_format({"bold": True})
    amount = workbook.add_format({"num_format": "0.00##"})
    for name, frame in sheets.items():
        for part, start in enumerate(range(0, max(frame.height, 1), MAX_ROWS), start=1):
            sheet = workbook.add_worksheet(sheet_name(name, part))
            write_sheet(sheet, frame.slice(start, MAX_ROWS), header, amount)
    workbook.close()


def sheet_name(name: str, part: int) -> str:
    if part == 1:
        return name[:MAX_SHEET_NAME]
    suffix = f"_{part}"
    return name[:MAX_SHEET_NAME - len(suffix)] + suffix


def write_sheet(sheet: Worksheet, frame: pl.DataFrame, header: Format, amount: Format) -> None:
    for col, column in enumerate(frame.columns):
        sample = [len(cell_text(v)) for v in frame[column].head(100).to_list()]
        sheet.set_column(col, col, min(max([len(column), *sample]) + 2, MAX_WIDTH))
        sheet.write_string(0, col, column, header)
    sheet.freeze_panes(1, 0)
    for row, values in enumerate(frame.iter_rows(), start=1):
        for col, value in enumerate(values):
            write_cell(sheet, row, col, value, amount)


def write_cell(sheet: Worksheet, row: int, col: int, value: Any, amount: Format) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, Decimal):
        if exact_as_double(value):
            sheet.write_number(row, col, float(value), amount)
        else:
            sheet.write_string(row, col, decimal_text(value) or "")
    elif isinstance(value, int) and abs(value) < 2**53:
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, fit_cell(safe_cell_text(value)))


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
