"""`auditlog privileges`: who held what at an instant (--as-of) or during a window
(--between), each privilege with the grant that gave it and what ended it; a table that
fits 80 columns with ids whole for people, JSON or CSV (formula-safe) for programs."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import (
    DbOption,
    TableFormat,
    TableFormatOption,
    app,
    console,
    err_console,
    investigation,
    print_json,
)
from auditlog.cli.display import Clock, TzOption, cut_notice
from auditlog.cli.render import write_csv

DEFAULT_LIMIT = 50
GRANT_ROOM = 22  # the grant's id, granter and approval lines
HELD_WIDTH = len("→ 2026-09-22 17:45:00")
# What ended an interval, as the table says it.
ENDED = {"revoked": "revoked", "expired": "expired", "account_disabled": "account disabled"}


@app.command("privileges")
def privileges_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="What was held at this instant (ISO 8601, UTC if no offset).")
    ] = None,
    between: Annotated[tuple[str, str] | None, typer.Option(
        "--between", metavar="T1 T2",
        help="The intervals held at any time in [T1, T2) instead.")] = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Only what this account held.")] = None,
    privilege: Annotated[str | None, typer.Option(
        "--privilege", help="Only this privilege (role, group, policy).")] = None,
    system: Annotated[str | None, typer.Option(
        "--system", help="Only privileges on this system (and those on any system).")
    ] = None,
    limit: Annotated[int, typer.Option(
        "--limit", "-n", min=0, help="At most this many rows in the table.")] = DEFAULT_LIMIT,
    every: Annotated[bool, typer.Option("--all", help="Every row (no --limit).")] = False,
    db: DbOption = None,
    output: TableFormatOption = TableFormat.table,
    tz: TzOption = None,
) -> None:
    """Who held what: every privilege held at --as-of T (or during --between T1 T2),
    from grants, revocations, expiry and disabled accounts, each with the grant that
    gave it (id, granter, approver, ticket) and what ended it."""
    whole = every or output is not TableFormat.table
    doc = investigation(db).privileges(as_of=as_of, between=between, account=account,
                                       privilege=privilege, system=system,
                                       limit=None if whole else limit)
    if output is TableFormat.json:
        print_json(doc)
    elif output is TableFormat.csv:
        write_intervals_csv(doc["intervals"])
    else:
        console.print(privileges_table(doc, Clock.named(tz)))
        notice = cut_notice(doc["shown"], doc["total"], "privileges")
        if notice is not None:
            console.print(notice)


def write_intervals_csv(intervals: list[dict[str, Any]]) -> None:
    if intervals:
        write_csv(intervals)
    else:  # a header still, so a spreadsheet or a script sees the columns
        from auditlog.analysis.privileges import COLUMNS

        typer.echo(",".join(COLUMNS))
        err_console.print("no privilege held in that time")


def privileges_table(doc: dict[str, Any], clock: Clock) -> Table:
    when = (f"at {clock.time(doc['as_of'])}" if doc["as_of"] else
            f"from {clock.time(doc['between'][0])} to {clock.time(doc['between'][1])}")
    table = Table(title=f"Privileges held {when} ({doc['total']:,})", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
                  collapse_padding=True, show_edge=False)
    intervals = doc["intervals"]
    grant_width = min(GRANT_ROOM, max([len("grant"), *(
        len(line) for i in intervals for line in grant_cell(i).plain.splitlines())]))
    # The account and what it held share the flexible column (one line each), so a long
    # ARN or role name folds there, whole, while the times and ids keep their width.
    rest = max(16, console.width - HELD_WIDTH - grant_width - 4)
    table.add_column("account · privilege · system", width=rest, overflow="fold")
    table.add_column("held", width=HELD_WIDTH, overflow="fold")
    table.add_column("grant", width=grant_width, overflow="fold")
    for interval in intervals:
        table.add_row(holder_cell(interval), held_cell(interval, clock),
                      grant_cell(interval))
    return table


def holder_cell(interval: dict[str, Any]) -> Text:
    text = Text(interval["account"], style="bold")
    text.append("\n" + interval["privilege"])
    text.append("\non " + (interval["system"] or "any system"), style="dim")
    return text


def held_cell(interval: dict[str, Any], clock: Clock) -> Text:
    start = " ".join(clock.day_and_clock(interval["held_from"]))
    if interval["ended_at"] is None:
        end, why = "→ still held", ""
    else:
        end = "→ " + " ".join(clock.day_and_clock(interval["ended_at"]))
        why = "\n" + ENDED.get(interval["end_reason"] or "", interval["end_reason"] or "")
    lines = Text(start)
    if interval["start_reason"] == "account_enabled":
        lines.append("\n(account enabled)", style="dim")
    lines.append("\n" + end)
    lines.append(why, style="dim")
    return lines


def grant_cell(interval: dict[str, Any]) -> Text:
    """The grant's id, who gave it and its approval; what a reviewer checks first."""
    text = Text(interval["grant_event_id"])
    text.append("\nby " + (interval["granter"] or "none"), style="dim")
    missing = [what for what in ("ticket", "approver") if interval[what] is None]
    # A source with no place for an approval (CloudTrail, Kubernetes) cannot show one.
    if missing and interval["carries_approval"]:
        text.append("\nno " + " or ".join(missing), style="bold red")
    if interval["grants"] > 1:
        text.append(f"\n+{interval['grants'] - 1} regrant(s)", style="dim")
    return text
