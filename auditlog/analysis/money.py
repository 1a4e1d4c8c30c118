"""Money per currency: amounts in two currencies are never added.

A sum over charges exists only when they share one currency (`one_sum`); otherwise it is
None and the per-currency rows (`CurrencyMoney`) are the answer. Amounts stay exact
decimals; `auditlog.values.as_json` writes them as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb


@dataclass(frozen=True)
class CurrencyMoney:
    """The anomalous charges of one currency (a selection of them): counts and sums."""

    currency: str | None
    charges: int
    accounts: int
    amount: Decimal | None
    refunded_amount: Decimal | None
    outstanding_amount: Decimal
    unrefunded_charges: int


MONEY_SQL = """
    SELECT currency, count(*) AS charges, count(DISTINCT account) AS accounts,
           sum(amount) AS amount, sum(refunded_amount) AS refunded_amount,
           coalesce(sum(CASE WHEN NOT refunded THEN amount - refunded_amount END),
                    CAST(0 AS DECIMAL(18, 4))) AS outstanding_amount,
           count(*) - count(CASE WHEN refunded THEN 1 END) AS unrefunded_charges
    FROM anomalous_charges WHERE {where}
    GROUP BY currency ORDER BY currency NULLS FIRST"""


def currency_money(con: duckdb.DuckDBPyConnection, where: str,
                   args: list[Any]) -> list[CurrencyMoney]:
    """The anomalous charges matching `where` (needs the shared views), per currency."""
    rows = con.execute(MONEY_SQL.format(where=where), args).fetchall()
    return [CurrencyMoney(currency, int(charges), int(accounts), amount, refunded,
                          outstanding, int(unrefunded))
            for currency, charges, accounts, amount, refunded, outstanding, unrefunded in rows]


def one_sum(money: Sequence[Any], field: str) -> Decimal | None:
    """`field` of per-currency rows summed when there is one currency (zero when there is
    none), else None: a sum in one currency or none at all."""
    if len(money) > 1:
        return None
    if not money:
        return Decimal(0)
    value: Decimal | None = getattr(money[0], field)
    return value


def one_currency(money: Sequence[Any]) -> str | None:
    """The currency of per-currency rows when there is exactly one."""
    currency: str | None = money[0].currency if len(money) == 1 else None
    return currency
