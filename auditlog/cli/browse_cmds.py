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


def wrapping(table: Table, header: str, **options: Any) -> None:
    """A column that wraps its words (folding only a word longer than the column);
    never narrower than its header, so a header is not split."""
    table.add_column(header, overflow="fold", min_width=len(header), **options)


def changes_table(doc: dict[str, Any], clock: Clock) -> Table:
    # The system and the implementer share a column that wraps between them, so neither
    # a long system name nor a long account name is split inside a word.
    table = listing_table(f"Changes ({doc['total']:,}), times in {clock.name}")
    table.add_column("change", no_wrap=True)
    table.add_column("started", no_wrap=True)
    wrapping(table, "system · implementer", ratio=1)
    table.add_column("status", no_wrap=True)
    table.add_column("anomalous", justify="right", no_wrap=True)
    for change in doc["changes"]:
        day, time = clock.day_and_clock(change["started_at"])
        table.add_row(Text(change["change_id"]), f"{day} {time[:5]}",
                      Text(f"{change['system'] or '-'} · {change['implementer'] or '-'}"),
                      Text(change["status"] or "-"),
                      count_cell(change["anomalous_charges"]))
    return table


def accounts_table(doc: dict[str, Any], clock: Clock) -> Table:
    table = listing_table(f"Accounts ({doc['total']:,}), times in {clock.name}")
    table.add_column("account", no_wrap=True)
    wrapping(table, "type")
    table.add_column("actions", justify="right", no_wrap=True)
    wrapping(table, "systems")
    table.add_column("last seen", no_wrap=True)
    table.add_column("anomalous", justify="right", no_wrap=True)
    for entry in doc["accounts"]:
        day, time = clock.day_and_clock(entry["last"])
        table.add_row(Text(entry["account"]), Text(entry["account_type"] or "-"),
                      f"{entry['actions']:,}", Text(", ".join(entry["systems"]) or "-"),
                      f"{day} {time[:5]}".strip(), count_cell(entry["anomalous_charges"]))
    return table


def count_cell(charges: int) -> Text:
    return Text(f"{charges:,}", style="bold red") if charges else Text("0")
