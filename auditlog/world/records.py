"""The rows the generator produces, one small class per kind.

Actions and charges are streamed in the millions, so they are slotted classes whose
ids are filled in only when their day is written (ids then follow time order, as in
a real export). A refund points at its charge object, not at an id, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Column order of every kind as written: the contract's columns (kinds.py), then extras.
ACTION_COLUMNS = (
    "event_id",
    "ts",
    "actor",
    "actor_type",
    "action",
    "system",
    "target_account",
    "object",
    "order_id",
    "change_id",
    "channel",
    "result",
    "source_ip",
    "session_id",
)
CHARGE_COLUMNS = (
    "charge_id",
    "ts",
    "account",
    "product",
    "amount",
    "currency",
    "type",
    "refund_of",
    "order_id",
    "initiated_by",
    "system",
    "channel",
    # Beyond the contract: kept by auditlog in `extra`, never dropped.
    "invoice_no",
    "tax_code",
)
PRIVILEGE_COLUMNS = (
    "event_id",
    "ts",
    "actor",
    "subject",
    "privilege",
    "operation",
    "system",
    "ticket",
    "approver",
    "expires_at",
)
CHANGE_COLUMNS = (
    "change_id",
    "system",
    "kind",
    "summary",
    "implementer",
    "approver",
    "ticket",
    "window_start",
    "window_end",
    "started_at",
    "finished_at",
    "status",
)
ACCOUNT_COLUMNS = (
    "account",
    "display_name",
    "team",
    "manager",
    "account_type",
    "owner",
    "status",
    "created_at",
    "disabled_at",
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "actions": ACTION_COLUMNS,
    "charges": CHARGE_COLUMNS,
    "privileges": PRIVILEGE_COLUMNS,
    "changes": CHANGE_COLUMNS,
    "accounts": ACCOUNT_COLUMNS,
}
# Columns holding instants (epoch seconds internally) and exact amounts.
TIME_COLUMNS = frozenset(
    {
        "ts",
        "expires_at",
        "window_start",
        "window_end",
        "started_at",
        "finished_at",
        "created_at",
        "disabled_at",
    }
)
AMOUNT_COLUMNS = frozenset({"amount"})


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
        return (
            self.event_id,
            self.ts,
            self.actor,
            self.actor_type,
            self.action,
            self.system,
            self.target_account,
            self.object,
            self.order_id,
            self.change_id,
            self.channel,
            self.result,
            self.source_ip,
            self.session_id,
        )


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

    def values(self) -> tuple[Any, ...]:
        refund_of = self.refund_of.charge_id if self.refund_of is not None else None
        tax_code = "VAT-REV" if self.type == "refund" else "VAT-STD"
        return (
            self.charge_id,
            self.ts,
            self.account,
            self.product,
            self.amount,
            self.currency,
            self.type,
            refund_of,
            self.order_id,
            self.initiated_by,
            self.system,
            self.channel,
            self.invoice_no,
            tax_code,
        )


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
        return (
            self.event_id,
            self.ts,
            self.actor,
            self.subject,
            self.privilege,
            self.operation,
            self.system,
            self.ticket,
            self.approver,
            self.expires_at,
        )


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
        return (
            self.change_id,
            self.system,
            self.kind,
            self.summary,
            self.implementer,
            self.approver,
            self.ticket,
            self.window_start,
            self.window_end,
            self.started_at,
            self.finished_at,
            self.status,
        )


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
        return (
            self.account,
            self.display_name,
            self.team,
            self.manager,
            self.account_type,
            self.owner,
            self.status,
            self.created_at,
            self.disabled_at,
        )
