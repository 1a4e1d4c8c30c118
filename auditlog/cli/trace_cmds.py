"""`auditlog trace`: a charge back to its cause, a change and what it cost, an account
and whom it affected; a tree for people, the JSON document for programs."""

from __future__ import annotations

from typing import Annotated

import typer

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.cli.display import Clock, TzOption
from auditlog.cli.records_render import RecordsOption, source_records_view
from auditlog.cli.trace_render import account_tree, change_tree, charge_tree

trace_app = typer.Typer(help="Trace a charge, a change or an account.", no_args_is_help=True)
app.add_typer(trace_app, name="trace")


@trace_app.command("charge")
def trace_charge_cmd(
    charge_id: Annotated[str, typer.Argument(help="The charge's id.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
    tz: TzOption = None,
    records: RecordsOption = False,
) -> None:
    """Charge → causal action → privilege that allowed it → change."""
    doc = investigation(db).trace_charge(charge_id, records=records)
    if output is OutputFormat.json:
        print_json(doc)
        return
    console.print(charge_tree(doc, Clock.named(tz)))
    if records:
        console.print(source_records_view(doc["source_records"]))


@trace_app.command("change")
def trace_change_cmd(
    change_id: Annotated[str, typer.Argument(help="The change's id.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
    tz: TzOption = None,
    records: RecordsOption = False,
) -> None:
    """The change, its approval and window, and what it cost customers."""
    doc = investigation(db).trace_change(change_id, records=records)
    if output is OutputFormat.json:
        print_json(doc)
        return
    console.print(change_tree(doc, Clock.named(tz)))
    if records:
        console.print(source_records_view(doc["source_records"]))


@trace_app.command("account")
def trace_account_cmd(
    account: Annotated[str, typer.Argument(help="An operator or service account.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
    tz: TzOption = None,
    records: RecordsOption = False,
) -> None:
    """What an account did, with which privileges, and whom it affected."""
    doc = investigation(db).trace_account(account, records=records)
    if output is OutputFormat.json:
        print_json(doc)
        return
    console.print(account_tree(doc, Clock.named(tz)))
    if records:
        console.print(source_records_view(doc["source_records"]))
