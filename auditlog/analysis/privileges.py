"""Who held what at any moment: the privilege intervals (queries/shared/
privilege_intervals.sql, where what counts as holding is defined once) held at an
instant, or overlapping a window, for an account, a privilege or a system.

The answer is a typed record (`Holdings`) with the total before the cut. Every filter is
a bound parameter. A privilege recorded without a system applies to every system, so a
`system` filter keeps it too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import duckdb

from auditlog.engines.sandbox import install_shared_views
from auditlog.errors import UsageError
from auditlog.values import as_json


@dataclass(frozen=True)
class PrivilegeInterval:
    """One stretch of time in which `account` held `privilege` on `system` (None: on
    any system), with the grant that gave it and what ended it (None: still held)."""

    account: str
    privilege: str
    system: str | None
    held_from: datetime
    ended_at: datetime | None
    end_reason: str | None  # revoked, expired, account_disabled
    end_event_id: str | None  # the revocation, binding delete or disabling action
    start_reason: str  # granted, account_enabled
    granted_at: datetime
    grant_event_id: str
    granter: str | None
    approver: str | None
    ticket: str | None
    expires_at: datetime | None
    grants: int  # grants merged into the interval (regrants while held)
    last_grant_event_id: str
    source_format: str  # native, or the standard adapter (cloudtrail, k8s, ...)
    carries_approval: bool  # False: the source has no place for a ticket or approver


COLUMNS = tuple(f.name for f in fields(PrivilegeInterval))


@dataclass(frozen=True)
class Holdings:
    """The intervals held at `as_of`, or overlapping [since, until); `total` before the
    cut to `limit`."""

    as_of: datetime | None
    since: datetime | None
    until: datetime | None
    total: int
    intervals: tuple[PrivilegeInterval, ...]

    def as_json(self) -> dict[str, Any]:
        return {"as_of": as_json(self.as_of),
                "between": None if self.since is None else as_json([self.since, self.until]),
                "total": self.total, "shown": len(self.intervals),
                "intervals": as_json(self.intervals)}


HELD_SQL = f"""
    WITH picked AS (
        SELECT {', '.join(COLUMNS)}
        FROM privilege_intervals
        -- An instant t is held_from <= t < ended_at; a window [t1, t2) overlaps an
        -- interval that starts before t2 and ends after t1.
        WHERE (held_from < $window_end OR ($instant AND held_from = $window_end))
          AND (ended_at IS NULL OR ended_at > $window_start)
          AND ($account IS NULL OR account = $account)
          AND ($privilege IS NULL OR privilege = $privilege)
          AND ($system IS NULL OR system IS NULL OR system = $system))
    SELECT *, count(*) OVER () AS total FROM picked
    ORDER BY account, privilege, system NULLS FIRST, held_from, grant_event_id
    LIMIT $limit"""


def check_window(as_of: datetime | None, between: tuple[datetime, datetime] | None,
                 limit: int | None) -> None:
    if (as_of is None) == (between is None):
        raise UsageError("give either {as_of} T or {between} T1 T2 (one of them)",
                         arguments=("as_of", "between"))
    if between is not None and between[1] <= between[0]:
        raise UsageError("{between}: the second time is not after the first",
                         arguments=("between",))
    if limit is not None and limit < 0:
        raise UsageError(f"{{limit}} {limit} is negative", arguments=("limit",))


def privileges_held(con: duckdb.DuckDBPyConnection, *, as_of: datetime | None = None,
                    between: tuple[datetime, datetime] | None = None,
                    account: str | None = None, privilege: str | None = None,
                    system: str | None = None, limit: int | None = None) -> Holdings:
    """The privileges held at instant `as_of` (held_from <= as_of < ended_at), or the
    intervals overlapping [between[0], between[1]); by account, privilege, system."""
    check_window(as_of, between, limit)
    install_shared_views(con)
    start, end = (as_of, as_of) if between is None else between
    params = {"window_start": start, "window_end": end, "instant": between is None,
              "account": account, "privilege": privilege, "system": system}
    rows = con.execute(HELD_SQL, {**params,
                                  "limit": 2**62 if limit is None else limit}).fetchall()
    total = rows[0][-1] if rows else 0
    if not rows and limit == 0:  # the count rides on the rows; with none asked, count
        total = len(con.execute(HELD_SQL, {**params, "limit": 2**62}).fetchall())
    return Holdings(as_of=as_of, since=None if between is None else between[0],
                    until=None if between is None else between[1], total=total,
                    intervals=tuple(PrivilegeInterval(*row[:-1]) for row in rows))
