"""`auditlog changes` and `auditlog accounts`: what `trace change` and `trace account`
can take, each with what the attribution blames on it; a table that fits 80 columns with
ids whole for people, the listing's JSON document for programs."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    SinceOption,
    UntilOption,
    app,
    console,
    err_console,
    investigation,
    print_json,
)
from auditlog.cli.display import Clock, TzOption, cut_notice
from auditlog.report import formatting as fmt
from auditlog.textsafe import terminal

DEFAULT_LIMIT = 50
ID_ROOM = 24  # columns an id may take before it folds
ID_FLOOR = 12  # ... and fewest, when the other columns need the room
FLEXIBLE_FLOOR = 10  # the fewest columns the flexible column (systems, who) is given
SystemOption = Annotated[str | None, typer.Option(
    "--system", help="Only this system (as the logs name it).")]
AnomalousOption = Annotated[bool, typer.Option(
    "--anomalous", help="Only those the attribution blames for anomalous charges.")]
LimitOption = Annotated[int, typer.Option(
    "--limit", "-n", min=0, help="At most this many rows.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every row (no --limit).")]


@app.command("changes")
def changes_cmd(
    system: SystemOption = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Only changes this account implemented or approved.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    anomalous: AnomalousOption = False,
    limit: LimitOption = DEFAULT_LIMIT,
    every: AllOption = False,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
    tz: TzOption = None,
) -> None:
    """The changes, in the order they started: the ids 'auditlog trace change' takes."""
    doc = investigation(db).changes(system=system, account=account, since=since,
                                    until=until, anomalous=anomalous,
                                    limit=None if every else limit)
    show(doc, "changes", changes_table(doc, Clock.named(tz)), output)


@app.command("accounts")
def accounts_cmd(
    system: SystemOption = None,
    account_type: Annotated[str | None, typer.Option(
        "--type", help="Only accounts of this type (human, service, system, customer).")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    anomalous: AnomalousOption = False,
    customers: Annotated[bool, typer.Option(
        "--customers", help="Customers too (the accounts charges bill).")] = False,
    limit: LimitOption = DEFAULT_LIMIT,
    every: AllOption = False,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
    tz: TzOption = None,
) -> None:
    """Operator, service and system accounts, those behind anomalous charges first:
    the names 'auditlog trace account' takes."""
    doc = investigation(db).accounts(system=system, account_type=account_type, since=since,
                                     until=until, anomalous=anomalous,
                                     customers=customers or account_type == "customer",
                                     limit=None if every else limit)
    show(doc, "accounts", accounts_table(doc, Clock.named(tz)), output)


def show(doc: dict[str, Any], noun: str, table: Table, output: OutputFormat) -> None:
    """The JSON document, or the table then (last, on screen) what the cut left out."""
    notice = cut_notice(doc["shown"], doc["total"], noun)
    if output is OutputFormat.json:
        print_json(doc)
        if notice is not None:
            err_console.print(notice)
        return
    console.print(table)
    if doc["by_currency"]:
        console.print(terminal("anomalous charges of those shown: ",
                               fmt.moneys(doc["by_currency"])))
    if notice is not None:
        console.print(notice)


def listing_table(title: str) -> Table:
    # No vertical rules: the columns that must stay whole (ids, times) keep the room.
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                 padding=(0, 1), collapse_padding=True, show_edge=False)


def widest(header: str, cells: list[str], cap: int | None = None) -> int:
    width = max([len(header), *(len(c) for c in cells)])
    return min(width, cap) if cap else width


def layout(table: Table, columns: list[tuple[str, int | None, str]]) -> None:
    """Columns of fixed widths (header, width, justify), one of them (width None) taking
    what the console's width leaves: Rich's own squeezing can crop the last column, so
    the widths are decided here. A column narrower than a value folds it onto the next
    lines (an id longer than ID_ROOM): whole, never cut with an ellipsis."""
    fixed = sum(width for _, width, _ in columns if width is not None)
    rest = console.width - fixed - 2 * (len(columns) - 1)
    # Too little left for the flexible column: the id column (the first) gives up room
    # and folds more, down to a floor, rather than the row growing past the screen.
    lent = max(0, min(FLEXIBLE_FLOOR - rest, (columns[0][1] or 0) - ID_FLOOR))
    for index, (header, width, justify) in enumerate(columns):
        if width is None:
            width = max(FLEXIBLE_FLOOR, rest + lent)
        elif index == 0:
            width -= lent
        table.add_column(header, width=width, overflow="fold",
                         justify=justify)  # type: ignore[arg-type]


def changes_table(doc: dict[str, Any], clock: Clock) -> Table:
    # The system and the implementer share the flexible column, wrapping between them,
    # so neither a long system name nor a long account name is split inside a word.
    table = listing_table(f"Changes ({doc['total']:,}), times in {clock.name}")
    changes = doc["changes"]
    layout(table, [
        ("change", widest("change", [c["change_id"] for c in changes], ID_ROOM), "left"),
        ("started", len("2026-01-01 00:00"), "left"),
        ("system · implementer", None, "left"),
        ("status", widest("status", [c["status"] or "-" for c in changes], 12), "left"),
        ("anomalous", widest("anomalous", [f"{c['anomalous_charges']:,}" for c in changes]),
         "right")])
    for change in changes:
        day, time = clock.day_and_clock(change["started_at"])
        table.add_row(Text(change["change_id"]), f"{day} {time[:5]}",
                      Text(f"{change['system'] or '-'} · {change['implementer'] or '-'}"),
                      Text(change["status"] or "-"),
                      count_cell(change["anomalous_charges"]))
    return table


def accounts_table(doc: dict[str, Any], clock: Clock) -> Table:
    table = listing_table(f"Accounts ({doc['total']:,}), times in {clock.name}")
    accounts = doc["accounts"]
    layout(table, [
        ("account", widest("account", [a["account"] for a in accounts], ID_ROOM), "left"),
        ("type", widest("type", [a["account_type"] or "-" for a in accounts], 8), "left"),
        ("actions", widest("actions", [f"{a['actions']:,}" for a in accounts]), "right"),
        ("systems", None, "left"),
        ("last seen", len("2026-01-01 00:00"), "left"),
        ("anomalous", widest("anomalous", [f"{a['anomalous_charges']:,}" for a in accounts]),
         "right")])
    for entry in accounts:
        day, time = clock.day_and_clock(entry["last"])
        table.add_row(Text(entry["account"]), Text(entry["account_type"] or "-"),
                      f"{entry['actions']:,}", Text(systems_text(entry["systems"])),
                      f"{day} {time[:5]}".strip(), count_cell(entry["anomalous_charges"]))
    return table


def systems_text(systems: list[str]) -> str:
    """The first system and how many more: the table is for picking an account; its
    trace (and the JSON) lists them all."""
    if not systems:
        return "-"
    return systems[0] + (f" +{len(systems) - 1}" if len(systems) > 1 else "")


def count_cell(charges: int) -> Text:
    return Text(f"{charges:,}", style="bold red") if charges else Text("0")
