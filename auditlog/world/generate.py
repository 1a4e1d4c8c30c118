"""generate_world: build the world, stream it to files, write the ground truth.

The order of random draws is fixed and independent of the output format, so one seed
gives the same world, and the same ground truth, in every format.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from auditlog.errors import UsageError
from auditlog.world.activity import run_day
from auditlog.world.calendar import Calendar, plan_changes
from auditlog.world.cast import BILLING_BATCH, BILLING_SYSTEM, build_cast
from auditlog.world.catalog import PLAN_WEIGHTS, Catalog
from auditlog.world.clock import DAY, HOUR, Period, iso_utc
from auditlog.world.context import World
from auditlog.world.incident import run_incident
from auditlog.world.plan import MIN_DAYS, BillingShape, plan_incident
from auditlog.world.privileges import PrivilegeLog, plan_privileges
from auditlog.world.records import COLUMNS, Action, Charge
from auditlog.world.sinks import (
    FORMATS,
    CsvSink,
    FileSpec,
    Sink,
    corrections_spec,
    layout,
    open_sink,
)
from auditlog.world.timeline import Ids, OrderBook, Timeline
from auditlog.world.truth import GroundTruth, money_by_currency

MIN_CUSTOMERS = 100
MAX_CUSTOMERS = 5_000_000
MAX_DAYS = 366
REMEDIATION_PATH = "ground_truth/remediation.csv"
INCIDENT_PATH = "ground_truth/incident.json"
SOURCES_PATH = "sources.json"
BROKEN_ROWS = 3  # in the corrections file of the mixed layout


@dataclass(frozen=True)
class FileInfo:
    path: str  # relative to the output directory
    kind: str
    tz: str  # the --tz to ingest it with
    format: str
    rows: int


@dataclass(frozen=True)
class IncidentFacts:
    change_id: str  # the upgrade to blame
    rollback_change_id: str
    innocent_change_ids: tuple[str, ...]
    service_account: str
    privilege: str
    grant_event_id: str
    product: str
    operator: str
    operator_product: str
    anomalous_charges: int
    # Sums over every anomalous charge, or None when they are in several currencies
    # (then see by_currency: amounts of two currencies are never added).
    anomalous_amount: Decimal | None
    service_charges: int
    operator_charges: int
    affected_customers: int  # customers the service account charged
    stacked_customers: int
    outstanding_refunds: int  # anomalous charges not (fully) refunded
    outstanding_amount: Decimal | None
    currencies: tuple[str, ...]


@dataclass(frozen=True)
class WorldSummary:
    out_dir: Path
    seed: int
    customers: int
    days: int
    formats: str
    billing_tz: str
    period_start: str
    period_end: str
    files: tuple[FileInfo, ...]
    counts: dict[str, int]  # rows per kind, over all files
    broken_rows: int  # rows written to be quarantined
    incident: IncidentFacts
    ground_truth: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as strings, amounts as exact decimal strings."""
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        for key in ("anomalous_amount", "outstanding_amount"):
            value = data["incident"][key]
            data["incident"][key] = None if value is None else str(value)
        data["incident"]["currencies"] = list(self.incident.currencies)
        data["incident"]["innocent_change_ids"] = list(self.incident.innocent_change_ids)
        data["files"] = [asdict(f) for f in self.files]
        data["ground_truth"] = list(self.ground_truth)
        return data


