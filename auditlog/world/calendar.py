"""The change calendar: routine changes on every system, and the incident's changes.

Routine changes are what a healthy change process produces: approved by someone other
than the implementer, with a ticket, started and finished inside their window. The
upgrade breaks all of that at once; the rollback and the innocent neighbours do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from auditlog.world.cast import (
    BILLING_SYSTEM,
    CRM,
    ORDER_SYSTEM,
    PARTNER_GATEWAY,
    SELFCARE_APP,
    Cast,
)
from auditlog.world.clock import HOUR, MINUTE, Period
from auditlog.world.plan import IncidentPlan
from auditlog.world.records import Change
from auditlog.world.timeline import Ids

# The other systems that change during the period.
_OTHER_SYSTEMS = (BILLING_SYSTEM, CRM, PARTNER_GATEWAY, SELFCARE_APP)
_ROUTINE_RATE = 0.3  # chance of a routine change on a given day
# Approved windows by kind: (local start hour, length in hours).
_WINDOWS = {"upgrade": (22, 2), "config": (10, 2), "hotfix": (13, 2), "other": (6, 2)}
_KIND_WEIGHTS = {"upgrade": 3, "config": 4, "hotfix": 2, "other": 1}
_SUMMARIES = {
    "upgrade": "{system} release {version}",
    "config": "{system} configuration update ({topic})",
    "hotfix": "{system} hotfix for {topic}",
    "other": "{system} maintenance: {topic}",
}
_TOPICS = (
    "certificate rotation",
    "timeout tuning",
    "log retention",
    "feature flag cleanup",
    "rate limits",
    "database index",
    "cache sizing",
    "dependency update",
)


@dataclass
class Calendar:
    changes: list[Change]  # sorted by started_at, ids assigned
    upgrade: Change
    rollback: Change
    innocent: list[Change]  # near the incident on other systems, done properly


def plan_changes(rng: Random, period: Period, cast: Cast, ids: Ids, plan: IncidentPlan) -> Calendar:
    day = plan.day
    routine = _order_system_routine(rng, period, cast, ids, day)
    # Other systems change on ordinary days; the days around the incident get exactly
    # the two innocent neighbours, so that the story stays readable.
    quiet = range(day - 1, day + 3)
    for d in range(period.days - 1):
        if d not in quiet and rng.random() < _ROUTINE_RATE:
            kind = rng.choices(list(_KIND_WEIGHTS), list(_KIND_WEIGHTS.values()))[0]
            routine.append(_routine(rng, period, cast, ids, rng.choice(_OTHER_SYSTEMS), d, kind))
    if routine:
        # Change processes are not perfect: one routine change failed (and was retried
        # another day), which is not an anomaly either.
        rng.choice([c for c in routine if c.system != ORDER_SYSTEM] or routine).status = "failed"
    innocent = [
        _routine(rng, period, cast, ids, BILLING_SYSTEM, day, "config"),
        _routine(rng, period, cast, ids, CRM, day + 1, "hotfix"),
    ]
    upgrade, rollback = _incident_changes(rng, period, cast, ids, plan)
    changes = [*routine, *innocent, upgrade, rollback]
    if day + 7 < period.days - 1:  # the fixed release, done properly this time
        changes.append(_routine(rng, period, cast, ids, ORDER_SYSTEM, day + 7, "upgrade"))
    changes.sort(key=lambda c: c.started_at)
    for change in changes:
        change.change_id = ids.change()
    return Calendar(changes, upgrade, rollback, innocent)


def _order_system_routine(
    rng: Random, period: Period, cast: Cast, ids: Ids, day: int
) -> list[Change]:
    """One or two order-system changes well before the incident (more than 7 days)."""
    early_days = range(1, day - 7)
    count = min(len(early_days), rng.randint(1, 2))
    picked = sorted(rng.sample(early_days, count))
    kinds = ("upgrade", "config")
    return [
        _routine(rng, period, cast, ids, ORDER_SYSTEM, d, kinds[i % 2])
        for i, d in enumerate(picked)
    ]


def _routine(
    rng: Random, period: Period, cast: Cast, ids: Ids, system: str, day: int, kind: str
) -> Change:
    implementer = rng.choice(cast.engineers[system])
    peers = [e for e in cast.engineers[system] if e != implementer]
    # Usually the system's manager approves; sometimes a peer reviewer does.
    approver = rng.choice(peers) if peers and rng.random() < 0.3 else cast.system_manager[system]
    start_hour, hours = _WINDOWS[kind]
    window_start = period.at(day, start_hour)
    window_end = window_start + hours * HOUR
    started = window_start + rng.randint(5, 30) * MINUTE
    finished = started + rng.randint(10, 60) * MINUTE
    return Change(
        system=system,
        kind=kind,
        summary=_summary(rng, system, kind),
        implementer=implementer,
        approver=approver,
        ticket=ids.ticket("CR"),
        window_start=window_start,
        window_end=window_end,
        started_at=started,
        finished_at=min(finished, window_end - MINUTE),
        status="success",
    )


def _summary(rng: Random, system: str, kind: str) -> str:
    version = f"{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
    return _SUMMARIES[kind].format(system=system, version=version, topic=rng.choice(_TOPICS))


def _incident_changes(
    rng: Random, period: Period, cast: Cast, ids: Ids, plan: IncidentPlan
) -> tuple[Change, Change]:
    upgrade = Change(
        system=plan.system,
        kind="upgrade",
        summary=f"{plan.system} release {plan.release} (bulk order API, order sync rework)",
        implementer=plan.engineer,
        approver=plan.engineer,  # approved by its own implementer
        ticket=ids.ticket("CR"),
        window_start=plan.upgrade_window[0],
        window_end=plan.upgrade_window[1],
        started_at=plan.upgrade_start,  # hours before its window opened
        finished_at=plan.upgrade_end,
        status="rolled_back",
    )
    rollback = Change(
        system=plan.system,
        kind="rollback",
        summary=f"Roll back {plan.system} release {plan.release} ({plan.incident_ticket})",
        implementer=plan.rollback_engineer,
        approver=cast.system_manager[plan.system],
        ticket=plan.incident_ticket,
        # An emergency window, approved minutes before it opened.
        window_start=plan.rollback_start - rng.randint(10, 20) * MINUTE,
        window_end=plan.rollback_start + 2 * HOUR,
        started_at=plan.rollback_start,
        finished_at=plan.rollback_end,
        status="success",
    )
    return upgrade, rollback
