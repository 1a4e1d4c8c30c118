"""Rendering that several commands share: rows as a table or CSV (a trace's trees are in
trace_render.py). Text from the logs goes in as Text pieces, never as markup."""

from __future__ import annotations

import csv
import sys
from typing import Any

from rich.table import Table

from auditlog.cli.common import console
from auditlog.export.safety import cell_text, safe_cell_text
from auditlog.textsafe import visible


def write_csv(rows: list[dict[str, Any]]) -> None:
    """Rows as CSV on stdout; text a spreadsheet would run as a formula is neutralized.
    Piped, the values are exact; on a terminal (like `ls`) control characters are written
    out as \\x1b, so a log field cannot send the terminal an escape sequence."""
    from auditlog.export.writers import CSV_LINE_END

    if not rows:
        return
    shown = visible if sys.stdout.isatty() else str
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator=CSV_LINE_END)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: shown(safe_cell_text(v)) for k, v in row.items()})


# Columns of prose, which fold onto more lines; every other column (ids, codes, amounts)
# is kept whole.
PROSE_COLUMNS = ("detail", "title")


def render_rows(rows: list[dict[str, Any]], columns: tuple[str, ...], title: str) -> None:
    table = Table(title=f"{title} ({len(rows):,})", title_justify="left", box=None,
                  header_style="bold", pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column == "amount" else "left",
                         no_wrap=column not in PROSE_COLUMNS, overflow="fold")
    for row in rows:
        table.add_row(*(cell_text(row.get(c)) for c in columns))
    console.print(table)