def generate_world(
    out_dir: Path,
    *,
    customers: int = 3000,
    seed: int = 7,
    formats: str = "mixed",
    days: int = 45,
    billing_tz: str = "Europe/Amsterdam",
    shape: BillingShape | None = None,
) -> WorldSummary:
    """Generate the carrier world of CONTRACT.md section 1 into `out_dir`.

    Writes the five kinds of log (layout chosen by `formats`), `sources.json` and the
    ground truth under `ground_truth/`. Files a previous run of any format could have
    written are removed first; nothing else in `out_dir` is touched. `shape` says how
    the billing export differs from the order systems (default: a realistic share of
    missing order ids, confirm-only partners, clock skew and a second currency).
    """
    period = _validate(customers, days, formats, billing_tz)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous(out_dir, billing_tz)

    rng = Random(seed)
    cast = build_cast(rng, customers, period, PLAN_WEIGHTS)
    catalog = Catalog(cast.partners)
    ids = Ids(rng)
    plan = plan_incident(rng, period, cast, catalog, ticket=ids.ticket("INC"))
    calendar = plan_changes(rng, period, cast, ids, plan)
    privileges = plan_privileges(rng, period, cast, ids, calendar, plan)

    specs = layout(formats, billing_tz)
    sinks = {kind: open_sink(out_dir, spec, period) for kind, spec in specs.items()}
    timeline = Timeline(
        period,
        ids,
        lambda rows: sinks["actions"].write(r.values() for r in rows),
        lambda rows: sinks["charges"].write(r.values() for r in rows),
    )
    world = World(
        rng,
        period,
        cast,
        catalog,
        ids,
        timeline,
        OrderBook(catalog.size),
        GroundTruth(),
        plan,
        upgrade_id=calendar.upgrade.change_id,
        shape=shape or BillingShape(),
    )
    world.currency_of = _second_currency(world)

    _play(world, calendar)
    sinks["privileges"].write(e.values() for e in privileges.events)
    sinks["changes"].write(c.values() for c in calendar.changes)
    sinks["accounts"].write(a.values() for a in cast.directory)
    files = [_close(sinks[kind], spec) for kind, spec in specs.items()]
    if formats == "mixed":
        files.append(_write_corrections(out_dir, world))

    world.truth.write_remediation(out_dir / REMEDIATION_PATH)
    facts = _facts(world, calendar, privileges)
    _write_json(out_dir / INCIDENT_PATH, _incident_json(world, calendar, privileges, facts))
    _write_json(
        out_dir / SOURCES_PATH, [{"path": f.path, "kind": f.kind, "tz": f.tz} for f in files]
    )
    counts: dict[str, int] = {}
    for f in files:
        counts[f.kind] = counts.get(f.kind, 0) + f.rows
    return WorldSummary(
        out_dir=out_dir,
        seed=seed,
        customers=customers,
        days=days,
        formats=formats,
        billing_tz=billing_tz,
        period_start=iso_utc(period.start),
        period_end=iso_utc(period.end),
        files=tuple(files),
        counts=counts,
        broken_rows=BROKEN_ROWS if formats == "mixed" else 0,
        incident=facts,
        ground_truth=(REMEDIATION_PATH, INCIDENT_PATH),
    )


def _validate(customers: int, days: int, formats: str, billing_tz: str) -> Period:
    if formats not in FORMATS:
        raise UsageError(f"unknown formats {formats!r}; choose one of {', '.join(FORMATS)}")
    if not MIN_CUSTOMERS <= customers <= MAX_CUSTOMERS:
        raise UsageError(f"customers must be between {MIN_CUSTOMERS} and {MAX_CUSTOMERS:_}")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise UsageError(
            f"days must be between {MIN_DAYS} and {MAX_DAYS} "
            "(the incident needs a week before and its refunds after)"
        )
    try:
        return Period(billing_tz, days)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {billing_tz!r}") from exc


def _second_currency(world: World) -> dict[str, str]:
    """The customers billed in the second currency, drawn from the seed."""
    shape, customers = world.shape, world.cast.customers
    if shape.second_currency is None:
        return {}
    chosen = world.rng.sample(customers, round(len(customers) * shape.second_currency_share))
    return dict.fromkeys(chosen, shape.second_currency)


def _remove_previous(out_dir: Path, billing_tz: str) -> None:
    """Delete what any earlier generation may have left, so no stale log gets ingested."""
    paths = {spec.path for f in FORMATS for spec in layout(f, billing_tz).values()}
    paths |= {corrections_spec(billing_tz).path, REMEDIATION_PATH, INCIDENT_PATH, SOURCES_PATH}
    for path in paths:
        (out_dir / path).unlink(missing_ok=True)


def _play(world: World, calendar: Calendar) -> None:
    """Walk the period day by day, writing each day as soon as it is complete."""
    for change in calendar.changes:
        world.timeline.action(
            Action(
                change.started_at,
                change.implementer,
                "human",
                "deploy",
                change.system,
                change_id=change.change_id,
                channel="console",
                session_id=world.ids.session(),
            )
        )
    for day in range(world.period.days):
        if day == world.plan.day + 1:
            run_incident(world)
        run_day(world, day)
        world.timeline.flush_through(day)
    world.timeline.flush_all()


def _close(sink: Sink, spec: FileSpec) -> FileInfo:
    sink.close()
    return FileInfo(spec.path, spec.kind, spec.tz, spec.format, sink.rows)


def _write_corrections(out_dir: Path, world: World) -> FileInfo:
    """Hand-made billing corrections: two goodwill refunds and three broken rows.

    The broken rows are recurring re-bills (never anomalous) so that even a reader that
    accepted them could not change the ground truth.
    """
    spec = corrections_spec(world.period.tz_name)
    sink = open_sink(out_dir, spec, world.period)
    rows = []
    for spare in world.spare_charges:
        fix = Charge(
            ts=spare.ts + 2 * DAY + HOUR,
            account=spare.account,
            product=spare.product,
            amount=spare.amount,
            type="refund",
            initiated_by=world.rng.choice(world.cast.billing_ops),
            system=BILLING_SYSTEM,
            channel="console",
            order_id=spare.order_id,
            refund_of=spare,
            currency=spare.currency,
            charge_id=_correction_id(world),
            invoice_no="",
        )
        rows.append(fix.values())
    if not isinstance(sink, CsvSink):  # the broken rows are raw CSV fields
        raise TypeError(f"corrections must be CSV, not {spec.format}")
    sink.write(rows)
    for reason in ("amount", "account", "ts"):
        sink.write_raw(_broken_row(world, reason))
    return _close(sink, spec)


