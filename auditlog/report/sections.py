"""The report's sections: each responsible change (its record, approval, window, impact,
rollback and failed controls) and each responsible account (what it did, the grants it
held while it did harm, its failed controls), from the traces and the parties of the
incident summary. Money is the parties' own, per currency (`money_of`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import duckdb
import polars as pl

from auditlog.analysis.attribution import rules_for, trace_account, trace_change
from auditlog.analysis.findings import FindingFilter, list_findings
from auditlog.analysis.money import one_currency, one_sum
from auditlog.analysis.summary import Party
from auditlog.analysis.traces import Activity as TracedActivity
from auditlog.analysis.traces import ChangeRecord, PrivilegeHeld
from auditlog.pack import Rule
from auditlog.report import controls as ctl
from auditlog.report.model import (
    AccountImpact,
    AccountSection,
    Activity,
    ChangeImpact,
    ChangeSection,
    Grant,
    PartyMoney,
    Rollback,
)

T = TypeVar("T")


def unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def money_of(parties: Sequence[Party]) -> list[PartyMoney]:
    """The parties' money per currency, sorted by currency (a party is in one currency:
    the incident summary splits a party per currency)."""
    totals: dict[str | None, tuple[int, int, Decimal, Decimal]] = {}
    for p in parties:
        currency = p.currencies[0] if p.currencies else None
        charges, outstanding, amount, owed = totals.get(currency, (0, 0, Decimal(0), Decimal(0)))
        totals[currency] = (charges + p.charges, outstanding + p.outstanding_charges,
                            amount + (p.amount or 0), owed + (p.outstanding_amount or 0))
    return [PartyMoney(currency, charges, outstanding, amount, owed,
                       refunded_charges=charges - outstanding, refunded_amount=amount - owed)
            for currency, (charges, outstanding, amount, owed)
            in sorted(totals.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))]


def change_section(con: duckdb.DuckDBPyConnection, change_id: str, parties: Sequence[Party]
                   ) -> tuple[ChangeSection, list[tuple[Rule, int]]]:
    """The change's section without its controls (they need the grants its accounts
    used, known later), and the counts of its control rules' findings."""
    doc = trace_change(con, change_id)
    mine = [p for p in parties if p.change_id == change_id]
    money = money_of(mine)
    findings = list_findings(con, FindingFilter(change_id=change_id))
    record, impact = doc.change, doc.impact
    section = ChangeSection(
        change_id=record.change_id, system=record.system, kind=record.kind,
        summary=record.summary, implementer=record.implementer, approver=record.approver,
        ticket=record.ticket, window_start=record.window_start, window_end=record.window_end,
        started_at=record.started_at, finished_at=record.finished_at, status=record.status,
        approval=doc.approval, window=doc.window,
        impact=ChangeImpact(
            charges=impact.charges, accounts=impact.accounts,
            amount=one_sum(money, "amount"), refunded_amount=one_sum(money, "refunded_amount"),
            currency=one_currency(money), unrefunded_charges=impact.unrefunded_charges,
            actors=impact.actors, first_cause_time=impact.first_cause_time,
            last_cause_time=impact.last_cause_time, by_currency=tuple(money),
            outstanding_amount=one_sum(money, "outstanding_amount"),
            customers=impact.accounts),
        accounts=tuple(p.actor for p in mine),
        rollback=rollback_of(con, record),
        rules=doc.rules,
    )
    return section, ctl.rule_counts(findings, ctl.CHANGE_PACKS)


def rollback_of(con: duckdb.DuckDBPyConnection, change: ChangeRecord) -> Rollback | None:
    """The first rollback on the change's system after it started."""
    row = con.execute("""
        SELECT change_id, started_at, implementer, approver FROM changes
        WHERE kind = 'rollback' AND system = ? AND started_at > CAST(? AS TIMESTAMPTZ)
        ORDER BY started_at, change_id LIMIT 1""",
                      [change.system, change.started_at]).fetchone()
    return Rollback(*row) if row is not None else None


