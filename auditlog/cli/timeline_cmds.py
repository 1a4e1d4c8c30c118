"""`auditlog timeline`: what happened to an account, a customer or in a time range, all
five kinds merged in time order; a table grouped by day for people, JSON for programs."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

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
from auditlog.cli.display import Clock, TzOption
from auditlog.kinds import KINDS
from auditlog.report import formatting as fmt

if TYPE_CHECKING:
    from auditlog.analysis.timeline_digest import TimelineDigest

# The five kinds (the timeline checks the names too; the choice makes --help list them).
TimelineKind = enum.Enum("TimelineKind", {k: k for k in KINDS}, type=str)  # type: ignore[misc]
KIND_STYLES = {"changes": "magenta", "privileges": "yellow", "actions": "cyan",
               "charges": "green", "accounts": "blue"}
TABLE_LIMIT = 20  # key events in the table: with the summary, one screenful or two
JSON_LIMIT = 1000  # events in JSON: the earliest, a page a program can take at once


@app.command("timeline")
def timeline_cmd(
    account: Annotated[str | None, typer.Option(
        "--account", help="An operator, service or customer account, in any role.")] = None,
    customer: Annotated[str | None, typer.Option(
        "--customer", help="A customer: charged, acted upon, or acting itself.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    kind: Annotated[list[TimelineKind] | None, typer.Option(
        "--kind", help="Only this kind (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", min=0, metavar="N", show_default=False,
        help=f"At most N events; 0 for all. The table (default {TABLE_LIMIT}) keeps the key "
             "ones: every change, grant and revocation, where each run of like events "
             f"starts and stops, then the earliest evidence. JSON (default {JSON_LIMIT}) "
             "takes the earliest.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every event.")] = False,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
    tz: TzOption = None,
) -> None:
    """Every event touching an account, a customer or a time range, in time order: a
    summary by kind of event, then the key events, the cut said at the end."""
    kinds = [k.value for k in kind or ()]
    default = JSON_LIMIT if output is OutputFormat.json else TABLE_LIMIT
    cut = None if every or limit == 0 else default if limit is None else limit
    inv = investigation(db)
    if output is OutputFormat.json:
        from auditlog.analysis.timeline import timeline_records

        rows = timeline_records(inv.timeline(account=account, customer=customer, since=since,
                                             until=until, kinds=kinds, limit=cut))
        print_json(rows)
        if cut and len(rows) == cut:
            err_console.print(f"the first {cut} events; --all shows all")
        return
    found = inv.timeline_digest(account=account, customer=customer, since=since,
                                until=until, kinds=kinds, limit=cut)
    clock = Clock.named(tz)
    title = f"Timeline of {account or customer}" if account or customer else "Timeline"
    console.print(summary_table(found, title, clock))
    if found.events:
        console.print(events_table(found, clock))
    if found.shown < found.total:
        console.print(Text(
            f"showing {found.shown:,} of {found.total:,} events: the key ones (changes, "
            "grants and revocations, where each run of like events starts and stops, then "
            "the earliest evidence); --all shows all, --limit N shows N", style="yellow"))


def summary_table(found: TimelineDigest, title: str, clock: Clock) -> Table:
    """Every event counted by what it is: the whole timeline, whatever the cut."""
    flagged = sum(g.flagged for g in found.groups)
    table = Table(title=f"{title}: {found.total:,} events, {flagged:,} evidence of a "
                        f"finding ({clock.name})", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("what", overflow="fold", ratio=1)
    table.add_column("events", justify="right", no_wrap=True)
    table.add_column("evidence", justify="right", no_wrap=True)
    table.add_column("first", no_wrap=True)
    table.add_column("last", no_wrap=True)
    for group in found.groups:
        what = Text(group.event, style=KIND_STYLES.get(group.kind, ""))
        if group.what and group.what != group.event:
            what.append(f" {group.what}")
        if group.system:
            what.append(f" · {group.system}")
        if group.by_currency:
            what.append("\n" + " + ".join(fmt.money(amount, currency)
                                          for currency, amount in group.by_currency))
        table.add_row(what, f"{group.events:,}",
                      Text(f"{group.flagged:,}", style="bold red" if group.flagged else ""),
                      minute(clock, group.first), minute(clock, group.last))
    return table


def minute(clock: Clock, instant: datetime) -> str:
    day, time = clock.day_and_clock(instant)
    return f"{day} {time[:5]}"


def events_table(found: TimelineDigest, clock: Clock) -> Table:
    """The events kept, a section per day (in the display zone); each event's id, who
    did it to whom and what, its amount, and under it the rules citing it; the events
    the cut left out counted where they were."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("time", no_wrap=True)
    table.add_column("event", ratio=1, overflow="fold")
    day = None
    for row, hidden in zip(found.events, found.hidden_before, strict=True):
        if hidden:
            table.add_row("", hidden_text(hidden))
        date, clock_time = clock.day_and_clock(row["ts"])
        if date != day:
            if day is not None:
                table.add_section()
            table.add_row(Text(date, style="bold"), "")
            day = date
        table.add_row(clock_time, event_text(row))
    if found.hidden_after:
        table.add_row("", hidden_text(found.hidden_after))
    return table


def hidden_text(count: int) -> Text:
    return Text(f"... {count:,} more event(s) not shown", style="dim")


def event_text(row: dict[str, Any]) -> Text:
    """'charge CH000471040  EUR 2.99' / 'svc-order-sync → C2180621 · order-system ·
    one_time ADDON-DATA-1GB via api' / '! rule, rule': words wrap, never split."""
    text = Text(row["event"] or row["kind"], style=KIND_STYLES.get(row["kind"], ""))
    text.append(f" {row['id'] or '-'}")
    if row["amount"] is not None:
        text.append(f"  {fmt.money(row['amount'], row['currency'])}")
    who = " → ".join(x for x in (row["actor"], row["account"]) if x)
    details = " · ".join(x for x in (who, row["system"], row["summary"]) if x)
    if details:
        text.append(f"\n{details}")
    if row["rules"]:  # under the event, so the table keeps its width
        text.append("\n! " + ", ".join(row["rules"]), style="bold red")
    return text