def _correction_id(world: World) -> str:
    return "CR" + world.ids.charge()[2:]


def _broken_row(world: World, broken: str) -> list[str]:
    """A recurring re-bill with one field broken: amount, account or timestamp."""
    period, rng = world.period, world.rng
    index = rng.randrange(len(world.cast.customers))
    plan = world.catalog.plans[world.cast.plan_of[index]]
    day = rng.randrange(2, period.days - 2)
    ts = period.local_naive(period.at(day, 11) + rng.randrange(HOUR))
    customer = world.cast.customers[index]
    fields = {
        "charge_id": _correction_id(world),
        "ts": ts,
        "account": customer,
        "product": plan.code,
        "amount": str(plan.amount),
        "currency": world.currency_of.get(customer, "EUR"),
        "type": "recurring",
        "refund_of": "",
        "order_id": "",
        "initiated_by": BILLING_BATCH,
        "system": BILLING_SYSTEM,
        "channel": "console",
        "invoice_no": "",
        "tax_code": "VAT-STD",
    }
    if broken == "amount":
        fields["amount"] = fields["amount"].replace(".", ",")  # a European spreadsheet's
    elif broken == "account":
        fields["account"] = ""
    else:
        fields["ts"] = f"{period.date_of(day).isoformat()}T25:10:00"
    return [fields[column] for column in COLUMNS["charges"]]  # the header's order


def _facts(world: World, calendar: Calendar, privileges: PrivilegeLog) -> IncidentFacts:
    plan, truth = world.plan, world.truth
    by_actor = {t.actor: t for t in truth.totals()}
    service, operator = by_actor[plan.service], by_actor[plan.operator]
    anomalies = truth.anomalies
    outstanding = [a for a in anomalies if not a.refunded]
    money = money_by_currency(anomalies)
    one = len(money) == 1
    return IncidentFacts(
        change_id=calendar.upgrade.change_id,
        rollback_change_id=calendar.rollback.change_id,
        innocent_change_ids=tuple(c.change_id for c in calendar.innocent),
        service_account=plan.service,
        privilege=plan.privilege,
        grant_event_id=privileges.incident_grant.event_id,
        product=plan.product.code,
        operator=plan.operator,
        operator_product=plan.operator_product.code,
        anomalous_charges=len(anomalies),
        anomalous_amount=money[0].amount if one else None,
        service_charges=service.charges,
        operator_charges=operator.charges,
        affected_customers=service.customers,
        stacked_customers=service.stacked_customers,
        outstanding_refunds=len(outstanding),
        outstanding_amount=money[0].outstanding_amount if one else None,
        currencies=tuple(m.currency for m in money),
    )


def _incident_json(
    world: World, calendar: Calendar, privileges: PrivilegeLog, facts: IncidentFacts
) -> dict[str, Any]:
    """The story's facts, for the demo and for tests of the rules."""
    upgrade, rollback, grant = calendar.upgrade, calendar.rollback, privileges.incident_grant
    return {
        "responsible_change": {
            "change_id": upgrade.change_id,
            "system": upgrade.system,
            "kind": upgrade.kind,
            "implementer": upgrade.implementer,
            "approver": upgrade.approver,
            "ticket": upgrade.ticket,
            "window_start": iso_utc(upgrade.window_start),
            "window_end": iso_utc(upgrade.window_end),
            "started_at": iso_utc(upgrade.started_at),
            "finished_at": iso_utc(upgrade.finished_at),
            "failed_controls": ["separation_of_duties", "outside_window"],
        },
        "rollback_change": {
            "change_id": rollback.change_id,
            "started_at": iso_utc(rollback.started_at),
        },
        "innocent_change_ids": list(facts.innocent_change_ids),
        "service_account": facts.service_account,
        "privilege_grant": {
            "event_id": grant.event_id,
            "ts": iso_utc(grant.ts),
            "actor": grant.actor,
            "subject": grant.subject,
            "privilege": grant.privilege,
            "system": grant.system,
            "ticket": None,
            "approver": None,
        },
        "privilege_revoke_event_id": privileges.incident_revoke.event_id,
        "product": facts.product,
        "operator": facts.operator,
        "operator_product": facts.operator_product,
        "causes": [t.to_json() for t in world.truth.totals()],
        "anomalous_charges": facts.anomalous_charges,
        "anomalous_amount": _text(facts.anomalous_amount),
        "affected_customers": facts.affected_customers,
        "stacked_customers": facts.stacked_customers,
        "outstanding_refunds": facts.outstanding_refunds,
        "outstanding_amount": _text(facts.outstanding_amount),
        "currency": facts.currencies[0] if len(facts.currencies) == 1 else None,
        "by_currency": [m.to_json() for m in money_by_currency(world.truth.anomalies)],
    }


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
