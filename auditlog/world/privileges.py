"""The privilege log: routine grants and revocations, and the one grant without a ticket.

Routine grants are made by an identity admin, carry a ticket and an approver, and are
often temporary (deploy rights for a change window). The incident's grant is made by
the upgrading engineer, with neither ticket nor approver, and never expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from auditlog.world.calendar import Calendar
from auditlog.world.cast import (
    BILLING_BATCH,
    BILLING_SYSTEM,
    CAMPAIGN_SERVICE,
    CRM,
    ORDER_SYSTEM,
    SSO,
    Cast,
)
from auditlog.world.clock import DAY, HOUR, MINUTE, Period
from auditlog.world.plan import IncidentPlan
from auditlog.world.records import Privilege
from auditlog.world.timeline import Ids

# What a counter operator may do; granted to the joiner, revoked from the leaver.
_OPERATOR_PRIVILEGES = (("crm:read", CRM), ("order:create", ORDER_SYSTEM))


@dataclass
class PrivilegeLog:
    events: list[Privilege]  # sorted by ts, ids assigned
    incident_grant: Privilege
    incident_revoke: Privilege


def plan_privileges(
    rng: Random, period: Period, cast: Cast, ids: Ids, calendar: Calendar, plan: IncidentPlan
) -> PrivilegeLog:
    events = [
        *_deploy_grants(rng, cast, ids, calendar),
        *_operator_lifecycle(rng, cast, ids),
        *_temporary_exports(rng, period, cast, ids),
        _campaign_grant(rng, period, cast, ids, plan),
        _refund_grant(rng, period, cast, plan),
    ]
    grant = Privilege(
        ts=plan.grant_ts,
        actor=plan.engineer,
        subject=plan.service,
        privilege=plan.privilege,
        operation="grant",
        system=plan.system,
        ticket=None,
        approver=None,
    )
    revoke = Privilege(
        ts=plan.rollback_end + rng.randint(60, 180) * MINUTE,
        actor=rng.choice(cast.iam_admins),
        subject=plan.service,
        privilege=plan.privilege,
        operation="revoke",
        system=plan.system,
        ticket=plan.incident_ticket,
        approver=cast.system_manager[SSO],
    )
    events += [grant, revoke]
    events.sort(key=lambda e: e.ts)
    for event in events:
        event.event_id = ids.privilege()
    return PrivilegeLog(events, grant, revoke)


def _deploy_grants(rng: Random, cast: Cast, ids: Ids, calendar: Calendar) -> list[Privilege]:
    """Temporary deploy rights for each change's implementer, on the change's ticket."""
    grants = []
    for change in calendar.changes:
        ts = min(change.window_start, change.started_at) - rng.randint(60, 300) * MINUTE
        grants.append(
            Privilege(
                ts=ts,
                actor=rng.choice(cast.iam_admins),
                subject=change.implementer,
                privilege=f"{change.system}:deploy",
                operation="grant",
                system=change.system,
                ticket=change.ticket,
                approver=cast.system_manager[change.system],
                expires_at=change.window_end + 2 * HOUR,
            )
        )
    return grants


def _operator_lifecycle(rng: Random, cast: Cast, ids: Ids) -> list[Privilege]:
    """The joiner gets the operator rights on their first morning; the leaver loses them."""
    events = []
    joiner, leaver = cast.account(cast.joiner), cast.account(cast.leaver)
    assert leaver.disabled_at is not None
    for account, operation, ts in (
        (joiner, "grant", joiner.created_at + 20 * MINUTE),
        (leaver, "revoke", leaver.disabled_at + 5 * MINUTE),
    ):
        ticket = ids.ticket("HR")
        for offset, (privilege, system) in enumerate(_OPERATOR_PRIVILEGES):
            events.append(
                Privilege(
                    ts=ts + offset * MINUTE,
                    actor=rng.choice(cast.iam_admins),
                    subject=account.account,
                    privilege=privilege,
                    operation=operation,
                    system=system,
                    ticket=ticket,
                    approver=account.manager,
                )
            )
    return events


def _temporary_exports(rng: Random, period: Period, cast: Cast, ids: Ids) -> list[Privilege]:
    """A few operators get a day's export right for a reporting task."""
    events = []
    for _ in range(rng.randint(2, 4)):
        operator = rng.choice([op for op in cast.operators if op not in (cast.joiner, cast.leaver)])
        ts = period.at(rng.randrange(1, period.days - 1), 9) + rng.randrange(2 * HOUR)
        events.append(
            Privilege(
                ts=ts,
                actor=rng.choice(cast.iam_admins),
                subject=operator,
                privilege="crm:export",
                operation="grant",
                system=CRM,
                ticket=ids.ticket(),
                approver=cast.account(operator).manager,
                expires_at=ts + 8 * HOUR,
            )
        )
    return events


def _campaign_grant(
    rng: Random, period: Period, cast: Cast, ids: Ids, plan: IncidentPlan
) -> Privilege:
    """The same bulk privilege as the incident's, granted the proper way."""
    ts = (
        period.at(plan.campaign_day - 1, 15) + rng.randrange(HOUR)
        if plan.campaign_day > 1
        else period.start + rng.randrange(HOUR)
    )
    return Privilege(
        ts=ts,
        actor=rng.choice(cast.iam_admins),
        subject=CAMPAIGN_SERVICE,
        privilege=plan.privilege,
        operation="grant",
        system=ORDER_SYSTEM,
        ticket=ids.ticket("MKT"),
        approver=cast.system_manager[ORDER_SYSTEM],
        expires_at=period.at(plan.campaign_day + 1, 12),
    )


def _refund_grant(rng: Random, period: Period, cast: Cast, plan: IncidentPlan) -> Privilege:
    """Bulk refunds for the incident, on the incident ticket, for the refund days only."""
    first, last = plan.refund_days[0], plan.refund_days[-1]
    return Privilege(
        ts=period.at(first - 1, 16) + rng.randrange(HOUR),
        actor=rng.choice(cast.iam_admins),
        subject=BILLING_BATCH,
        privilege="billing:bulk_refund",
        operation="grant",
        system=BILLING_SYSTEM,
        ticket=plan.incident_ticket,
        approver=cast.system_manager[BILLING_SYSTEM],
        expires_at=period.at(last + 1, 12) + DAY,
    )
