"""The report's "permissions to harden": the privileges held in the period the logs cover
that the access review flags (a grant without ticket or approval, self-granted, held
while disabled, a separation-of-duties conflict, used in a finding, never used), each with
the reasons it reads. One source of truth: the review's flags (analysis/access_review.py
over queries/shared/privilege_review.sql and privilege_intervals.sql), never recomputed
here, so the report and `auditlog review access` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from auditlog.analysis.access_review import FLAGS, access_review
from auditlog.errors import UsageError
from auditlog.report.model import HardenPermission

# Flags that call for a change of the grant itself come before "unused" (only a candidate
# for removal) and "in_finding" alone (the finding says what to do).
URGENT = ("held_when_disabled", "self_granted", "granter_approved", "no_approval",
          "deploy_and_approve", "self_approved")


def permissions_to_harden(con: duckdb.DuckDBPyConnection,
                          accounts: Sequence[str] | None = None) -> tuple[HardenPermission, ...]:
    """The flagged privileges of the period the logs cover, the most urgent first; only
    those of `accounts` when given (a report scoped to one change)."""
    try:
        review = access_review(con)
    except UsageError:  # no privileges or actions loaded: nothing to harden
        return ()
    items = []
    for row in review.rows.iter_rows(named=True):
        if not row["flags"] or (accounts is not None and row["account"] not in accounts):
            continue
        reasons = tuple(f"{flag}: {row[flag]}" for flag in FLAGS if row.get(flag))
        items.append(HardenPermission(
            account=row["account"], privilege=row["privilege"], system=row["system"],
            reviewer=row["reviewer"], held_from=row["held_from"],
            held_until=row["held_until"], flags=tuple(row["flags"]), reasons=reasons))
    items.sort(key=lambda h: (-sum(f in URGENT for f in h.flags), "in_finding" not in h.flags,
                              h.account, h.privilege, h.system or ""))
    return tuple(items)
