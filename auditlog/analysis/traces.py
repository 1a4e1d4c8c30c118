"""The traces as typed records: a charge back to its cause, a change to its impact, an
account to what it did (attribution.py builds them, docs/attribution.md explains them).

Times are `datetime`, amounts `Decimal`; `as_json()` writes the documents of
`auditlog trace ... --format json` (field order is key order, `auditlog.values.as_json`
writes times as ISO 8601 with Z and amounts as exact text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from auditlog.analysis.money import CurrencyMoney
from auditlog.analysis.sigma_rules import SigmaRule
from auditlog.analysis.source_records import SourceRecord
from auditlog.values import as_json

# A directory row (the accounts table, its columns as the kinds say) with typed values.
Directory = dict[str, Any]


@dataclass(frozen=True)
class ChargeStep:
    """The charge itself, the first link of the chain."""

    step: str = field(default="charge", init=False)
    id: str
    time: datetime
    account: str
    product: str
    amount: Decimal
    currency: str | None
    type: str
    order_id: str | None
    initiated_by: str | None
    customer_authorized: bool
    refunded: bool
    refund_id: str | None


@dataclass(frozen=True)
class ActionStep:
    """The action that caused the charge (the order it bills)."""

    step: str = field(default="action", init=False)
    id: str
    time: datetime
    actor: str
    actor_type: str | None
    action: str
    system: str
    target_account: str | None
    object: str | None
    order_id: str | None
    change_id: str | None
    channel: str | None
    result: str | None


@dataclass(frozen=True)
class PrivilegeStep:
    """The grant the actor held when it acted."""

    step: str = field(default="privilege", init=False)
    id: str
    time: datetime
    subject: str
    privilege: str
    system: str | None
    granter: str
    ticket: str | None
    approver: str | None
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ChangeStep:
    """The change the charge is blamed on (or its action ran under)."""

    step: str = field(default="change", init=False)
    id: str
    time: datetime
    system: str | None
    kind: str | None
    summary: str | None
    implementer: str | None
    approver: str | None
    ticket: str | None
    window_start: datetime | None
    window_end: datetime | None
    finished_at: datetime | None
    status: str | None


@dataclass(frozen=True)
class UnknownChangeStep:
    """A change an action names that the change records do not hold: its id only."""

    step: str = field(default="change", init=False)
    id: str


Step = ChargeStep | ActionStep | PrivilegeStep | ChangeStep | UnknownChangeStep


@dataclass(frozen=True)
class Responsible:
    change_id: str | None
    actor: str | None
    time: datetime | None


@dataclass(frozen=True)
class ChargeTrace:
    """charge -> causal action -> privilege -> change, the verdict and its reason."""

    charge_id: str
    anomalous: bool
    responsible: Responsible
    reason: str
    undecided: str | None
    chain: tuple[Step, ...]
    rules: tuple[str, ...]
    # Where each row of the chain came from, with its verbatim record: only when asked
    # (`trace ... --records`); None leaves the key out of the JSON.
    source_records: tuple[SourceRecord, ...] | None = None
    # What each of `rules` imported from Sigma says of itself; the key is left out of
    # the JSON when none is, so a trace without Sigma rules reads as it did.
    sigma: tuple[SigmaRule, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return without_unasked(as_json(self))


@dataclass(frozen=True)
class ChangeRecord:
    """A change as its record says (the changes table's columns)."""

    change_id: str
    system: str
    kind: str | None
    summary: str | None
    implementer: str
    approver: str | None
    ticket: str | None
    window_start: datetime | None
    window_end: datetime | None
    started_at: datetime
    finished_at: datetime | None
    status: str | None


@dataclass(frozen=True)
class Approval:
    approver: str | None
    ticket: str | None
    approved: bool
    self_approved: bool


@dataclass(frozen=True)
class Window:
    """The approved window; `started_within` as the control views judge it (with the
    model's grace), None when the change has no window."""

    start: datetime | None
    end: datetime | None
    started_within: bool | None


@dataclass(frozen=True)
class ChangeImpact:
    """The anomalous charges blamed on the change; the sums only in one currency."""

    charges: int
    accounts: int
    amount: Decimal | None
    refunded_amount: Decimal | None
    currency: str | None
    unrefunded_charges: int
    actors: tuple[str, ...]
    first_cause_time: datetime | None
    last_cause_time: datetime | None
    by_currency: tuple[CurrencyMoney, ...]


@dataclass(frozen=True)
class ChangeTrace:
    change: ChangeRecord
    approval: Approval
    window: Window
    impact: ChangeImpact
    rules: tuple[str, ...]
    source_records: tuple[SourceRecord, ...] | None = None  # as ChargeTrace's
    sigma: tuple[SigmaRule, ...] = ()  # as ChargeTrace's

    def as_json(self) -> dict[str, Any]:
        """The change's record, then its approval, window, impact and rules (and, when
        asked, its source record)."""
        return without_unasked({
            **as_json(self.change), "approval": as_json(self.approval),
            "window": as_json(self.window), "impact": as_json(self.impact),
            "rules": list(self.rules), "source_records": as_json(self.source_records),
            "sigma": as_json(self.sigma)})


@dataclass(frozen=True)
class Activity:
    """What an account did with one action on one system."""

    action: str
    system: str
    actions: int
    customers: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class PrivilegeHeld:
    """A grant to the account."""

    id: str
    granted_at: datetime
    privilege: str
    system: str | None
    granter: str
    ticket: str | None
    approver: str | None
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class AccountImpact:
    """The anomalous charges the account caused; `amount` only in one currency."""

    charges: int
    customers: int
    amount: Decimal | None
    currency: str | None
    unrefunded_charges: int
    changes: tuple[str, ...]
    by_currency: tuple[CurrencyMoney, ...]


@dataclass(frozen=True)
class AccountTrace:
    account: str
    directory: Directory | None
    activity: tuple[Activity, ...]
    privileges: tuple[PrivilegeHeld, ...]
    anomalous: AccountImpact
    rules: tuple[str, ...]
    # Of the directory row and of each grant, as ChargeTrace's.
    source_records: tuple[SourceRecord, ...] | None = None
    sigma: tuple[SigmaRule, ...] = ()  # as ChargeTrace's

    def as_json(self) -> dict[str, Any]:
        return without_unasked(as_json(self))


def without_unasked(document: dict[str, Any]) -> dict[str, Any]:
    """A trace's document without `source_records` when they were not asked for, so a
    trace's JSON is what it was unless `--records` is given; likewise without `sigma`
    when none of its rules came from Sigma."""
    if document.get("source_records") is None:
        document.pop("source_records", None)
    if not document.get("sigma"):
        document.pop("sigma", None)
    return document
