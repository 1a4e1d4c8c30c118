"""Commands that load logs and describe what is loaded: ingest, status, quarantine."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    ProgressBar,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.kinds import KINDS
from auditlog.textsafe import terminal

if TYPE_CHECKING:
    import polars as pl


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
    none of these formats are skipped with a warning. One call is all or nothing.
    """
    with ProgressBar("loading", enabled=output is OutputFormat.table) as bar:
        results = investigation(db).ingest(
            paths, kind=kind.value if kind else None, tz=tz, strict=strict,
            currency=currency, mapping=mapping, lake=lake, progress=bar.files)
    if output is OutputFormat.json:
        print_json(results.to_dicts())
    else:
        _render_ingest(results)


def _render_ingest(results: pl.DataFrame) -> None:
    table = Table(title="Ingested", title_justify="left")
    for header in ("file", "kind", "rows read", "loaded", "duplicates", "quarantined"):
        table.add_column(header, justify="left" if header in ("file", "kind") else "right")
    for r in results.iter_rows(named=True):
        quarantined = terminal((f"{r['quarantined']:,}", "bold yellow") if r["quarantined"]
                               else "0")
        table.add_row(r["path"], r["kind"], f"{r['rows_read']:,}", f"{r['loaded']:,}",
                      f"{r['duplicates']:,}", quarantined)
    console.print(table)
    total_q = results["quarantined"].sum()
    if total_q:
        console.print(terminal(f"{total_q:,} row(s) quarantined: see them with ",
                               ("auditlog quarantine", "bold"), "."))


@app.command()
def status(db: DbOption = None, output: FormatOption = OutputFormat.table) -> None:
    """What the database holds: rows and time range per kind, files, quarantine."""
    summary = investigation(db).status()
    if output is OutputFormat.json:
        print_json(summary)
        return
    kinds = Table(title="Logs", title_justify="left")
    for header in ("kind", "rows", "from (UTC)", "to (UTC)", "quarantined"):
        kinds.add_column(header, justify="right" if header in ("rows", "quarantined") else "left")
    for name, info in summary["kinds"].items():
        kinds.add_row(name, f"{info['rows']:,}", _short(info["first"]), _short(info["last"]),
                      f"{info['quarantined']:,}")
    console.print(kinds)
    _render_coverage(summary["coverage"])
    files = Table(title="Files", title_justify="left")
    for header in ("file", "kind", "sha256", "read", "loaded", "dup", "quar", "tz",
                   "ingested (UTC)"):
        files.add_column(header)
    for f in summary["files"]:
        # tz: the zone the file's naive times were read in, "none" when it had none.
        files.add_row(f["path"], f["kind"], f["sha256"][:12], f"{f['rows_read']:,}",
                      f"{f['loaded']:,}", f"{f['duplicates']:,}", f"{f['quarantined']:,}",
                      _zone(f), _short(f["ingested_at"]))
    console.print(files)
    if any(f["tz_assumed"] for f in summary["files"]):
        console.print(ASSUMED, markup=False)


def _render_coverage(coverage: dict[str, Any]) -> None:
    """Missing kinds in one line, gaps in a table that fits 80 columns; system names are
    log text, so they go in as Text, never as markup."""
    if coverage["missing"]:
        console.print(Text("no rows: " + ", ".join(coverage["missing"])
                           + " (see docs/coverage.md)", style="yellow"))
    if not coverage["gaps"]:
        return
    gaps = Table(title="Gaps: no events where the source is usually busy", title_justify="left")
    for header in ("kind", "system", "from (UTC)", "to (UTC)", "expected"):
        gaps.add_column(header, justify="right" if header == "expected" else "left",
                        overflow="fold")
    for g in coverage["gaps"]:
        gaps.add_row(g["kind"], Text(g["system"] or "-"), _short(g["start"])[:16],
                     _short(g["end"])[:16], f"{g['expected']:,}")
    console.print(gaps)


def _zone(file: dict[str, Any]) -> str:
    """The zone a file's naive times were read in, "none" when it had none, starred when
    it was only assumed (no --tz; see ASSUMED)."""
    return (file["tz"] or "none") + ("*" if file["tz_assumed"] else "")


ASSUMED = ("* assumed: no --tz was given, and answers that read the file say so until the "
           "zone is named (load it again with --tz)")


def _short(instant: str | None) -> str:
    """2026-09-01T10:00:00.123Z → 2026-09-01 10:00:00 for tables; JSON keeps it whole."""
    return instant[:19].replace("T", " ") if instant else "-"


@app.command()
def quarantine(
    path: Annotated[
        str | None, typer.Option("--file", help="Only rows from this file (as ingested).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many rows.")] = 100,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The quarantined rows: file, position, reason and raw text."""
    rows = investigation(db).quarantine(file=path, limit=limit)
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title="Quarantined rows", title_justify="left", show_lines=True)
    for header in ("file", "at", "kind", "reason", "raw"):
        table.add_column(header, overflow="fold")
    for r in rows:
        table.add_row(r["path"], r["location"], r["kind"], r["reason"], (r["raw"] or "")[:200])
    console.print(table)
