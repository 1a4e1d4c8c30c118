"""`auditlog timeline`: what happened to an account, a customer or in a time range, all
five kinds merged in time order; a table grouped by day for people, JSON for programs."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer
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
from auditlog.kinds import KINDS

# The five kinds (the timeline checks the names too; the choice makes --help list them).
TimelineKind = enum.Enum("TimelineKind", {k: k for k in KINDS}, type=str)  # type: ignore[misc]
KIND_STYLES = {"changes": "magenta", "privileges": "yellow", "actions": "cyan",
               "charges": "green", "accounts": "blue"}
DEFAULT_LIMIT = 1000


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
    limit: Annotated[int, typer.Option(
        "--limit", help="At most this many events, the earliest; 0 for all.")] = DEFAULT_LIMIT,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Every event touching an account, a customer or a time range, in time order."""
    from auditlog.analysis.timeline import timeline_records

    frame = investigation(db).timeline(account=account, customer=customer, since=since,
                                       until=until, kinds=[k.value for k in kind or ()],
                                       limit=limit or None)
    rows = timeline_records(frame)
    if limit and len(rows) == limit:
        err_console.print(f"the first {limit} events; --limit 0 shows all")
    if output is OutputFormat.json:
        print_json(rows)
    else:
        console.print(render(rows, account or customer))


def render(rows: list[dict[str, Any]], who: str | None) -> Table:
    """One table, a section per UTC day; flagged rows carry the rules that cite them."""
    title = f"Timeline of {who}" if who else "Timeline"
    flagged = sum(bool(r["rules"]) for r in rows)
    table = Table(title=f"{title} ({len(rows)} events, {flagged} evidence of findings)",
                  title_justify="left", show_lines=False)
    # The event names its kind (colour); who did it to whom reads as one phrase; the
    # rules citing a row go under its text: the table stays legible in 80 columns.
    table.add_column("time", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("id", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("who", overflow="fold")
    table.add_column("what", overflow="fold", ratio=1)
    with_amounts = any(r["amount"] for r in rows)
    if with_amounts:
        table.add_column("amount", justify="right", no_wrap=True)
    day = None
    for row in rows:
        date, _, clock = (row["ts"] or "").partition("T")
        if date != day:
            if day is not None:
                table.add_section()
            table.add_row(Text(date, style="bold"), *([""] * (len(table.columns) - 1)))
            day = date
        style = KIND_STYLES.get(row["kind"], "")
        who = " → ".join(x for x in (row["actor"], row["account"]) if x)
        what = Text(" · ".join(x for x in (row["system"], row["summary"]) if x))
        if row["rules"]:  # under the event, so the table keeps its width
            what.append("\n! " + ", ".join(row["rules"]), style="bold red")
        cells: list[str | Text] = [clock.removesuffix("Z")[:8],
                                   Text(row["event"] or row["kind"], style=style),
                                   row["id"] or "", who, what]
        if with_amounts:
            cells.append(" ".join(x for x in (row["amount"], row["currency"]) if x))
        table.add_row(*cells)
    return table
