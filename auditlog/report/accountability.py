"""The accountability report's data: who and what is responsible for the anomalous
charges, what it cost customers, which controls failed, and when it all happened.

`accountability(con)` gathers it as one typed `Report` (model.py: times `datetime`,
amounts `Decimal`) from the library's own answers: the incident summary
(`auditlog.analysis.summary`), remediation and traces (`auditlog.analysis.attribution`), stored findings
(`auditlog.analysis.findings`). Markdown, HTML and the terminal only render it, so the three
always say the same thing; `Report.as_json()` is its JSON. The sections of each
responsible change and account are sections.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import duckdb
import polars as pl

from auditlog.analysis.attribution import remediation
from auditlog.analysis.findings import FindingFilter, has_table, list_findings
from auditlog.analysis.money import one_currency, one_sum
from auditlog.analysis.sigma_rules import sigma_rules
from auditlog.analysis.summary import IncidentSummary, Party, incident_summary
from auditlog.pack import SEVERITIES, severity_rank
from auditlog.report import timeline as tl
from auditlog.report.harden import permissions_to_harden
from auditlog.report.incidents import incidents, refunds_due
from auditlog.report.model import (
    AccountSection,
    ChangeSection,
    Directory,
    OpenFindings,
    Report,
    RuleCount,
    RunInfo,
    Scope,
    SeverityCount,
    Summary,
)
from auditlog.report.sections import (
    account_section,
    change_section,
    money_of,
    unique,
    with_grant_controls,
)

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
    directory = people(con, changes, accounts)
    cases = incidents(parties, directory, frame)
    if chart is not None:
        chart = tl.split_by_incident(con, chart, change_id, cases)
    return Report(
        scope=Scope(change_id),
        run=latest_run(con),
        summary=summary,
        parties=tuple(parties),
        changes=tuple(changes),
        accounts=tuple(accounts),
        people=directory,
        timeline=tuple(tl.timeline(changes, accounts, one_per_party(parties, frame), chart,
                                   refunds, summary.outstanding_charges)),
        chart=chart,
        findings=open_findings(con, change_id, [a.account for a in accounts]),
        incidents=tuple(cases),
        refunds_due=tuple(refunds_due(con, change_id)),
        harden=permissions_to_harden(
            con, None if change_id is None else sorted({*directory, *summary.accounts})),
    )


def snapshot_anomalies(con: duckdb.DuckDBPyConnection) -> None:
    """The anomalous charges once, as a TEMP table (allowed on a read-only database), for
    the report's own queries: the shared view would be recomputed by each of them."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE report_anomalous AS
        SELECT charge_id, change_id, actor, cause_system FROM anomalous_charges""")


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
    sigma = {rule.rule: rule for rule in sigma_rules(con, [r.rule_id for r in by_rule])}
    by_rule = [replace(r, sigma=sigma.get(r.rule_id)) for r in by_rule]
    by_severity = [SeverityCount(s, sum(r.count for r in by_rule if r.severity == s))
                   for s in reversed(SEVERITIES)]
    return OpenFindings(sum(r.count for r in by_rule), tuple(by_severity), tuple(by_rule))


def single_currency_charges(con: duckdb.DuckDBPyConnection) -> bool:
    """The loaded charges are in at most one currency."""
    if not has_table(con, "charges"):
        return True
    row = con.execute("SELECT count(DISTINCT currency) FROM charges").fetchone()
    return row is None or int(row[0]) <= 1
