"""The accountability report's data: who and what is responsible for the anomalous
charges, what it cost customers, which controls failed, and when it all happened.

`accountability(con)` gathers it as one typed `Report` (model.py: times `datetime`,
amounts `Decimal`) from the library's own answers: the incident summary
(`auditlog.analysis.summary`), remediation and traces (`auditlog.analysis.attribution`), stored findings
(`auditlog.analysis.findings`). Markdown, HTML and the terminal only render it, so the three
always say the same thing; `Report.as_json()` is its JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import duckdb
import polars as pl

from auditlog.analysis.attribution import remediation, rules_for, trace_account, trace_change
from auditlog.analysis.findings import FindingFilter, has_table, list_findings
from auditlog.analysis.money import one_currency, one_sum
from auditlog.analysis.summary import IncidentSummary, Party, incident_summary
from auditlog.analysis.traces import Activity as TracedActivity
from auditlog.analysis.traces import ChangeRecord, PrivilegeHeld
from auditlog.pack import SEVERITIES, Rule, severity_rank
from auditlog.report import controls as ctl
from auditlog.report import timeline as tl
from auditlog.report.model import (
    AccountImpact,
    AccountSection,
    Activity,
    ChangeImpact,
    ChangeSection,
    Directory,
    Grant,
    OpenFindings,
    PartyMoney,
    Report,
    Rollback,
    RuleCount,
    RunInfo,
    Scope,
    SeverityCount,
    Summary,
)

T = TypeVar("T")

PEOPLE_COLUMNS = ("account", "display_name", "team", "manager", "account_type", "owner",
                  "status")


def accountability(con: duckdb.DuckDBPyConnection, change_id: str | None = None) -> Report:
    """The whole report; with `change_id`, only what that change is responsible for."""
    overall = incident_summary(con)  # installs the shared views
    snapshot_anomalies(con)
    parties = [p for p in overall.parties if change_id is None or p.change_id == change_id]
    frame = remediation(con, change_id)
    # With --change the change is reported even when nothing is attributed to it (and an
    # unknown id is an error, from trace_change).
    blamed = [change_id] if change_id is not None else [p.change_id for p in parties]
    drafts = [change_section(con, cid, parties) for cid in unique(c for c in blamed if c)]
    accounts = [account_section(con, actor, parties, frame)
                for actor in unique(p.actor for p in parties if p.actor)]
    changes = [with_grant_controls(con, change, counts, accounts) for change, counts in drafts]
    moments = [c.started_at for c in changes]
    moments += [c.rollback.started_at for c in changes if c.rollback]
    moments += [t for p in parties for t in (p.first_cause_time, p.last_cause_time) if t]
    grants = list({g.id: g for a in accounts for g in a.grants}.values())
    products = sorted({x for p in parties for x in p.products})
    chart = tl.chart(con, change_id, products, moments, changes, grants)
    refunds = tl.refunds(con, change_id)
    summary = summarize(overall, parties, frame, refunds.refunds)
    return Report(
        scope=Scope(change_id),
        run=latest_run(con),
        summary=summary,
        parties=tuple(parties),
        changes=tuple(changes),
        accounts=tuple(accounts),
        people=people(con, changes, accounts),
        timeline=tuple(tl.timeline(changes, accounts, one_per_party(parties, frame), chart,
                                   refunds, summary.outstanding_charges)),
        chart=chart,
        findings=open_findings(con, change_id, [a.account for a in accounts]),
    )


def snapshot_anomalies(con: duckdb.DuckDBPyConnection) -> None:
    """The anomalous charges once, as a TEMP table (allowed on a read-only database), for
    the report's own queries: the shared view would be recomputed by each of them."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE report_anomalous AS
        SELECT charge_id, change_id, actor, cause_system FROM anomalous_charges""")


def unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def summarize(overall: IncidentSummary, parties: Sequence[Party], frame: pl.DataFrame,
              refunds_issued: int) -> Summary:
    """Totals over the parties in scope; customers counted once across parties. Money is
    per currency (`by_currency`); the plain sums only when there is one currency."""
    money = money_of(parties)
    charges = sum(p.charges for p in parties)
    outstanding_charges = sum(p.outstanding_charges for p in parties)
    stacked = frame.group_by("account", "product").len().filter(pl.col("len") > 1)
    return Summary(
        charges=charges,
        customers=frame["account"].n_unique() if frame.height else 0,
        stacked_customers=stacked["account"].n_unique(),
        amount=one_sum(money, "amount"),
        refunded_amount=one_sum(money, "refunded_amount"),
        outstanding_amount=one_sum(money, "outstanding_amount"),
        currency=one_currency(money),
        by_currency=tuple(money),
        refunded_charges=charges - outstanding_charges,
        outstanding_charges=outstanding_charges,
        first_cause_time=min((t for p in parties if (t := p.first_cause_time)), default=None),
        last_cause_time=max((t for p in parties if (t := p.last_cause_time)), default=None),
        products=tuple(sorted({x for p in parties for x in p.products})),
        change_ids=tuple(unique(p.change_id for p in parties if p.change_id)),
        accounts=tuple(unique(p.actor for p in parties if p.actor)),
        unattributed_accounts=tuple(unique(p.actor for p in parties if not p.change_id)),
        all_charges=overall.charges,
        refunds_issued=refunds_issued,
    )


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


def one_per_party(parties: Sequence[Party], frame: pl.DataFrame) -> list[Party]:
    """One entry per (change, account) across its currencies, for the timeline: the
    summary splits a party per currency, but it starts and stops harming once. Only
    counts and times are merged (never money); customers are counted once from the
    remediation frame."""
    merged: dict[tuple[str | None, str | None], Party] = {}
    for p in parties:
        key = (p.change_id, p.actor)
        m = merged.get(key)
        if m is None:
            merged[key] = p
            continue
        change = (pl.col("change_id").is_null() if key[0] is None
                  else pl.col("change_id") == key[0])
        merged[key] = replace(
            m, charges=m.charges + p.charges,
            first_cause_time=earliest(m.first_cause_time, p.first_cause_time),
            last_cause_time=latest(m.last_cause_time, p.last_cause_time),
            products=tuple(sorted({*m.products, *p.products})),
            customers=frame.filter(change & (pl.col("actor") == key[1]))["account"].n_unique())
    return list(merged.values())


def earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((t for t in (a, b) if t is not None), default=None)


def latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


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


def people(con: duckdb.DuckDBPyConnection, changes: Sequence[ChangeSection],
           accounts: Sequence[AccountSection]) -> dict[str, Directory]:
    """Directory entries of everyone the report names, for names, teams and managers."""
    names: set[str] = set()
    for c in changes:
        names.update(x for x in (c.implementer, c.approver) if x)
        if c.rollback:
            names.update(x for x in (c.rollback.implementer, c.rollback.approver) if x)
    for a in accounts:
        names.add(a.account)
        directory = a.directory or {}
        names.update(x for x in (directory.get("owner"), directory.get("manager")) if x)
        names.update(x for g in a.grants for x in (g.granter, g.approver) if x)
    rows = con.execute(f"""
        SELECT {", ".join(PEOPLE_COLUMNS)} FROM accounts
        WHERE account IN (SELECT unnest(CAST(? AS VARCHAR[])))
        ORDER BY account, _file, _row""", [sorted(names)]).fetchall()
    found: dict[str, Directory] = {}
    for row in rows:
        found.setdefault(row[0], dict(zip(PEOPLE_COLUMNS, row, strict=True)))
    return {name: found[name] for name in sorted(found)}


def latest_run(con: duckdb.DuckDBPyConnection) -> RunInfo | None:
    """The last rule run, so readers know how fresh the findings are."""
    if not has_table(con, "runs"):
        return None
    row = con.execute("SELECT run_id, started_at FROM runs ORDER BY started_at DESC, run_id "
                      "DESC LIMIT 1").fetchone()
    return RunInfo(row[0], row[1]) if row else None


def open_findings(con: duckdb.DuckDBPyConnection, change_id: str | None,
                  accounts: list[str]) -> OpenFindings:
    """Open findings by severity and by rule; with a change, those naming it or its
    responsible accounts."""
    frame = list_findings(con, FindingFilter(status="open"))
    if change_id is not None and frame.height:
        frame = frame.filter((pl.col("change_id") == change_id) | pl.col("actor").is_in(accounts)
                             | pl.col("account").is_in(accounts))
    by_rule: list[RuleCount] = []
    # A finding's amount carries no currency: a rule's total is null, never a sum over
    # two currencies, when the charges are in several.
    summable = single_currency_charges(con)
    if frame.height:
        grouped = frame.group_by("rule_id", "severity", "title").agg(
            pl.len().alias("count"), pl.col("amount").sum().alias("amount"))
        for row in grouped.iter_rows(named=True):
            by_rule.append(RuleCount(row["rule_id"], row["severity"], row["title"],
                                     int(row["count"]),
                                     row["amount"] if row["amount"] and summable else None))
    by_rule.sort(key=lambda r: (-severity_rank(r.severity), -r.count, r.rule_id))
    by_severity = [SeverityCount(s, sum(r.count for r in by_rule if r.severity == s))
                   for s in reversed(SEVERITIES)]
    return OpenFindings(sum(r.count for r in by_rule), tuple(by_severity), tuple(by_rule))


def single_currency_charges(con: duckdb.DuckDBPyConnection) -> bool:
    """The loaded charges are in at most one currency."""
    if not has_table(con, "charges"):
        return True
    row = con.execute("SELECT count(DISTINCT currency) FROM charges").fetchone()
    return row is None or int(row[0]) <= 1
