"""The ground truth: what the generator knows it did wrong, per docs/attribution.md.

Only the two incident flows create charges that are not customer-authorized; they
register each such charge here with its causal action's actor and time, the change to
blame and the refunds they scheduled. Nothing here reads the generated files.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from auditlog.world.clock import iso_utc
from auditlog.world.records import Charge

REMEDIATION_COLUMNS = (
    "charge_id",
    "account",
    "product",
    "amount",
    "currency",
    "charged_at",
    "refunded",
    "refund_id",
    "change_id",
    "actor",
    "cause_time",
)


@dataclass(slots=True)
class Anomaly:
    """One anomalous charge and what caused it."""

    charge: Charge
    actor: str  # account of the causal action
    cause_time: int  # ts of the causal action
    change_id: str | None  # the change to blame; None for a human's own doing
    refunds: list[Charge]

    @property
    def refunded_amount(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal(0))

    @property
    def refunded(self) -> bool:
        """Refunds with refund_of = this charge add up to at least its amount."""
        return bool(self.refunds) and self.refunded_amount >= self.charge.amount

    @property
    def refund_id(self) -> str | None:
        """The earliest refund of the charge (ids follow time, so they break ties)."""
        if not self.refunds:
            return None
        return min(self.refunds, key=lambda r: (r.ts, r.charge_id)).charge_id


@dataclass(frozen=True)
class Money:
    """Charged and still owed, in one currency."""

    currency: str
    charges: int
    customers: int
    amount: Decimal
    refunded_amount: Decimal
    outstanding_charges: int
    outstanding_amount: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "charges": self.charges,
            "customers": self.customers,
            "amount": str(self.amount),
            "refunded_amount": str(self.refunded_amount),
            "outstanding_charges": self.outstanding_charges,
            "outstanding_amount": str(self.outstanding_amount),
        }


def money_by_currency(anomalies: list[Anomaly]) -> list[Money]:
    """Per currency, in currency order: amounts of two currencies are never added."""
    groups: dict[str, list[Anomaly]] = {}
    for a in anomalies:
        groups.setdefault(a.charge.currency, []).append(a)
    return [_money(currency, groups[currency]) for currency in sorted(groups)]


def _money(currency: str, group: list[Anomaly]) -> Money:
    outstanding = [a for a in group if not a.refunded]
    return Money(
        currency=currency,
        charges=len(group),
        customers=len({a.charge.account for a in group}),
        amount=sum((a.charge.amount for a in group), Decimal(0)),
        refunded_amount=sum((a.refunded_amount for a in group), Decimal(0)),
        outstanding_charges=len(outstanding),
        outstanding_amount=sum(
            (a.charge.amount - min(a.refunded_amount, a.charge.amount) for a in outstanding),
            Decimal(0),
        ),
    )


def single(money: list[Money], field: str) -> str | None:
    """A sum as text when everything is in one currency, else None (never a mixed sum)."""
    if len(money) > 1:
        return None
    return str(getattr(money[0], field)) if money else "0"


@dataclass(frozen=True)
class CauseTotals:
    """What one responsible account did: its charges, their sums and what is still owed."""

    actor: str
    change_id: str | None
    charges: int
    customers: int
    stacked_customers: int
    refunded_charges: int
    outstanding_charges: int
    money: list[Money]
    first_cause_time: int
    last_cause_time: int

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "change_id": self.change_id,
            "charges": self.charges,
            "customers": self.customers,
            "stacked_customers": self.stacked_customers,
            "amount": single(self.money, "amount"),
            "refunded_charges": self.refunded_charges,
            "outstanding_charges": self.outstanding_charges,
            "outstanding_amount": single(self.money, "outstanding_amount"),
            "currency": self.money[0].currency if len(self.money) == 1 else None,
            "by_currency": [m.to_json() for m in self.money],
            "first_cause_time": iso_utc(self.first_cause_time),
            "last_cause_time": iso_utc(self.last_cause_time),
        }


class GroundTruth:
    def __init__(self) -> None:
        self.anomalies: list[Anomaly] = []

    def add(
        self,
        charge: Charge,
        *,
        actor: str,
        cause_time: int,
        change_id: str | None,
        refunds: list[Charge],
    ) -> None:
        self.anomalies.append(Anomaly(charge, actor, cause_time, change_id, refunds))

    def sorted(self) -> list[Anomaly]:
        """By charge_id; only meaningful once the timeline has assigned the ids."""
        return sorted(self.anomalies, key=lambda a: a.charge.charge_id)

    def totals(self) -> list[CauseTotals]:
        """Per responsible actor, in order of first cause time."""
        by_actor: dict[str, list[Anomaly]] = {}
        for anomaly in self.anomalies:
            by_actor.setdefault(anomaly.actor, []).append(anomaly)
        totals = [_totals(actor, group) for actor, group in by_actor.items()]
        return sorted(totals, key=lambda t: t.first_cause_time)

    def write_remediation(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(REMEDIATION_COLUMNS)
            for a in self.sorted():
                c = a.charge
                writer.writerow(
                    [
                        c.charge_id,
                        c.account,
                        c.product,
                        str(c.amount),
                        c.currency,
                        iso_utc(c.ts),
                        "true" if a.refunded else "false",
                        a.refund_id or "",
                        a.change_id or "",
                        a.actor,
                        iso_utc(a.cause_time),
                    ]
                )


def _totals(actor: str, group: list[Anomaly]) -> CauseTotals:
    per_customer = Counter(a.charge.account for a in group)
    outstanding = [a for a in group if not a.refunded]
    changes = {a.change_id for a in group}
    if len(changes) != 1:
        raise RuntimeError(f"{actor}'s anomalies blame several changes: {changes}")
    return CauseTotals(
        actor=actor,
        change_id=changes.pop(),
        charges=len(group),
        customers=len(per_customer),
        stacked_customers=sum(1 for n in per_customer.values() if n > 1),
        refunded_charges=len(group) - len(outstanding),
        outstanding_charges=len(outstanding),
        money=money_by_currency(group),
        first_cause_time=min(a.cause_time for a in group),
        last_cause_time=max(a.cause_time for a in group),
    )
