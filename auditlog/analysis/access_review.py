"""The access review: one row per (account, privilege, system) held during a period, with
who reviews it, whether it was used and the flags a reviewer must see.

The flags that belong to a held interval are SQL, in the shared unit
`privilege_review` (queries/shared/, beside `privilege_intervals`), so the review, the
rules and the report read one definition. What depends on the period is computed here,
in one query over the units: the intervals that overlap it, the actions that used them
while held within it (the model parameter `privilege_actions`,
queries/shared/privilege_actions.sql, says which actions use a privilege) and the
present findings whose evidence names a grant. docs/access-review.md tells the story.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from auditlog.analysis.findings import has_table
from auditlog.engines.sandbox import install_shared_views
from auditlog.errors import UsageError
from auditlog.store.attribution import EVIDENCE_TABLE, evidence_is_fresh
from auditlog.store.runs import latest_run_params
from auditlog.values import as_json

# The flags, in the order a reviewer reads them, each with its column in the review.
FLAGS: tuple[str, ...] = (
    "no_approval", "self_granted", "granter_approved", "held_when_disabled",
    "deploy_and_approve", "self_approved", "in_finding", "unused",
)
# One entry of the privilege_actions parameter: PRIVILEGE@SYSTEM=ACTION[,ACTION...].
ACTION_ENTRY = re.compile(r"[^=;]*@[^@=;]+=[^=;]*[^=;\s,][^=;]*")

REVIEW_SQL = """
WITH period AS (
    SELECT CAST($since AS TIMESTAMPTZ) AS since, CAST($until AS TIMESTAMPTZ) AS until
),
held AS (  -- each interval overlapping the period, cut to it
    SELECT r.*, greatest(r.held_from, p.since) AS seen_from,
           CASE WHEN r.ended_at IS NULL OR r.ended_at > p.until THEN p.until
                ELSE r.ended_at END AS seen_until,
           EXISTS (SELECT 1 FROM privilege_actions AS m
                   WHERE m.system = r.system AND m.privilege IN (r.privilege, '*')) AS mapped
    FROM privilege_review AS r, period AS p
    WHERE r.held_from < p.until AND (r.ended_at IS NULL OR r.ended_at > p.since)
),
used AS (  -- actions that used a held privilege within the period
    SELECT h.account, h.privilege, h.system, h.held_from, a.ts
    FROM held AS h
    JOIN actions AS a ON a.actor = h.account AND a.ts >= h.seen_from AND a.ts < h.seen_until
     AND (h.system IS NULL OR a.system = h.system)
    WHERE NOT h.mapped
    UNION ALL
    SELECT h.account, h.privilege, h.system, h.held_from, a.ts
    FROM held AS h
    JOIN privilege_actions AS m ON m.system = h.system AND m.privilege IN (h.privilege, '*')
    JOIN actions AS a ON a.actor = h.account AND a.system = h.system AND a.action = m.action
     AND a.ts >= h.seen_from AND a.ts < h.seen_until
    WHERE h.mapped
),
uses AS (
    SELECT account, privilege, system, held_from, count(*) AS uses, max(ts) AS last_use
    FROM used GROUP BY account, privilege, system, held_from
),
named AS (  -- grants the present findings name in their evidence
    SELECT item, string_agg(DISTINCT rule_id, ', ' ORDER BY rule_id) AS rules
    FROM {evidence} AS f
    WHERE item IN (SELECT grant_event_id FROM held)
    GROUP BY item
),
intervals AS (
    SELECT h.*, coalesce(u.uses, 0) AS uses, u.last_use,
           CASE WHEN n.rules IS NOT NULL
                THEN 'Its grant ' || h.grant_event_id || ' is evidence of ' || n.rules || '.'
                END AS in_finding
    FROM held AS h
    LEFT JOIN uses AS u ON u.account = h.account AND u.privilege = h.privilege
     AND u.system IS NOT DISTINCT FROM h.system AND u.held_from = h.held_from
    LEFT JOIN named AS n ON n.item = h.grant_event_id
)
SELECT
    any_value(reviewer) AS reviewer, account, any_value(account_type) AS account_type,
    privilege, system, min(held_from) AS held_from,
    CASE WHEN bool_or(ended_at IS NULL) THEN NULL ELSE max(ended_at) END AS held_until,
    arg_max(end_reason, held_from) AS end_reason, count(*) AS intervals,
    list(grant_event_id ORDER BY held_from) AS grant_event_ids,
    arg_max(granter, held_from) AS granter, arg_max(approver, held_from) AS approver,
    arg_max(ticket, held_from) AS ticket,
    CAST(sum(uses) AS BIGINT) AS uses, max(last_use) AS last_use,
    string_agg(no_approval, ' ' ORDER BY held_from) AS no_approval,
    string_agg(self_granted, ' ' ORDER BY held_from) AS self_granted,
    string_agg(granter_approved, ' ' ORDER BY held_from) AS granter_approved,
    string_agg(held_when_disabled, ' ' ORDER BY held_from) AS held_when_disabled,
    string_agg(deploy_and_approve, ' ' ORDER BY held_from) AS deploy_and_approve,
    string_agg(self_approved, ' ' ORDER BY held_from) AS self_approved,
    string_agg(in_finding, ' ' ORDER BY held_from) AS in_finding,
    CASE WHEN sum(uses) = 0 THEN 'Not used in the period reviewed.' END AS unused
