"""`auditlog forget`: take loaded files back out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    investigation,
    print_json,
)

if TYPE_CHECKING:
    import polars as pl


@app.command()
def forget(
    targets: Annotated[
        list[str],
        typer.Argument(help="Files to take back out: a path as 'auditlog status' lists it, "
                       "a file on disk whose content was loaded, or a full or unambiguous "
                       "prefix of a SHA-256.", show_default=False),
    ],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Remove everything loaded files brought, in one transaction.

    Their rows, quarantined rows and file entries go; the stored attribution
    is recomputed when next needed. Afterwards 'auditlog status' is what it
    was before the files were loaded.

    A row that a later file also held (a duplicate there) is kept, as that
    file's. While rows of a later file were quarantined as conflicts with
    the file's (they would load without it), forgetting it alone is refused:
    forget both, then load the later one again. Findings stay as the last
    run left them until the next 'auditlog run'.

    Use it to load a file again with another --tz.
    """
    report = investigation(db).forget(targets)
    if output is OutputFormat.json:
        print_json(report.to_dicts())
    else:
        _render(report)


def _render(report: pl.DataFrame) -> None:
    table = Table(title="Forgotten", title_justify="left")
    for header in ("file", "kind", "sha256", "rows removed", "kept by another file",
                   "quarantine removed"):
        table.add_column(header, justify="left" if header in ("file", "kind", "sha256")
                         else "right")
    for r in report.iter_rows(named=True):
        # A path is text from the user's disk, never markup.
        table.add_row(Text(r["path"]), Text(r["kind"]), r["sha256"][:12],
                      f"{r['rows_removed']:,}", f"{r['rows_handed_over']:,}",
                      f"{r['quarantine_removed']:,}")
    console.print(table)
