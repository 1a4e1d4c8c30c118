"""The refund list for billing: every anomalous charge with what is already refunded and
what is outstanding, the totals per customer, and a check that every refund in the
billing logs matches a charge that needed it.

A refund is a `charges` row of type `refund`; `refund_of` names the charge it refunds
(docs/attribution.md). Amounts stay exact decimals from DuckDB to the output.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from auditlog.analysis.attribution import REMEDIATION_COLUMNS, remediation
from auditlog.kinds import AMOUNT_SQL_TYPE as AMOUNT
from auditlog.values import decimal_text, json_value

# Per charge: the remediation list's columns, then what is refunded and what is not.
LINE_COLUMNS = (*REMEDIATION_COLUMNS, "refunded_amount", "outstanding")
CUSTOMER_COLUMNS = ("account", "currency", "charges", "charged", "refunded", "outstanding",
                    "unrefunded_charges")
ISSUE_COLUMNS = ("issue", "refund_id", "refund_of", "refunded_at", "account", "amount",
                 "currency", "charge_amount", "detail")

# What can be wrong with a refund, in the order they are reported.
ISSUES = {
    "unknown_charge": "the refund names no charge in the billing logs",
    "not_anomalous": "the refunded charge was never anomalous",
    "exceeds_charge": "the refund is larger than its charge",
    "double_refund": "the charge was already fully refunded",
    "over_refund": "the refunds of the charge add up to more than it",
    "account_mismatch": "the refund went to another account than the one charged",
    "currency_mismatch": "the refund is in another currency than its charge",
}

def refund_lines(con: duckdb.DuckDBPyConnection, change_id: str | None = None) -> pl.DataFrame:
    """The remediation list, each charge with refunded_amount and outstanding added."""
    frame = remediation(con, change_id)
    con.register("remediation_rows", frame.to_arrow())
    try:
        return con.sql(f"""
            SELECT r.* EXCLUDE (rules),
                   CAST(coalesce(f.refunded_amount, 0) AS {AMOUNT}) AS refunded_amount,
                   CAST(greatest(r.amount - coalesce(f.refunded_amount, 0), 0) AS {AMOUNT})
                       AS outstanding,
                   r.rules
            FROM remediation_rows AS r
            LEFT JOIN charge_refunds AS f ON f.charge_id = r.charge_id
            ORDER BY r.charged_at, r.charge_id""").pl().select(LINE_COLUMNS)
    finally:
        con.unregister("remediation_rows")


def customer_totals(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame) -> pl.DataFrame:
    """Per customer and currency: anomalous charges, charged, refunded, outstanding."""
    con.register("refund_lines", lines.to_arrow())
    try:
        return con.sql(f"""
            SELECT account, currency, count(*) AS charges,
                   CAST(sum(amount) AS {AMOUNT}) AS charged,
                   CAST(sum(refunded_amount) AS {AMOUNT}) AS refunded,
                   CAST(sum(outstanding) AS {AMOUNT}) AS outstanding,
                   count(*) - count(CASE WHEN refunded THEN 1 END) AS unrefunded_charges
            FROM refund_lines
            GROUP BY account, currency
            ORDER BY account, currency NULLS FIRST""").pl()
    finally:
        con.unregister("refund_lines")


@dataclass(frozen=True)
class Refund:
    """One refund with what it refunds: the charge it names (if any), whether that charge
    was anomalous, and the refunds of that charge so far, this one included."""

    refund_id: str
    refund_of: str | None
    refunded_at: datetime
    account: str
    amount: Decimal
    currency: str | None
    cumulative: Decimal
    known: bool
    target_type: str
    charge_amount: Decimal | None
    charge_account: str | None
    charge_currency: str | None
    anomalous: bool


@dataclass(frozen=True)
class RefundIssue:
    """One problem of one refund (ISSUE_COLUMNS, in order)."""

    issue: str
    refund_id: str
    refund_of: str | None
    refunded_at: datetime
    account: str
    amount: Decimal
    currency: str | None
    charge_amount: Decimal | None
    detail: str


REFUNDS_SQL = """
    SELECT r.charge_id AS refund_id, r.refund_of, r.ts AS refunded_at, r.account,
           abs(r.amount) AS amount, r.currency,
           sum(abs(r.amount)) OVER (PARTITION BY r.refund_of ORDER BY r.ts, r.charge_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative,
           c.charge_id IS NOT NULL AS known, coalesce(c.type, 'one_time') AS target_type,
           c.amount AS charge_amount, c.account AS charge_account,
           c.currency AS charge_currency, a.charge_id IS NOT NULL AS anomalous
    FROM charges AS r
    LEFT JOIN charges AS c ON c.charge_id = r.refund_of
    LEFT JOIN anomalous_charges AS a ON a.charge_id = r.refund_of
    WHERE r.type = 'refund'
    ORDER BY r.ts, r.charge_id"""


def refund_issues(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every refund that does not match a charge needing it, one row per problem.

    Needs the shared views (refund_lines installs them)."""
    rows = con.sql(REFUNDS_SQL).pl()
    issues = [astuple(issue) for row in rows.iter_rows(named=True)
              for issue in check_refund(Refund(**row))]
    schema = {**{c: pl.String for c in ISSUE_COLUMNS},
              "refunded_at": rows.schema["refunded_at"], "amount": rows.schema["amount"],
              "charge_amount": rows.schema["charge_amount"]}
    return pl.DataFrame(issues, schema=schema, orient="row")


def check_refund(refund: Refund) -> list[RefundIssue]:
    """The problems of one refund, given its charge and the refunds of it so far."""
    found: list[tuple[str, str]] = []
    target = refund.refund_of
    if target is None:
        found.append(("unknown_charge", "it names no charge (refund_of is empty)"))
    elif not refund.known or refund.charge_amount is None:
        found.append(("unknown_charge", f"charge {target} is not in the billing logs"))
    elif refund.target_type == "refund":
        found.append(("unknown_charge", f"{target} is itself a refund, not a charge"))
    else:
        found += charge_problems(refund, target, refund.charge_amount)
    return [RefundIssue(issue, refund.refund_id, target, refund.refunded_at, refund.account,
                        refund.amount, refund.currency, refund.charge_amount, detail)
            for issue, detail in found]


def charge_problems(refund: Refund, target: str, charged: Decimal) -> list[tuple[str, str]]:
    found = []
    amount, total = refund.amount, refund.cumulative
    before = total - amount
    if not refund.anomalous:
        found.append(("not_anomalous",
                      f"charge {target} ({refund.target_type}) was not anomalous"))
    if amount > charged:
        found.append(("exceeds_charge", f"{money(amount)} refunded of a {money(charged)} charge"))
    elif before >= charged:
        found.append(("double_refund", f"{money(before)} of {money(charged)} refunded before"))
    elif total > charged:
        found.append(("over_refund", f"refunds add up to {money(total)} of {money(charged)}"))
    if refund.charge_account != refund.account:
        found.append(("account_mismatch", f"charge {target} billed {refund.charge_account}"))
    currencies = (refund.charge_currency, refund.currency)
    if None not in currencies and currencies[0] != currencies[1]:
        found.append(("currency_mismatch", f"charge {target} is in {currencies[0]}"))
    return found


def money(value: Decimal | None) -> str:
    return decimal_text(value) or "0.00"


def refund_report(con: duckdb.DuckDBPyConnection,
                  change_id: str | None = None) -> dict[str, pl.DataFrame]:
    """The three lists billing works from: charges, customers, refund_issues. The refund
    check covers every refund in the logs, whatever change the charges are limited to."""
    lines = refund_lines(con, change_id)
    return {"charges": lines, "customers": customer_totals(con, lines),
            "refund_issues": refund_issues(con)}


def refund_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of any refund frame for JSON: ISO times with Z, amounts as exact strings."""
    return [{key: json_value(value) for key, value in row.items()}
            for row in frame.iter_rows(named=True)]
