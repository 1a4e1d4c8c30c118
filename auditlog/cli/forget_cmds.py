"""`auditlog forget`: take loaded files back out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
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
from auditlog.cli.display import compact_table

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
    """A row per file at 80 columns: the SHA-256's first 12 hex digits whole (as the JSON
    gives all 64), counts never cut, the path folded rather than shortened."""
    table = compact_table("Forgotten")
    table.add_column("file", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("sha256", no_wrap=True, min_width=12)
    for header in ("removed", "kept", "quarantine"):
        table.add_column(header, justify="right", no_wrap=True)
    for r in report.iter_rows(named=True):
        # A path is text from the user's disk, never markup.
        table.add_row(Text(r["path"]), Text(r["kind"]), r["sha256"][:12],
                      f"{r['rows_removed']:,}", f"{r['rows_handed_over']:,}",
                      f"{r['quarantine_removed']:,}")
    table.caption = ("removed: rows taken out; kept: rows another loaded file also holds, "
                     "which stay; quarantine: quarantined rows taken out")
    table.caption_justify = "left"
    console.print(table)
