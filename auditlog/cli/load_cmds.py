"""`auditlog ingest`: load log files (status and quarantine, what is loaded: status_cmds)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    ProgressBar,
    app,
    console,
    err_console,
    investigation,
    print_json,
)
from auditlog.cli.display import common_root, compact_table, shorten_left
from auditlog.kinds import KINDS
from auditlog.textsafe import terminal

KindName = enum.Enum("KindName", {name: name for name in KINDS}, type=str)  # type: ignore[misc]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Log files or directories to load.")],
    kind: Annotated[
        KindName | None,
        typer.Option("--kind", "-k", help="Kind of log; detected from the columns when omitted."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", show_default=False, help=(
            "Zone of timestamps that carry no offset (IANA name). Without it they are read "
            "as UTC, with a warning naming the file; a file already loaded keeps the zone "
            "it was read in (to change it, 'auditlog forget' it first). A naive time in a "
            "daylight-saving gap moves forward by the gap; one in an overlap is the earlier "
            "instant.")),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail, loading nothing, if any row is quarantined.")
    ] = False,
    currency: Annotated[
        str | None,
        typer.Option("--currency", envvar="AUDITLOG_CURRENCY",
                     help="ISO 4217 code for charges that name none."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", metavar="FILE|NAME", help=(
            "Mapping file (TOML) saying which value of each record is which column "
            "(paths such as actor.alternateId, target[0].id), how codes translate and "
            "which rows to keep; or the name of a shipped one: jira_cloud_audit, "
            "servicenow_change_requests, stripe_charges. See docs/mappings.md.")),
    ] = None,
    lake: Annotated[
        Path | None,
        typer.Option("--lake", help="Also append the loaded rows to this Parquet lake "
                     "(see 'auditlog lake export')."),
    ] = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Load log files into the database; bad rows are quarantined, never dropped.

    Reads JSON Lines, JSON, CSV, TSV, Parquet, EVTX and auditd text, text formats also
    gzipped, each told by its content whatever the file's name. In a folder, files in
    none of these formats are skipped with a warning, hidden ones (.DS_Store) with a
    note. One call is all or nothing.
    A folder written by 'auditlog generate' (or sample_logs/) is loaded as its
    sources.json says, each file with its kind and zone, its ground truth left out.
    """
    from auditlog.ingest.world import is_world

    # A world from 'auditlog generate' (or sample_logs/) names each file's kind and zone
    # in its sources.json, and holds its ground truth beside the logs: loaded as its
    # sources say, as 'auditlog demo --world' does, unless the user said how to read it.
    as_world = (len(paths) == 1 and is_world(paths[0]) and kind is None and tz is None
                and mapping is None and lake is None and currency is None and not strict)
    if as_world:
        err_console.print(f"note: {paths[0]} is a generated world: each file is loaded with "
                          "the kind and zone its sources.json names; its ground truth is "
                          "not loaded.", markup=False, soft_wrap=True)
    with ProgressBar("loading", enabled=output is OutputFormat.table) as bar:
        # As records, not a DataFrame: this command never imports polars.
        if as_world:
            results = investigation(db).ingest_world_results(paths[0], progress=bar.files)
        else:
            results = investigation(db).ingest_results(
                paths, kind=kind.value if kind else None, tz=tz, strict=strict,
                currency=currency, mapping=mapping, lake=lake, progress=bar.files)
    rows = [result.as_dict() for result in results]
    if output is OutputFormat.json:
        print_json(rows)
    else:
        _render_ingest(rows)


def _render_ingest(rows: list[dict[str, Any]]) -> None:
    """A row per file: its path without the directory all share (in the title), cut
    from the left when still too long so the file name stays; kinds and counts whole."""
    root = common_root([r["path"] for r in rows])
    headers = ("kind", "read", "loaded", "dup", "quar")  # as status names them
    cells = [(r["kind"], f"{r['rows_read']:,}", f"{r['loaded']:,}", f"{r['duplicates']:,}",
              f"{r['quarantined']:,}") for r in rows]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(headers)]
    room = max(12, console.width - sum(widths) - 2 * len(headers))
    table = compact_table("Ingested" + (f" from {root}" if root else ""))
    table.add_column("file", no_wrap=True, max_width=room)
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, justify="left" if header == "kind" else "right",
                         no_wrap=True, min_width=width)
    for r, (kind, read, loaded, dups, quarantined) in zip(rows, cells, strict=True):
        name = r["path"].removeprefix(root) if root else r["path"]
        table.add_row(shorten_left(name, room), kind, read, loaded, dups,
                      terminal((quarantined, "bold yellow") if r["quarantined"] else "0"))
    console.print(table)
    total_q = sum(r["quarantined"] for r in rows)
    if total_q:
        console.print(terminal(f"{total_q:,} row(s) quarantined: see them with ",
                               ("auditlog quarantine", "bold"), "."))
