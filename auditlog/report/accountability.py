"""The accountability report's data: who and what is responsible for the anomalous
charges, what it cost customers, which controls failed, and when it all happened.

`accountability(con)` gathers it as one plain, JSON-ready dict (times ISO 8601 with Z,
amounts exact decimal strings) from the library's own answers: the incident summary
(`auditlog.analysis.summary`), remediation and traces (`auditlog.analysis.attribution`), stored findings
(`auditlog.analysis.findings`). Markdown, HTML and the terminal only render it, so the three
always say the same thing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from auditlog.analysis.attribution import (
    remediation,
    rules_for,
    single_currency,
    trace_account,
    trace_change,
)
from auditlog.analysis.findings import FindingFilter, has_table, list_findings
from auditlog.analysis.summary import incident_summary
from auditlog.pack import SEVERITIES, severity_rank
from auditlog.report import controls as ctl
from auditlog.report import timeline as tl
from auditlog.report.formatting import parse
from auditlog.values import decimal_text, iso_utc

PEOPLE_COLUMNS = ("account", "display_name", "team", "manager", "account_type", "owner",
                  "status")


def accountability(con: duckdb.DuckDBPyConnection, change_id: str | None = None
                   ) -> dict[str, Any]:
    """The whole report; with `change_id`, only what that change is responsible for."""
    overall = incident_summary(con)  # installs the shared views
    snapshot_anomalies(con)
    parties = [p for p in overall["parties"] if change_id is None or p["change_id"] == change_id]
    frame = remediation(con, change_id)
    summary = summarize(overall, parties, frame)
    # With --change the change is reported even when nothing is attributed to it (and an
    # unknown id is an error, from trace_change).
    blamed = [change_id] if change_id is not None else [p["change_id"] for p in parties]
    changes = [change_section(con, cid, parties) for cid in unique(c for c in blamed if c)]
    accounts = [account_section(con, actor, parties, frame)
                for actor in unique(p["actor"] for p in parties if p["actor"])]
    add_grant_controls(con, changes, accounts)
    moments = [c["started_at"] for c in changes]
    moments += [c["rollback"]["started_at"] for c in changes if c["rollback"]]
    moments += [t for p in parties for t in (p["first_cause_time"], p["last_cause_time"]) if t]
    grants = unique_by_id(g for a in accounts for g in a["grants"])
    chart = tl.chart(con, change_id, summary["products"], moments, changes, grants)
    refunds = tl.refunds(con, change_id)
    return {
        "scope": {"change_id": change_id},
        "run": latest_run(con),
        "summary": {**summary, "refunds_issued": refunds["refunds"]},
        "parties": parties,
        "changes": changes,
        "accounts": accounts,
        "people": people(con, changes, accounts),
        "timeline": tl.timeline(changes, accounts, one_per_party(parties, frame), chart, refunds,
                                summary["outstanding_charges"]),
        "chart": chart,
        "findings": open_findings(con, change_id, [a["account"] for a in accounts]),
    }


def snapshot_anomalies(con: duckdb.DuckDBPyConnection) -> None:
    """The anomalous charges once, as a TEMP table (allowed on a read-only database), for
    the report's own queries: the shared view would be recomputed by each of them."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE report_anomalous AS
        SELECT charge_id, change_id, actor, cause_system FROM anomalous_charges""")


def unique(items: Any) -> list[Any]:
    return list(dict.fromkeys(items))


def unique_by_id(items: Any) -> list[dict[str, Any]]:
    return list({item["id"]: item for item in items}.values())


def summarize(overall: dict[str, Any], parties: list[dict[str, Any]], frame: pl.DataFrame
              ) -> dict[str, Any]:
    """Totals over the parties in scope; customers counted once across parties. Money is
    per currency (`by_currency`); the plain sums only when there is one currency."""
    money = money_of(parties)
    charges = sum(p["charges"] for p in parties)
    outstanding_charges = sum(p["outstanding_charges"] for p in parties)
    stacked = frame.group_by("account", "product").len().filter(pl.col("len") > 1)
    return {
        "charges": charges,
        "customers": frame["account"].n_unique() if frame.height else 0,
        "stacked_customers": stacked["account"].n_unique(),
        **single_currency(money, MONEY_FIELDS),
        "by_currency": money,
        "refunded_charges": charges - outstanding_charges,
        "outstanding_charges": outstanding_charges,
        "first_cause_time": min((p["first_cause_time"] for p in parties), default=None),
        "last_cause_time": max((p["last_cause_time"] for p in parties), default=None),
        "products": sorted({x for p in parties for x in p["products"]}),
        "change_ids": unique(p["change_id"] for p in parties if p["change_id"]),
        "accounts": unique(p["actor"] for p in parties if p["actor"]),
        "unattributed_accounts": unique(p["actor"] for p in parties if not p["change_id"]),
        "all_charges": overall["charges"],
    }


MONEY_FIELDS = ("amount", "refunded_amount", "outstanding_amount")


def money_of(parties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parties' money per currency, sorted by currency (a party is in one currency:
    the incident summary splits a party per currency), exact decimal strings."""
    totals: dict[str | None, dict[str, Any]] = {}
    for p in parties:
        currency = p["currencies"][0] if p["currencies"] else None
        row = totals.setdefault(currency, {"currency": currency, "charges": 0,
                                           "outstanding_charges": 0, "amount": Decimal(0),
                                           "outstanding_amount": Decimal(0)})
        row["charges"] += p["charges"]
        row["outstanding_charges"] += p["outstanding_charges"]
        row["amount"] += Decimal(p["amount"])
        row["outstanding_amount"] += Decimal(p["outstanding_amount"])
    return [{**row, "refunded_charges": row["charges"] - row["outstanding_charges"],
             "amount": decimal_text(row["amount"]),
             "refunded_amount": decimal_text(row["amount"] - row["outstanding_amount"]),
             "outstanding_amount": decimal_text(row["outstanding_amount"])}
            for _, row in sorted(totals.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))]


