"""The rows the generator produces, one small class per kind.

Actions and charges are streamed in the millions, so they are slotted classes whose
ids are filled in only when their day is written (ids then follow time order, as in
a real export). A refund points at its charge object, not at an id, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any

from auditlog.kinds import KINDS

# The order the generator writes the kinds in (its summary and sources.json list them so).
WRITTEN_KINDS = ("actions", "charges", "privileges", "changes", "accounts")
# Beyond the contract: billing's own columns, kept by auditlog in `extra`, never dropped.
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {"charges": ("invoice_no", "tax_code")}
# Column order of every kind as written: the contract's columns (kinds.py), then extras.
COLUMNS: dict[str, tuple[str, ...]] = {
    kind: KINDS[kind].column_names + EXTRA_COLUMNS.get(kind, ()) for kind in WRITTEN_KINDS
}
# Columns holding instants (epoch seconds internally) and exact amounts, as kinds.py types them.
TIME_COLUMNS = frozenset(
    c.name for kind in WRITTEN_KINDS for c in KINDS[kind].columns if c.type == "ts"
)
AMOUNT_COLUMNS = frozenset(
    c.name for kind in WRITTEN_KINDS for c in KINDS[kind].columns if c.type == "amount"
)


def _row_of(kind: str, **attributes: str) -> attrgetter[Any]:
    """A record's values in COLUMNS order: the attribute of each column's name, or the one
    `attributes` names for it. attrgetter builds the tuple in C, for millions of rows."""
    return attrgetter(*(attributes.get(column, column) for column in COLUMNS[kind]))


_ACTION_ROW = _row_of("actions")
_CHARGE_ROW = _row_of("charges", refund_of="refund_of_id")
_PRIVILEGE_ROW = _row_of("privileges")
_CHANGE_ROW = _row_of("changes")
_ACCOUNT_ROW = _row_of("accounts")


@dataclass(slots=True)
class Action:
    ts: int
    actor: str
    actor_type: str | None
    action: str
    system: str
    target_account: str | None = None
    object: str | None = None
    order_id: str | None = None
    change_id: str | None = None
    channel: str | None = None
    result: str = "success"
    source_ip: str | None = None
    session_id: str | None = None
    event_id: str = ""

    def values(self) -> tuple[Any, ...]:
        return _ACTION_ROW(self)


@dataclass(slots=True)
class Charge:
    ts: int
    account: str
    product: str
    amount: Decimal
    type: str
    initiated_by: str
    system: str
    channel: str
    order_id: str | None = None
    refund_of: Charge | None = None
    currency: str = "EUR"
    charge_id: str = ""
    invoice_no: str = ""

    @property
    def refund_of_id(self) -> str | None:
        """The refund_of column: the refunded charge's id, known once its day is written."""
        return self.refund_of.charge_id if self.refund_of is not None else None

    @property
    def tax_code(self) -> str:
        return "VAT-REV" if self.type == "refund" else "VAT-STD"

    def values(self) -> tuple[Any, ...]:
        return _CHARGE_ROW(self)


@dataclass(slots=True)
class Privilege:
    ts: int
    actor: str
    subject: str
    privilege: str
    operation: str
    system: str | None
    ticket: str | None
    approver: str | None
    expires_at: int | None = None
    event_id: str = ""

    def values(self) -> tuple[Any, ...]:
        return _PRIVILEGE_ROW(self)


@dataclass(slots=True)
class Change:
    system: str
    kind: str
    summary: str
    implementer: str
    approver: str | None
    ticket: str | None
    window_start: int
    window_end: int
    started_at: int
    finished_at: int
    status: str
    change_id: str = ""

    def values(self) -> tuple[Any, ...]:
        return _CHANGE_ROW(self)


@dataclass(slots=True)
class Account:
    account: str
    display_name: str
    team: str
    manager: str | None
    account_type: str
    owner: str | None
    created_at: int
    status: str = "active"
    disabled_at: int | None = None
    # Not written: which systems an account works on, used to pick implementers.
    systems: tuple[str, ...] = field(default=())

    def values(self) -> tuple[Any, ...]:
        return _ACCOUNT_ROW(self)
