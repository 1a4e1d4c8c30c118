"""The accountability report's model: typed records with real times (`datetime`) and
exact amounts (`Decimal`), built by accountability.py, read by the renderers (terminal,
Markdown, HTML), written as JSON only by `as_json()` (`report --format json`).

Field order is the JSON document's key order, so `auditlog.values.as_json` writes the
same document the report has always had. Directory rows stay mappings: they have the
columns of the accounts table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from auditlog.analysis.sigma_rules import SigmaRule
from auditlog.analysis.summary import Party
from auditlog.analysis.traces import Approval, Window
from auditlog.values import as_json

Directory = dict[str, Any]


@dataclass(frozen=True)
class RuleFindings:
    """A control rule's findings on an item: the rule confirms a control's failure."""

    rule_id: str
    title: str
    severity: str
    findings: int


@dataclass(frozen=True)
class Control:
    """A failed control: from the control views (`source` records) or only from a rule's
    findings (`source` rule); `severity` is its most severe rule's, None without any."""

    control: str
    label: str
    check: str
    text: str
    source: str = "records"
    rules: tuple[RuleFindings, ...] = ()
    severity: str | None = None


@dataclass(frozen=True)
class PartyMoney:
    """The parties' money in one currency (a party is in one currency)."""

    currency: str | None
    charges: int
    outstanding_charges: int
    amount: Decimal
    outstanding_amount: Decimal
    refunded_charges: int
    refunded_amount: Decimal


@dataclass(frozen=True)
class Scope:
    change_id: str | None


@dataclass(frozen=True)
class RunInfo:
    """The last rule run, so readers know how fresh the findings are."""

    run_id: str
    started_at: datetime | None


@dataclass(frozen=True)
class Summary:
    """Totals over the parties in scope; the plain sums only in one currency."""

    charges: int
    customers: int
    stacked_customers: int
    amount: Decimal | None
    refunded_amount: Decimal | None
    outstanding_amount: Decimal | None
    currency: str | None
    by_currency: tuple[PartyMoney, ...]
    refunded_charges: int
    outstanding_charges: int
    first_cause_time: datetime | None
    last_cause_time: datetime | None
    products: tuple[str, ...]
    change_ids: tuple[str, ...]
    accounts: tuple[str, ...]
    unattributed_accounts: tuple[str | None, ...]
    all_charges: int
    refunds_issued: int


@dataclass(frozen=True)
class ChangeImpact:
    """What the change cost: the trace's counts, the parties' money."""

    charges: int
    accounts: int
    amount: Decimal | None
    refunded_amount: Decimal | None
    currency: str | None
    unrefunded_charges: int
    actors: tuple[str, ...]
    first_cause_time: datetime | None
    last_cause_time: datetime | None
    by_currency: tuple[PartyMoney, ...]
    outstanding_amount: Decimal | None
    customers: int


@dataclass(frozen=True)
class Rollback:
    change_id: str
    started_at: datetime
    implementer: str | None
    approver: str | None


@dataclass(frozen=True)
class ChangeSection:
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
    approval: Approval
    window: Window
    impact: ChangeImpact
    accounts: tuple[str | None, ...]
    rollback: Rollback | None
    rules: tuple[str, ...]
    controls: tuple[Control, ...] = ()
    grants: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountImpact:
    charges: int
    customers: int
    amount: Decimal | None
    refunded_amount: Decimal | None
    outstanding_amount: Decimal | None
    currency: str | None
    refunded_charges: int
    outstanding_charges: int
    by_currency: tuple[PartyMoney, ...]
    products: tuple[str, ...]
    first_cause_time: datetime
    last_cause_time: datetime


@dataclass(frozen=True)
class Activity:
    """What an account did on a system, and whether it overlaps the harm it did."""

    action: str
    system: str
    actions: int
    customers: int
    first: datetime
    last: datetime
    during: bool


@dataclass(frozen=True)
class Grant:
    """A privilege the account held while it did harm, and the controls it failed."""

    id: str
    granted_at: datetime
    privilege: str
    system: str | None
    granter: str
    ticket: str | None
    approver: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    subject: str
    controls: tuple[Control, ...] = ()


@dataclass(frozen=True)
class AccountSection:
    account: str
    directory: Directory | None
    change_ids: tuple[str, ...]
    impact: AccountImpact
    activity: tuple[Activity, ...]
    grants: tuple[Grant, ...]
    controls: tuple[Control, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A moment of the timeline."""

    time: datetime
    kind: str
    title: str
    detail: str = ""


@dataclass(frozen=True)
class Bar:
    """Charges of the affected products in one hour (or day); `parts` splits the
    anomalous ones per incident, in the order of the report's `incidents`."""

    start: datetime
    anomalous: int
    normal: int
    parts: tuple[int, ...] = ()


@dataclass(frozen=True)
class Marker:
    time: datetime
    kind: str
    label: str


@dataclass(frozen=True)
class ChartWindow:
    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True)
class Chart:
    bucket: str
    products: tuple[str, ...]
    start: datetime
    end: datetime
    bars: tuple[Bar, ...]
    peak: Bar | None
    markers: tuple[Marker, ...]
    windows: tuple[ChartWindow, ...]
    series: tuple[str, ...] = ()  # each incident's label, as Bar.parts are ordered


@dataclass(frozen=True)
class Incident:
    """One responsible (change, account) pair across its currencies, and the people
    accountable for it (`accountable`): whoever implemented and approved the change, or,
    with no change to blame, the account itself (its owner, for a service account)."""

    change_id: str | None
    actor: str | None
    implementer: str | None
    approver: str | None
    owner: str | None  # of an account acting on its own that a person owns
    accountable: tuple[str, ...]
    charges: int
    customers: int
    by_currency: tuple[PartyMoney, ...]
    outstanding_charges: int
    first_cause_time: datetime | None
    last_cause_time: datetime | None


@dataclass(frozen=True)
class RefundDue:
    """An anomalous charge not (fully) refunded yet: what billing still has to do."""

    charge_id: str
    account: str
    product: str | None
    amount: Decimal
    currency: str | None
    outstanding: Decimal
    charged_at: datetime
    change_id: str | None
    actor: str | None


@dataclass(frozen=True)
class Refunds:
    """The refunds of the anomalous charges in scope."""

    refunds: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    count: int


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    severity: str
    title: str | None
    count: int
    amount: Decimal | None
    sigma: SigmaRule | None = None  # what the rule says of itself, if imported from Sigma


@dataclass(frozen=True)
class OpenFindings:
    open: int
    by_severity: tuple[SeverityCount, ...]
    by_rule: tuple[RuleCount, ...]


@dataclass(frozen=True)
class HardenPermission:
    """A privilege held in the logs' period that the access review flags, with the
    reason of each flag (report/harden.py)."""

    account: str
    privilege: str
    system: str | None
    reviewer: str | None
    held_from: datetime
    held_until: datetime | None
    flags: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    scope: Scope
    run: RunInfo | None
    summary: Summary
    parties: tuple[Party, ...]
    changes: tuple[ChangeSection, ...]
    accounts: tuple[AccountSection, ...]
    people: dict[str, Directory]
    timeline: tuple[Event, ...]
    chart: Chart | None
    findings: OpenFindings
    incidents: tuple[Incident, ...] = ()
    refunds_due: tuple[RefundDue, ...] = ()
    harden: tuple[HardenPermission, ...] = ()  # permissions to harden, most urgent first

    def as_json(self) -> dict[str, Any]:
        """The report's data as `report accountability --format json` prints it."""
        document: dict[str, Any] = as_json(self)
        return document
