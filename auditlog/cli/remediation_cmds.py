"""`auditlog remediation`: every anomalous charge with the change, account and time
responsible, what is refunded and outstanding, totals per customer, and a check of every
refund; as a table, JSON, CSV or a workbook for billing."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from auditlog.cli.common import (
    ChangeOption,
    DbOption,
    app,
    console,
    err_console,
    investigation,
    print_json,
)
from auditlog.cli.render import render_rows
from auditlog.errors import UsageError


class RemediationFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class RefundList(str, enum.Enum):
    charges = "charges"
    customers = "customers"
    refund_issues = "refund-issues"


ISSUE_COLUMNS = ("issue", "refund_id", "refund_of", "account", "amount", "detail")


@app.command()
def remediation(
    change: ChangeOption = None,
    show: Annotated[RefundList, typer.Option(
        "--list", help="charges: every anomalous charge; customers: totals per customer; "
        "refund-issues: refunds that match no charge needing them.")] = RefundList.charges,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Workbook to write with --format xlsx (all three lists).")] = None,
    db: DbOption = None,
    output: Annotated[RemediationFormat, typer.Option(
        "--format", "-f", help="table for people; json or csv for programs; xlsx for billing.")
    ] = RemediationFormat.table,
) -> None:
    """Every anomalous charge with the change, account and time responsible, what is
    refunded and outstanding; totals per customer; and a check of every refund."""
    if (output is RemediationFormat.xlsx) != (out is not None):
        raise UsageError("--out FILE goes with --format xlsx, and xlsx needs it")
    from auditlog.analysis.refunds import CUSTOMER_COLUMNS, refund_records
    from auditlog.export.writers import write_csv_rows

    lists = investigation(db).refunds(change, workbook=out)
    name = show.name
    if out is not None:
        console.print(f"wrote {out}: " + ", ".join(f"{f.height} {n}" for n, f in lists.items()))
    elif output is RemediationFormat.json:
        print_json(refund_records(lists[name]))
    elif output is RemediationFormat.csv:
        write_csv_rows(sys.stdout, lists[name])
    elif name == "charges":
        from auditlog.cli.remediation_render import charges_view

        records = refund_records(lists[name])
        console.print(f"charges ({len(records):,})", markup=False, highlight=False)
        console.print(charges_view(records, console.width))
    else:
        columns = {"customers": CUSTOMER_COLUMNS, "refund_issues": ISSUE_COLUMNS}[name]
        render_rows(refund_records(lists[name]), columns, name.replace("_", " "))
        if name != "refund_issues" and lists["refund_issues"].height:
            err_console.print(f"{lists['refund_issues'].height} refund problems; "
                              "see --list refund-issues")
