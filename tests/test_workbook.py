"""The XLSX workbook as billing opens it: read back with openpyxl, dates are dates,
amounts are numbers in their currency, the header filters and stays, totals sit below
a blank row and are values, and no cell is a formula."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from auditlog.export.model import FIXED_DOCUMENT_TIME
from auditlog.export.safety import neutralize
from auditlog.export.workbook import write_workbook

BERLIN_SUMMER = timezone(timedelta(hours=2))


def charges_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "charge_id": ["CH-1", "CH-2", "CH-3", "=HYPERLINK(\"http://x\")"],
            "amount": [Decimal("1234.5"), Decimal("4.99"), Decimal("10.0001"), Decimal(2)],
            "currency": ["EUR", "EUR", "USD", "EUR"],
            "charged_at": [datetime(2026, 9, 24, 23, 9, 8, tzinfo=UTC),
                           datetime(2026, 9, 25, 1, 0, 0, tzinfo=BERLIN_SUMMER),
                           datetime(2026, 9, 26, 12, 30, 0, tzinfo=UTC),
                           None],
            "charges": [1, 2, 3, 4],
        },
        schema={"charge_id": pl.String, "amount": pl.Decimal(18, 4), "currency": pl.String,
                "charged_at": pl.Datetime("us", "UTC"), "charges": pl.Int64},
    )


@pytest.fixture()
def book(tmp_path: Path) -> Any:
    path = tmp_path / "billing.xlsx"
    write_workbook(path, {"charges": charges_frame()}, FIXED_DOCUMENT_TIME)
    return openpyxl.load_workbook(path)


def test_instants_are_utc_datetimes_and_the_header_says_so(book: Any) -> None:
    sheet = book["charges"]
    header = [c.value for c in sheet[1]]
    assert header == ["charge_id", "amount", "currency", "charged_at (UTC)", "charges"]
    cells = [sheet.cell(row=r, column=4) for r in (2, 3, 4)]
    assert all(c.is_date for c in cells)
    # 01:00 at +02:00 is 23:00 UTC the day before: the cell holds the UTC wall time.
    assert [c.value for c in cells] == [datetime(2026, 9, 24, 23, 9, 8),
                                        datetime(2026, 9, 24, 23, 0, 0),
                                        datetime(2026, 9, 26, 12, 30, 0)]
    assert sheet.cell(row=5, column=4).value is None  # no time, no cell


def test_amounts_are_numbers_formatted_in_the_rows_currency(book: Any) -> None:
    sheet = book["charges"]
    eur, usd = sheet.cell(row=2, column=2), sheet.cell(row=4, column=2)
    assert (eur.data_type, eur.value) == ("n", 1234.5)
    assert (usd.data_type, usd.value) == ("n", 10.0001)
    assert "#,##0.00" in eur.number_format and '"EUR"' in eur.number_format
    assert '"USD"' in usd.number_format
    assert sheet.cell(row=2, column=5).value == 1


def test_header_is_frozen_and_filters_the_rows_only(book: Any) -> None:
    sheet = book["charges"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:E5"
    assert sheet.column_dimensions["D"].width >= len("charged_at (UTC)")


def test_totals_per_currency_are_values_below_a_blank_row(book: Any) -> None:
    sheet = book["charges"]
    assert all(c.value is None for c in sheet[6])
    totals = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=2)
              for r in range(7, sheet.max_row + 1)}
    assert set(totals) == {"total EUR: 3 rows", "total USD: 1 row"}
    assert totals["total EUR: 3 rows"].value == pytest.approx(1241.49)
    assert Decimal(str(totals["total EUR: 3 rows"].value)) == Decimal("1241.49")
    assert totals["total USD: 1 row"].value == 10.0001
    assert '"USD"' in totals["total USD: 1 row"].number_format


def test_no_cell_is_a_formula_and_formula_text_is_neutralized(book: Any) -> None:
    sheet = book["charges"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert "'=HYPERLINK(\"http://x\")" in texts
    assert all(neutralize(t) == t for t in texts)


def test_a_sheet_without_currency_gets_a_row_count_and_no_sum(tmp_path: Path) -> None:
    frame = pl.DataFrame({"finding_id": ["F-1", "F-2"],
                          "amount": [Decimal(1), Decimal(2)]},
                         schema={"finding_id": pl.String, "amount": pl.Decimal(18, 4)})
    write_workbook(tmp_path / "f.xlsx", {"findings": frame}, FIXED_DOCUMENT_TIME)
    sheet = openpyxl.load_workbook(tmp_path / "f.xlsx")["findings"]
    assert [c.value for c in sheet[5]] == ["total: 2 rows", None]
    assert sheet.cell(row=2, column=2).number_format == "#,##0.00##"


def test_a_time_before_1900_stays_iso_text(tmp_path: Path) -> None:
    frame = pl.DataFrame({"ts": [datetime(1850, 1, 1, tzinfo=UTC)]},
                         schema={"ts": pl.Datetime("us", "UTC")})
    write_workbook(tmp_path / "old.xlsx", {"t": frame}, FIXED_DOCUMENT_TIME)
    cell = openpyxl.load_workbook(tmp_path / "old.xlsx")["t"]["A2"]
    assert cell.value == "1850-01-01T00:00:00Z"
