"""`auditlog trace`: a charge back to its cause, a change and what it cost, an account
and whom it affected; a tree for people, the JSON document for programs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.tree import Tree

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.cli.render import MONEY_KEYS, add_money, step_text
from auditlog.export.safety import cell_text
from auditlog.textsafe import terminal

trace_app = typer.Typer(help="Trace a charge, a change or an account.", no_args_is_help=True)
app.add_typer(trace_app, name="trace")


@trace_app.command("charge")
def trace_charge_cmd(
    charge_id: Annotated[str, typer.Argument(help="The charge's id.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Charge → causal action → privilege that allowed it → change."""
    doc = investigation(db).trace_charge(charge_id)
    if output is OutputFormat.json:
        print_json(doc)
        return
    who = doc["responsible"]
    tree = Tree(terminal((f"charge {charge_id}", "bold"), " ",
                         ("anomalous", "red") if doc["anomalous"] else ("authorized", "green"),
                         f": {who['actor']} at {who['time']}, change {who['change_id'] or '-'}"))
    for step in doc["chain"]:
        tree.add(step_text(step))
    tree.add(f"rules: {', '.join(doc['rules']) or '-'}")
    console.print(tree)


@trace_app.command("change")
def trace_change_cmd(
    change_id: Annotated[str, typer.Argument(help="The change's id.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The change, its approval and window, and what it cost customers."""
    doc = investigation(db).trace_change(change_id)
    if output is OutputFormat.json:
        print_json(doc)
        return
    tree = Tree(terminal((f"change {change_id}", "bold"), f" on {doc['system']} by "
                         f"{doc['implementer']} at {doc['started_at']}"))
    tree.add(f"approval: {doc['approval']}")
    tree.add(f"window: {doc['window']}")
    impact = tree.add("impact")
    for key, value in doc["impact"].items():
        if key not in MONEY_KEYS:
            impact.add(f"{key}: {cell_text(value)}")
    add_money(impact, doc["impact"]["by_currency"], ("amount", "refunded_amount",
                                                     "outstanding_amount"))
    tree.add(f"rules: {', '.join(doc['rules']) or '-'}")
    console.print(tree)


@trace_app.command("account")
def trace_account_cmd(
    account: Annotated[str, typer.Argument(help="An operator or service account.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """What an account did, with which privileges, and whom it affected."""
    doc = investigation(db).trace_account(account)
    if output is OutputFormat.json:
        print_json(doc)
        return
    tree = Tree(terminal((f"account {account}", "bold")))
    if doc["directory"]:
        tree.add("directory: " + ", ".join(f"{k}={v}" for k, v in doc["directory"].items()
                                           if v is not None))
    for group, items in (("activity", doc["activity"]), ("privileges", doc["privileges"])):
        branch = tree.add(f"{group} ({len(items)})")
        for item in items:
            branch.add(", ".join(f"{k}={v}" for k, v in item.items() if v is not None))
    anomalous = doc["anomalous"]
    branch = tree.add(terminal(f"anomalous charges: {anomalous['charges']:,} on "
                               f"{anomalous['customers']:,} customers, "
                               f"{anomalous['unrefunded_charges']:,} unrefunded; changes: "
                               f"{', '.join(anomalous['changes']) or '-'}"))
    add_money(branch, anomalous["by_currency"], ("amount", "outstanding_amount"))
    tree.add(f"rules: {', '.join(doc['rules']) or '-'}")
    console.print(tree)
