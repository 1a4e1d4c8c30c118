"""`auditlog remediation` for a person at an 80-column terminal. A charge's ten fields
do not fit one line with every id whole, so each charge takes two: what was charged
(its id and time, the customer and product, the amount and what is still owed) and
what it is blamed on (the change, the account, the moment). Where long ids would not
fit those five columns (an account's ARN, a long product code), each charge is a block
of labelled lines instead, so no id is ever cut. `--format csv|json|xlsx` keep one row
a charge, every field exact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from auditlog.cli.display import Clock, money
from auditlog.cli.findings_render import when
from auditlog.textsafe import terminal

UTC_CLOCK = Clock()


def owed(row: dict[str, Any]) -> str:
    """What a charge still owes its customer, in words: 'refunded' when nothing."""
    outstanding = row.get("outstanding")
    if outstanding is None or str(outstanding).strip("0.") == "":
        return "refunded"
    return f"owed {money(outstanding, row.get('currency'))}"


def cause_text(row: dict[str, Any], clock: Clock) -> str:
    """The cause's time: its time of day alone when it falls on the day of the charge
    (nearly always: minutes before it), so the row fits 80 columns; else in full."""
    cause, charged = when(row.get("cause_time"), clock), when(row.get("charged_at"), clock)
    return cause[11:] if cause[:10] == charged[:10] and cause else cause


def two_lines(first: object, second: object) -> Text:
    """A cell of two lines, the second dim; log text stays literal (terminal)."""
    cell = terminal("" if first is None else str(first))
    cell.append("\n")
    cell.append_text(terminal(("" if second is None else str(second), "dim")))
    return cell


def charges_view(rows: Sequence[dict[str, Any]], width: int,
                 clock: Clock = UTC_CLOCK) -> RenderableType:
    """The charges as charges_table when its columns fit `width` whole, else as
    charges_blocks: Rich would cut the widest cells with an ellipsis."""
    table = charges_table(rows, clock)
    cells = [[two_lines_plain(*pair) for pair in charge_cells(row, clock)] for row in rows]
    headers = [str(column.header).split("\n") for column in table.columns]
    widest = [max([cell_len(line) for line in header]
                  + [cell_len(line) for row in cells for line in row[i]])
              for i, header in enumerate(headers)]
    gaps = 2 * (len(widest) - 1)  # a cell's padding of one either side, none at the edges
    return table if sum(widest) + gaps <= width else charges_blocks(rows, clock)


def charge_cells(row: dict[str, Any], clock: Clock) -> list[tuple[object, object]]:
    """A charge's five cells, each a pair of lines (the cause's second line empty)."""
    return [(row["charge_id"], when(row.get("charged_at"), clock)),
            (row["account"], row["product"]),
            (money(row["amount"], row.get("currency")), owed(row)),
            (row.get("change_id") or "none", row.get("actor") or ""),
            (cause_text(row, clock), "")]


def two_lines_plain(first: object, second: object) -> list[str]:
    """A cell's two lines as the screen shows them (controls written out)."""
    return [terminal("" if first is None else str(first)).plain,
            terminal("" if second is None else str(second)).plain]


def charges_blocks(rows: Sequence[dict[str, Any]], clock: Clock = UTC_CLOCK) -> Group:
    """Three labelled lines a charge, a blank line between charges: what was charged,
    to whom, and what it is blamed on. A line too long for the screen folds; no field
    is cut."""
    blocks: list[RenderableType] = []
    for n, row in enumerate(rows):
        (charge, charged), (account, product), (amount, still), (change, actor), \
            (cause, _) = charge_cells(row, clock)
        if n:
            blocks.append(Text(""))
        blocks.append(terminal((str(charge), "bold"), f"  {charged} ({clock.name})  ",
                               str(amount), "  ", str(still)))
        blocks.append(terminal(("  customer ", "dim"), str(account),
                               ("  product ", "dim"), str(product)))
        blocks.append(terminal(("  change ", "dim"), str(change),
                               *((("  by ", "dim"), str(actor)) if actor else ()),
                               ("  cause ", "dim"), f"{cause} ({clock.name})"))
    return Group(*blocks)


def charges_table(rows: Sequence[dict[str, Any]], clock: Clock = UTC_CLOCK) -> Table:
    """Two lines a charge, ids never cut: charge and its time; customer and product;
    amount and what is owed; the change blamed and the account; the cause's time (of
    day, when on the charge's day)."""
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column(f"charge\ncharged ({clock.name})", no_wrap=True)
    table.add_column("customer\nproduct", no_wrap=True)
    table.add_column("amount\nowed", justify="right", no_wrap=True)
    table.add_column("change\nby", no_wrap=True)
    table.add_column(f"cause\n({clock.name})", no_wrap=True)
    for row in rows:
        *pairs, (cause, _) = charge_cells(row, clock)
        table.add_row(*(two_lines(*pair) for pair in pairs), terminal(str(cause)))
    return table