def one_per_party(parties: list[dict[str, Any]], frame: pl.DataFrame) -> list[dict[str, Any]]:
    """One entry per (change, account) across its currencies, for the timeline: the
    summary splits a party per currency, but it starts and stops harming once. Only
    counts and times are merged (never money); customers are counted once from the
    remediation frame."""
    merged: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for p in parties:
        key = (p["change_id"], p["actor"])
        if key not in merged:
            merged[key] = {**p}
            continue
        m = merged[key]
        m["charges"] += p["charges"]
        m["first_cause_time"] = min(m["first_cause_time"], p["first_cause_time"])
        m["last_cause_time"] = max(m["last_cause_time"], p["last_cause_time"])
        m["products"] = sorted({*m["products"], *p["products"]})
        change = (pl.col("change_id").is_null() if key[0] is None
                  else pl.col("change_id") == key[0])
        m["customers"] = frame.filter(change & (pl.col("actor") == key[1]))["account"].n_unique()
    return list(merged.values())


def change_section(con: duckdb.DuckDBPyConnection, change_id: str,
                   parties: list[dict[str, Any]]) -> dict[str, Any]:
    doc = trace_change(con, change_id)
    mine = [p for p in parties if p["change_id"] == change_id]
    money = money_of(mine)
    findings = list_findings(con, FindingFilter(change_id=change_id))
    return {
        **{k: doc.get(k) for k in ("change_id", "system", "kind", "summary", "implementer",
                                   "approver", "ticket", "window_start", "window_end",
                                   "started_at", "finished_at", "status")},
        "approval": doc["approval"], "window": doc["window"],
        "impact": {**doc["impact"], **single_currency(money, MONEY_FIELDS),
                   "customers": doc["impact"]["accounts"], "by_currency": money},
        "accounts": [p["actor"] for p in mine],
        "rollback": rollback_of(con, doc),
        "control_rules": ctl.rule_counts(findings, ctl.CHANGE_PACKS),
        "rules": doc["rules"],
    }


