"""The records of a change's trace (its record, approval, window and impact) and of an
account's (its activity, privileges and impact): traces.py's, apart so that a charge's
trace does not create them (start time, issue 14); traces.py names them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from auditlog.analysis.traces import without_unasked
from auditlog.values import as_json

if TYPE_CHECKING:
    from auditlog.analysis.money import CurrencyMoney
    from auditlog.analysis.sigma_rules import SigmaRule
    from auditlog.analysis.source_records import SourceRecord

# A directory row (the accounts table, its columns as the kinds say) with typed values.
Directory = dict[str, Any]


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
