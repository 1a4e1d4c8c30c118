"""`auditlog forget`, and what ingest says about the times it read (naive ones, DST)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from auditlog import store
from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    err_console,
    print_json,
)
from auditlog.errors import UsageError
from auditlog.ingest import FileResult
from auditlog.ingest.forget import Forgotten, stale_findings
from auditlog.ingest.forget import forget as forget_files


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
    path = db if db is not None else store.default_db_path()
    if not path.exists():  # a writer would create it: say that nothing was loaded instead
        raise UsageError(f"no database at {path}; nothing was loaded, so nothing can be "
                         "forgotten")
    con = store.connect(path)
    try:
        report = forget_files(con, targets)
        stale = stale_findings(con)
    finally:
        con.close()
    if output is OutputFormat.json:
        print_json([r.as_dict() for r in report])
    else:
        _render(report)
    warn_stale_findings(stale)


def _render(report: list[Forgotten]) -> None:
    table = Table(title="Forgotten", title_justify="left")
    for header in ("file", "kind", "sha256", "rows removed", "kept by another file",
                   "quarantine removed"):
        table.add_column(header, justify="left" if header in ("file", "kind", "sha256")
                         else "right")
    for r in report:
        # A path is text from the user's disk, never markup.
        table.add_row(Text(r.path), Text(r.kind), r.sha256[:12], f"{r.rows_removed:,}",
                      f"{r.rows_handed_over:,}", f"{r.quarantine_removed:,}")
    console.print(table)


def warn_stale_findings(run: str | None) -> None:
    """On stderr: the findings of `run` (forget.stale_findings) may rest on rows of a
    file forgotten since."""
    if run is not None:
        err_console.print(f"note: files were forgotten since run {run}; its findings may rest "
                          "on rows that are gone until 'auditlog run' is run again",
                          markup=False, soft_wrap=True)


def announce_times(results: list[FileResult], *, tz_chosen: bool) -> None:
    """On stderr, per file: naive timestamps read in a zone nobody chose, and naive times
    that fell in a daylight-saving gap or overlap (the rule: validate.MACROS)."""
    for r in results:
        if r.naive_times and not tz_chosen:
            err_console.print(
                f"warning: {r.naive_times:,} timestamp(s) in {r.path} carry no offset and were "
                f"read in {r.tz}, since no --tz was given, and answers will say so: if that "
                f"is right, load it again with --tz {r.tz}; if they are local times of another "
                f"zone, forget it (auditlog forget {shlex.quote(r.path)}) and load it with "
                "--tz ZONE",
                markup=False, soft_wrap=True)
        if r.dst_resolved:
            err_console.print(
                f"note: {r.dst_resolved:,} naive time(s) in {r.path} fell in a daylight-saving "
                f"gap or overlap of {r.tz}; resolved with the offset in effect before the "
                "change: a time in a gap moves forward by the gap, a time in an overlap is "
                "the earlier of its two instants",
                markup=False, soft_wrap=True)