FROM intervals
GROUP BY account, privilege, system
ORDER BY reviewer NULLS LAST, account, privilege, system NULLS FIRST
"""
# What the present findings name, (item, rule_id): the stored evidence index when it
# reflects the latest run (store/attribution.py), else the findings' evidence lists.
NO_EVIDENCE = "(SELECT CAST(NULL AS VARCHAR) AS item, CAST(NULL AS VARCHAR) AS rule_id)"
FINDINGS_EVIDENCE = "(SELECT unnest(evidence) AS item, rule_id FROM findings WHERE present)"
STORED_EVIDENCE = f"(SELECT item, rule_id FROM {EVIDENCE_TABLE})"


@dataclass(frozen=True)
class AccessReview:
    """The review of one period: its rows (a polars frame, one per account, privilege and
    system, with `flags`, the names of the flags raised), and the period."""

    since: datetime
    until: datetime
    rows: pl.DataFrame

    def as_json(self) -> dict[str, Any]:
        return {"since": as_json(self.since), "until": as_json(self.until),
                "rows": [as_json(row) for row in self.rows.iter_rows(named=True)]}


def check_privilege_actions(value: object) -> None:
    """A privilege_actions parameter whose entries are not PRIVILEGE@SYSTEM=ACTION,...
    would silently map nothing: refused with the entry."""
    for entry in str(value or "").split(";"):
        if entry.strip() and not ACTION_ENTRY.fullmatch(entry.strip()):
            raise UsageError(f"privilege_actions entry '{entry.strip()}' is not "
                             "PRIVILEGE@SYSTEM=ACTION[,ACTION...] (PRIVILEGE may be *)")


def data_period(con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime] | None:
    """The span the logs cover (privileges and actions), its end just past the last
    event so that it counts; None when there is none."""
    ((first, last),) = con.execute(
        "SELECT min(ts), max(ts) FROM (SELECT ts FROM privileges UNION ALL "
        "SELECT ts FROM actions)").fetchall()
    if first is None:
        return None
    return first, last + timedelta(seconds=1)


def access_review(con: duckdb.DuckDBPyConnection, since: datetime | None = None,
                  until: datetime | None = None, *, reviewer: str | None = None,
                  params: Mapping[str, Any] | None = None) -> AccessReview:
    """The review of [since, until) (by default what the logs cover), for one reviewer or
    all; `params` are model parameters (else the latest run's)."""
    given = dict(latest_run_params(con) if params is None else params)
    check_privilege_actions(given.get("privilege_actions"))
    span = data_period(con)
    start = since or (span[0] if span else None)
    end = until or (span[1] if span else None)
    if start is None or end is None:
        raise UsageError("nothing to review: no privileges or actions are loaded "
                         "(auditlog ingest first), or give --since and --until")
    if start >= end:
        raise UsageError(f"--since ({start.isoformat()}) must be before --until "
                         f"({end.isoformat()})")
    install_shared_views(con, params=given)
    evidence = (STORED_EVIDENCE if evidence_is_fresh(con) else
                FINDINGS_EVIDENCE if has_table(con, "findings") else NO_EVIDENCE)
    frame = con.sql(REVIEW_SQL.format(evidence=evidence),
                    params={"since": start, "until": end}).pl()
    if reviewer is not None:
        frame = frame.filter(pl.col("reviewer") == reviewer)
    flags = pl.concat_list([pl.when(pl.col(f).is_not_null()).then(pl.lit(f)) for f in FLAGS])
    frame = frame.with_columns(flags.list.drop_nulls().alias("flags"),
                               (pl.col("uses") > 0).alias("used"))
    return AccessReview(start, end, frame)
