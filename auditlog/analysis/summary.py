"""The incident at a glance: who is responsible for the anomalous charges, what they cost
customers, and what remains to refund.

One row per responsible party, a (change, account) pair: the change is null when no
change is to blame (an operator's own misconduct); a party whose charges are in several
currencies has one row per currency, so that no amount adds two currencies. The totals
give one sum only when everything is in one currency, and `by_currency` always. Figures
come from the same `anomalous_charges` view as `remediation`, so the two always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from auditlog.analysis.money import CurrencyMoney, currency_money, one_sum
from auditlog.engines.sandbox import install_shared_views


@dataclass(frozen=True)
class Party:
    """A responsible (change, account) pair in one currency: what its charges cost."""

    change_id: str | None
    change_system: str | None
    implementer: str | None
    approver: str | None
    actor: str | None
    charges: int
    customers: int
    amount: Decimal | None
    refunded_charges: int
    outstanding_charges: int
    outstanding_amount: Decimal | None
    first_cause_time: datetime | None
    last_cause_time: datetime | None
    products: tuple[str, ...]
    currencies: tuple[str, ...]


@dataclass(frozen=True)
class IncidentSummary:
    """Totals over every anomalous charge (`amount` and `outstanding_amount` only when
    they are in one currency) and the parties, largest first."""

    charges: int
    customers: int
    amount: Decimal | None
    outstanding_charges: int
    outstanding_amount: Decimal | None
    currencies: tuple[str, ...]
    by_currency: tuple[CurrencyMoney, ...]
    parties: tuple[Party, ...]


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


def incident_summary(con: duckdb.DuckDBPyConnection) -> IncidentSummary:
    """Totals over every anomalous charge and one entry per responsible party."""
    install_shared_views(con)
    charges, customers, outstanding, currencies = con.execute(TOTALS_SQL).fetchall()[0]
    money = currency_money(con, "true", [])
    return IncidentSummary(
        charges=int(charges), customers=int(customers), amount=one_sum(money, "amount"),
        outstanding_charges=int(outstanding),
        outstanding_amount=one_sum(money, "outstanding_amount"),
        currencies=tuple(c for c in currencies or [] if c is not None),
        by_currency=tuple(money),
        parties=tuple(_party(row) for row in con.execute(PARTIES_SQL).fetchall()),
    )


def _party(row: tuple[Any, ...]) -> Party:
    """A row of PARTIES_SQL, in its column order."""
    (change_id, actor, implementer, approver, system, charges, customers, amount, refunded,
     outstanding, outstanding_amount, first, last, products, currencies) = row
    return Party(change_id, system, implementer, approver, actor, int(charges),
                 int(customers), amount, int(refunded), int(outstanding), outstanding_amount,
                 first, last, tuple(products or ()),
                 tuple(c for c in currencies or () if c is not None))
