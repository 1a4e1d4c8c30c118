"""The incident at a glance: who is responsible for the anomalous charges, what they cost
customers, and what remains to refund.

One row per responsible party, a (change, account) pair: the change is null when no
change is to blame (an operator's own misconduct); a party whose charges are in several
currencies has one row per currency, so that no amount adds two currencies. The totals
give one sum only when everything is in one currency, and `by_currency` always. Figures
come from the same `anomalous_charges` view as `remediation`, so the two always agree.
"""

from __future__ import annotations

from typing import Any

import duckdb

from auditlog.analysis.attribution import money_by_currency, single_currency
from auditlog.engines.sandbox import install_shared_views
from auditlog.values import decimal_text, iso_utc

PARTIES_SQL = """
    SELECT a.change_id, a.actor, c.implementer, c.approver, c.system AS change_system,
           count(*) AS charges,
           count(DISTINCT a.account) AS customers,
           sum(a.amount) AS amount,
           count(CASE WHEN a.refunded THEN 1 END) AS refunded_charges,
           count(CASE WHEN NOT a.refunded THEN 1 END) AS outstanding_charges,
           coalesce(sum(CASE WHEN NOT a.refunded THEN a.amount - a.refunded_amount END),
                    CAST(0 AS DECIMAL(18, 4))) AS outstanding_amount,
           min(a.cause_time) AS first_cause_time, max(a.cause_time) AS last_cause_time,
           list_sort(list_distinct(list(a.product))) AS products,
           list_sort(list_distinct(list(a.currency))) AS currencies
    FROM anomalous_charges AS a
    LEFT JOIN (SELECT change_id, min(implementer) AS implementer, min(approver) AS approver,
                      min(system) AS system
               FROM changes GROUP BY change_id) AS c ON c.change_id = a.change_id
    GROUP BY a.change_id, a.actor, c.implementer, c.approver, c.system, a.currency
    ORDER BY amount DESC, charges DESC, a.change_id NULLS LAST, a.actor,
             list_sort(list_distinct(list(a.currency)))"""

TOTALS_SQL = """
    SELECT count(*) AS charges, count(DISTINCT account) AS customers,
           count(CASE WHEN NOT refunded THEN 1 END) AS outstanding_charges,
           list_sort(list_distinct(list(currency))) AS currencies
    FROM anomalous_charges"""


def incident_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Totals over every anomalous charge and one entry per responsible party."""
    install_shared_views(con)
    charges, customers, outstanding, currencies = con.execute(TOTALS_SQL).fetchall()[0]
    money = money_by_currency(con, "true", [])
    sums = single_currency(money, ("amount", "outstanding_amount"))
    frame = con.sql(PARTIES_SQL).pl()
    return {
        "charges": int(charges),
        "customers": int(customers),
        "amount": sums["amount"],
        "outstanding_charges": int(outstanding),
        "outstanding_amount": sums["outstanding_amount"],
        "currencies": [c for c in currencies or [] if c is not None],
        "by_currency": money,
        "parties": [_party(row) for row in frame.iter_rows(named=True)],
    }


def _party(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "change_id": row["change_id"],
        "change_system": row["change_system"],
        "implementer": row["implementer"],
        "approver": row["approver"],
        "actor": row["actor"],
        "charges": int(row["charges"]),
        "customers": int(row["customers"]),
        "amount": decimal_text(row["amount"]),
        "refunded_charges": int(row["refunded_charges"]),
        "outstanding_charges": int(row["outstanding_charges"]),
        "outstanding_amount": decimal_text(row["outstanding_amount"]),
        "first_cause_time": iso_utc(row["first_cause_time"]),
        "last_cause_time": iso_utc(row["last_cause_time"]),
        "products": list(row["products"] or []),
        "currencies": [c for c in row["currencies"] or [] if c is not None],
    }