def rollback_of(con: duckdb.DuckDBPyConnection, change: dict[str, Any]) -> dict[str, Any] | None:
    """The first rollback on the change's system after it started."""
    row = con.execute("""
        SELECT change_id, started_at, implementer, approver FROM changes
        WHERE kind = 'rollback' AND system = ? AND started_at > CAST(? AS TIMESTAMPTZ)
        ORDER BY started_at, change_id LIMIT 1""",
                      [change["system"], change["started_at"]]).fetchone()
    if row is None:
        return None
    return {"change_id": row[0], "started_at": iso_utc(row[1]), "implementer": row[2],
            "approver": row[3]}


def account_section(con: duckdb.DuckDBPyConnection, actor: str, parties: list[dict[str, Any]],
                    frame: pl.DataFrame) -> dict[str, Any]:
    doc = trace_account(con, actor)
    mine = [p for p in parties if p["actor"] == actor]
    first = min(p["first_cause_time"] for p in mine)
    last = max(p["last_cause_time"] for p in mine)
    money = money_of(mine)
    systems = cause_systems(con, actor, mine)
    grants = [{**g, "subject": actor} for g in doc["privileges"]
              if held(g, first, last) and (g["system"] is None or g["system"] in systems)]
    for g in grants:
        g["controls"] = ctl.with_findings(
            ctl.grant_checks(con, g), ctl.rules_as_counts(rules_for(con, g["id"]), ctl.CHANGE_PACKS))
    findings = list_findings(con, FindingFilter(actor=actor))
    grant_rules = {r["rule_id"] for g in grants for c in g["controls"] for r in c["rules"]}
    counts = [(r, n) for r, n in ctl.rule_counts(findings, ctl.ACCOUNT_PACKS)
              if r.id not in grant_rules]
    charges = sum(p["charges"] for p in mine)
    outstanding_charges = sum(p["outstanding_charges"] for p in mine)
    return {
        "account": actor,
        "directory": doc["directory"],
        "change_ids": unique(p["change_id"] for p in mine if p["change_id"]),
        "impact": {
            "charges": charges,
            "customers": frame.filter(pl.col("actor") == actor)["account"].n_unique(),
            **single_currency(money, MONEY_FIELDS),
            "refunded_charges": charges - outstanding_charges,
            "outstanding_charges": outstanding_charges,
            "by_currency": money,
            "products": sorted({x for p in mine for x in p["products"]}),
            "first_cause_time": first, "last_cause_time": last,
        },
        "activity": [{**a, "during": overlaps(a, first, last)} for a in doc["activity"]],
        "grants": grants,
        "controls": ctl.with_findings([], counts),
        "rules": doc["rules"],
    }


def cause_systems(con: duckdb.DuckDBPyConnection, actor: str,
                  mine: list[dict[str, Any]]) -> set[str]:
    """Systems where the account's anomalous causal actions ran: the grants that matter
    are those for these systems (or for none in particular)."""
    rows = con.execute("""
        SELECT DISTINCT cause_system FROM report_anomalous
        WHERE actor = ? AND cause_system IS NOT NULL
          AND (change_id IS NULL OR change_id IN (SELECT unnest(CAST(? AS VARCHAR[]))))""",
                       [actor, [p["change_id"] for p in mine if p["change_id"]]]).fetchall()
    return {r[0] for r in rows}


def held(grant: dict[str, Any], first: str, last: str) -> bool:
    """The grant was in force at some point while the account did harm."""
    granted, revoked = parse(grant["granted_at"]), grant["revoked_at"]
    return granted <= parse(last) and (revoked is None or parse(revoked) >= parse(first))


