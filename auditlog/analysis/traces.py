"""The traces as typed records: a charge back to its cause, a change to its impact, an
account to what it did (attribution.py builds them, docs/attribution.md explains them).

Times are `datetime`, amounts `Decimal`; `as_json()` writes the documents of
`auditlog trace ... --format json` (field order is key order, `auditlog.values.as_json`
writes times as ISO 8601 with Z and amounts as exact text).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from auditlog.values import as_json

if TYPE_CHECKING:
    from auditlog.analysis.change_traces import (
        AccountImpact,
        AccountTrace,
        Activity,
        Approval,
        ChangeImpact,
        ChangeRecord,
        ChangeTrace,
        PrivilegeHeld,
        Window,
    )
    from auditlog.analysis.sigma_rules import SigmaRule
    from auditlog.analysis.source_records import SourceRecord

# The records of a change's and an account's traces live in change_traces.py, loaded on
# first use of one of their names here: a dataclass costs ~1-2 ms to create, and a
# charge's trace (the command an investigation repeats) needs none of those nine
# (start time, issue 14).
CHANGE_TRACE_NAMES = ("ChangeRecord", "Approval", "Window", "ChangeImpact", "ChangeTrace",
                      "Activity", "PrivilegeHeld", "AccountImpact", "AccountTrace")

__all__ = ["AccountImpact", "AccountTrace", "ActionStep", "Activity", "Approval",
           "ChangeImpact", "ChangeRecord", "ChangeStep", "ChangeTrace", "ChargeStep",
           "ChargeTrace", "PrivilegeHeld", "PrivilegeStep", "Responsible", "Step",
           "UnknownChangeStep", "Window", "without_unasked"]


def __getattr__(name: str) -> Any:
    """change_traces.py's records, imported when first named (PEP 562)."""
    if name in CHANGE_TRACE_NAMES:
        return getattr(importlib.import_module("auditlog.analysis.change_traces"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def without_unasked(document: dict[str, Any]) -> dict[str, Any]:
    """A trace's document without `source_records` when they were not asked for, so a
    trace's JSON is what it was unless `--records` is given; likewise without `sigma`
    when none of its rules came from Sigma."""
    if document.get("source_records") is None:
        document.pop("source_records", None)
    if not document.get("sigma"):
        document.pop("sigma", None)
    return document
