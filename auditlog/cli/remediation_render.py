"""`auditlog remediation` for a person at an 80-column terminal. A charge's ten fields
do not fit one line with every id whole, so each charge takes two: what was charged
(its id and time, the customer and product, the amount and what is still owed) and
what it is blamed on (the change, the account, the moment). `--format csv|json|xlsx`
keep one row a charge, every field exact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
        table.add_row(
            two_lines(row["charge_id"], when(row.get("charged_at"), clock)),
            two_lines(row["account"], row["product"]),
            two_lines(money(row["amount"], row.get("currency")), owed(row)),
            two_lines(row.get("change_id") or "none", row.get("actor") or ""),
            terminal(cause_text(row, clock)),
        )
    return table