def overlaps(activity: dict[str, Any], first: str, last: str) -> bool:
    return parse(activity["first"]) <= parse(last) and parse(activity["last"]) >= parse(first)


def add_grant_controls(con: duckdb.DuckDBPyConnection, changes: list[dict[str, Any]],
                       accounts: list[dict[str, Any]]) -> None:
    """A change's controls, now that the grants its accounts used are known; then its
    rules' findings attach to them."""
    for change in changes:
        used = [g for a in accounts if a["account"] in change["accounts"] for g in a["grants"]]
        checks = ctl.change_checks(con, change, used)
        change["controls"] = ctl.with_findings(checks, change.pop("control_rules"))
        change["grants"] = [g["id"] for g in used]


def people(con: duckdb.DuckDBPyConnection, changes: list[dict[str, Any]],
           accounts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Directory entries of everyone the report names, for names, teams and managers."""
    names: set[str] = set()
    for c in changes:
        names.update(x for x in (c["implementer"], c["approver"]) if x)
        if c["rollback"]:
            names.update(x for x in (c["rollback"]["implementer"], c["rollback"]["approver"]) if x)
    for a in accounts:
        names.add(a["account"])
        directory = a["directory"] or {}
        names.update(x for x in (directory.get("owner"), directory.get("manager")) if x)
        names.update(x for g in a["grants"] for x in (g["granter"], g["approver"]) if x)
    rows = con.execute(f"""
        SELECT {", ".join(PEOPLE_COLUMNS)} FROM accounts
        WHERE account IN (SELECT unnest(CAST(? AS VARCHAR[])))
        ORDER BY account, _file, _row""", [sorted(names)]).fetchall()
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        found.setdefault(row[0], dict(zip(PEOPLE_COLUMNS, row, strict=True)))
    return {name: found[name] for name in sorted(found)}


def latest_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The last rule run, so readers know how fresh the findings are."""
    if not has_table(con, "runs"):
        return None
    row = con.execute("SELECT run_id, started_at FROM runs ORDER BY started_at DESC, run_id "
                      "DESC LIMIT 1").fetchone()
    return {"run_id": row[0], "started_at": iso_utc(row[1])} if row else None


def open_findings(con: duckdb.DuckDBPyConnection, change_id: str | None,
                  accounts: list[str]) -> dict[str, Any]:
    """Open findings by severity and by rule; with a change, those naming it or its
    responsible accounts."""
    frame = list_findings(con, FindingFilter(status="open"))
    if change_id is not None and frame.height:
        frame = frame.filter((pl.col("change_id") == change_id) | pl.col("actor").is_in(accounts)
                             | pl.col("account").is_in(accounts))
    by_rule = []
    # A finding's amount carries no currency: a rule's total is null, never a sum over
    # two currencies, when the charges are in several.
    summable = single_currency_charges(con)
    if frame.height:
        grouped = frame.group_by("rule_id", "severity", "title").agg(
            pl.len().alias("count"), pl.col("amount").sum().alias("amount"))
        for row in grouped.iter_rows(named=True):
            by_rule.append({**row, "count": int(row["count"]),
                            "amount": decimal_text(row["amount"])
                            if row["amount"] and summable else None})
    by_rule.sort(key=lambda r: (-severity_rank(r["severity"]), -r["count"], r["rule_id"]))
    by_severity = [{"severity": s, "count": sum(r["count"] for r in by_rule if r["severity"] == s)}
                   for s in reversed(SEVERITIES)]
    return {"open": sum(r["count"] for r in by_rule), "by_severity": by_severity,
            "by_rule": by_rule}


def single_currency_charges(con: duckdb.DuckDBPyConnection) -> bool:
    """The loaded charges are in at most one currency."""
    if not has_table(con, "charges"):
        return True
    row = con.execute("SELECT count(DISTINCT currency) FROM charges").fetchone()
    return row is None or int(row[0]) <= 1