def account_section(con: duckdb.DuckDBPyConnection, actor: str, parties: Sequence[Party],
                    frame: pl.DataFrame) -> AccountSection:
    doc = trace_account(con, actor)
    mine = [p for p in parties if p.actor == actor]
    first = min(t for p in mine if (t := p.first_cause_time))
    last = max(t for p in mine if (t := p.last_cause_time))
    money = money_of(mine)
    systems = cause_systems(con, actor, mine)
    grants = [grant_of(con, g, actor) for g in doc.privileges
              if held(g, first, last) and (g.system is None or g.system in systems)]
    findings = list_findings(con, FindingFilter(actor=actor))
    grant_rules = {r.rule_id for g in grants for c in g.controls for r in c.rules}
    counts = [(r, n) for r, n in ctl.rule_counts(findings, ctl.ACCOUNT_PACKS)
              if r.id not in grant_rules]
    charges = sum(p.charges for p in mine)
    outstanding_charges = sum(p.outstanding_charges for p in mine)
    return AccountSection(
        account=actor,
        directory=doc.directory,
        change_ids=tuple(unique(p.change_id for p in mine if p.change_id)),
        impact=AccountImpact(
            charges=charges,
            customers=frame.filter(pl.col("actor") == actor)["account"].n_unique(),
            amount=one_sum(money, "amount"), refunded_amount=one_sum(money, "refunded_amount"),
            outstanding_amount=one_sum(money, "outstanding_amount"),
            currency=one_currency(money),
            refunded_charges=charges - outstanding_charges,
            outstanding_charges=outstanding_charges,
            by_currency=tuple(money),
            products=tuple(sorted({x for p in mine for x in p.products})),
            first_cause_time=first, last_cause_time=last,
        ),
        activity=tuple(activity_of(a, first, last) for a in doc.activity),
        grants=tuple(grants),
        controls=tuple(ctl.with_findings([], counts)),
        rules=doc.rules,
    )


def grant_of(con: duckdb.DuckDBPyConnection, held_grant: PrivilegeHeld, subject: str) -> Grant:
    """A grant the account held while it did harm, with the controls it failed and the
    findings of the rules that name it."""
    g = held_grant
    grant = Grant(id=g.id, granted_at=g.granted_at, privilege=g.privilege, system=g.system,
                  granter=g.granter, ticket=g.ticket, approver=g.approver,
                  expires_at=g.expires_at, revoked_at=g.revoked_at, subject=subject)
    controls = ctl.with_findings(
        ctl.grant_checks(con, grant), ctl.rules_as_counts(rules_for(con, g.id), ctl.CHANGE_PACKS))
    return replace(grant, controls=tuple(controls))


def activity_of(a: TracedActivity, first: datetime, last: datetime) -> Activity:
    return Activity(a.action, a.system, a.actions, a.customers, a.first, a.last,
                    during=a.first <= last and a.last >= first)


def cause_systems(con: duckdb.DuckDBPyConnection, actor: str,
                  mine: Sequence[Party]) -> set[str]:
    """Systems where the account's anomalous causal actions ran: the grants that matter
    are those for these systems (or for none in particular)."""
    rows = con.execute("""
        SELECT DISTINCT cause_system FROM report_anomalous
        WHERE actor = ? AND cause_system IS NOT NULL
          AND (change_id IS NULL OR change_id IN (SELECT unnest(CAST(? AS VARCHAR[]))))""",
                       [actor, [p.change_id for p in mine if p.change_id]]).fetchall()
    return {r[0] for r in rows}


def held(grant: PrivilegeHeld, first: datetime, last: datetime) -> bool:
    """The grant was in force at some point while the account did harm."""
    return grant.granted_at <= last and (grant.revoked_at is None or grant.revoked_at >= first)


def with_grant_controls(con: duckdb.DuckDBPyConnection, change: ChangeSection,
                        counts: Sequence[tuple[Rule, int]],
                        accounts: Sequence[AccountSection]) -> ChangeSection:
    """A change's controls, now that the grants its accounts used are known; then its
    rules' findings attach to them."""
    used = [g for a in accounts if a.account in change.accounts for g in a.grants]
    checks = ctl.change_checks(con, change, used)
    return replace(change, controls=tuple(ctl.with_findings(checks, counts)),
                   grants=tuple(g.id for g in used))
