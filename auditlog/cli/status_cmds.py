"""`auditlog status` and `auditlog quarantine`: what the database holds and the rows
ingest refused, as tables that keep what people look for at 80 columns (a file's name,
whole ids and digests, the line to fix), the JSON documents for programs."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    err_console,
    investigation,
    print_json,
)
from auditlog.cli.display import (
    Clock,
    TzOption,
    common_root,
    compact_table,
    cut_notice,
    shorten_left,
)

# A file's SHA-256 as status shows it: a prefix 'auditlog forget' takes.
DIGEST_PREFIX = 12
RAW_SHOWN = 2000  # characters of a quarantined row's text; --format json has all


@app.command()
def status(db: DbOption = None, output: FormatOption = OutputFormat.table,
           tz: TzOption = None) -> None:
    """What the database holds: rows and time range per kind, files, quarantine."""
    summary = investigation(db).status()
    if output is OutputFormat.json:
        print_json(summary)
        return
    clock = Clock.named(tz)
    console.print(kinds_table(summary["kinds"], clock))
    render_coverage(summary["coverage"], clock)
    if summary["files"]:
        console.print(files_table(summary["files"], clock))
    if any(f["tz_assumed"] for f in summary["files"]):
        console.print(ASSUMED, markup=False)


def kinds_table(kinds: dict[str, Any], clock: Clock) -> Table:
    table = compact_table(f"Logs (times in {clock.name})")
    for header in ("kind", "rows", "from", "to", "quarantined"):
        table.add_column(header, no_wrap=True,
                         justify="right" if header in ("rows", "quarantined") else "left")
    for name, info in kinds.items():
        table.add_row(name, f"{info['rows']:,}", second(clock, info["first"]),
                      second(clock, info["last"]), f"{info['quarantined']:,}")
    return table


def second(clock: Clock, instant: str | None) -> str:
    day, time = clock.day_and_clock(instant)
    return f"{day} {time}".strip()


def files_table(files: list[dict[str, Any]], clock: Clock) -> Table:
    """A row per file: its path without the directory all share (named in the title),
    cut from the left when still too long, so the file name stays; under it the digest
    prefix 'auditlog forget' takes, the zone its naive times were read in, and when."""
    root = common_root([f["path"] for f in files])
    counts = [(f"{f['rows_read']:,}", f"{f['loaded']:,}", f"{f['duplicates']:,}",
               f"{f['quarantined']:,}") for f in files]
    widths = [max(len(header), *(len(c[i]) for c in counts))
              for i, header in enumerate(("read", "loaded", "dup", "quar"))]
    kind_width = max(len("kind"), *(len(f["kind"]) for f in files))
    room = max(24, console.width - kind_width - sum(widths) - 2 * 5)
    title = f"Files ({len(files):,})" + (f" under {root}" if root else "")
    table = compact_table(title)
    # The counts and kinds keep their width; the file column has the rest, its path cut
    # to fit and its details wrapping between their parts.
    table.add_column("file", overflow="fold", max_width=room)
    table.add_column("kind", no_wrap=True, min_width=kind_width)
    for header, width in zip(("read", "loaded", "dup", "quar"), widths, strict=True):
        table.add_column(header, justify="right", no_wrap=True, min_width=width)
    for f, (read, loaded, dups, quarantined) in zip(files, counts, strict=True):
        name = f["path"].removeprefix(root) if root else f["path"]
        # tz: the zone the file's naive times were read in, "none" when it had none.
        about = packed([f["sha256"][:DIGEST_PREFIX], f"tz {zone(f)}",
                        second(clock, f["ingested_at"])[:16]], room)
        table.add_row(Group(Text(shorten_left(name, room)), *about), f["kind"], read, loaded,
                      dups, Text(quarantined, style="bold yellow" if f["quarantined"] else ""))
    return table


def packed(parts: list[str], width: int) -> list[Text]:
    """Parts joined by ' · ' into dim lines of at most `width`, broken only between parts
    (Rich would break at any space, splitting a date from its time)."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return [Text(line, style="dim") for line in lines]


def render_coverage(coverage: dict[str, Any], clock: Clock) -> None:
    """Missing kinds in one line, gaps in a table that fits 80 columns; system names are
    log text, so they go in as Text, never as markup."""
    if coverage["missing"]:
        console.print(Text("no rows: " + ", ".join(coverage["missing"])
                           + " (see docs/coverage.md)", style="yellow"))
    if not coverage["gaps"]:
        return
    gaps = compact_table("Gaps: no events where the source is usually busy "
                         f"(times in {clock.name})")
    for header in ("kind", "system", "from", "to", "expected"):
        gaps.add_column(header, justify="right" if header == "expected" else "left",
                        overflow="fold", no_wrap=header in ("from", "to"))
    for g in coverage["gaps"]:
        gaps.add_row(g["kind"], Text(g["system"] or "-"), second(clock, g["start"])[:16],
                     second(clock, g["end"])[:16], f"{g['expected']:,}")
    console.print(gaps)


def zone(file: dict[str, Any]) -> str:
    """The zone a file's naive times were read in, "none" when it had none, starred when
    it was only assumed (no --tz; see ASSUMED)."""
    return (file["tz"] or "none") + ("*" if file["tz_assumed"] else "")


ASSUMED = ("* assumed: no --tz was given, and answers that read the file say so until the "
           "zone is named (load it again with --tz)")


@app.command()
def quarantine(
    path: Annotated[
        str | None, typer.Option("--file", help="Only rows from this file (as ingested).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0,
                                       help="At most this many rows.")] = 100,
    every: Annotated[bool, typer.Option("--all", help="Every quarantined row.")] = False,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The quarantined rows: file, line (or record), reason and the text as it was."""
    page = investigation(db).quarantine_page(file=path, limit=None if every else limit)
    rows = page["rows"]
    notice = cut_notice(len(rows), page["total"], "quarantined rows")
    if output is OutputFormat.json:
        print_json(rows)
        if notice is not None:
            err_console.print(notice)
        return
    console.print(quarantine_table(rows, page["total"]))
    if notice is not None:
        console.print(notice)


def quarantine_table(rows: list[dict[str, Any]], total: int) -> Table:
    """Where each row is and, beside it, why it was refused and its text as the file has
    it. The file is named once in the title when all rows shown are of one file; else
    each row names it without the directory they all share (named in the title)."""
    paths = sorted({r["path"] for r in rows})
    root = common_root(paths)
    title = f"Quarantined rows ({total:,})"
    # The path on a line of its own: a long one then wraps the same way wherever the
    # files live, and never splits the count from its words.
    if len(paths) == 1:
        title += f" of\n{paths[0]}"
    elif root:
        title += f" under\n{root}"
    table = compact_table(title)
    table.show_lines = True
    table.add_column("where", no_wrap=len(paths) == 1, overflow="fold",
                     ratio=None if len(paths) == 1 else 1)
    table.add_column("reason, then the text as it was", ratio=2, overflow="fold")
    for r in rows:
        at = Text(f"{r['location'] or '-'} · {r['kind']}", style="dim")
        where = at if len(paths) == 1 else Group(Text(r["path"].removeprefix(root)), at)
        raw = r["raw"] or ""
        if len(raw) > RAW_SHOWN:
            raw = raw[:RAW_SHOWN] + f"… ({len(raw) - RAW_SHOWN:,} more characters in " \
                                    "--format json)"
        table.add_row(where, Group(Text(r["reason"], style="yellow"), Text(raw)))
    return table
