"""Triage with a memory: who set which status and note on a finding, and when.

The findings table keeps a finding's current status and note (findings.merge carries
them across runs); `triage_log` keeps every decision, so `findings show` can answer who
called a finding a false positive, and when. Bulk triage (`triage_findings`) sets many
findings at once, chosen by a filter, in one transaction: all of them or none.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from auditlog import store
from auditlog.analysis.findings import (
    STATUSES,
    FindingFilter,
    ensure_tables,
    filter_sql,
    has_table,
)
from auditlog.errors import UsageError
from auditlog.pack.severity import SEVERITIES

TRIAGE_LOG_DDL = """
CREATE TABLE IF NOT EXISTS triage_log (
    finding_id VARCHAR NOT NULL, triaged_at TIMESTAMPTZ NOT NULL, triaged_by VARCHAR NOT NULL,
    status VARCHAR NOT NULL, note VARCHAR
)"""


@dataclass(frozen=True)
class TriageEntry:
    """One decision on a finding."""

    finding_id: str
    at: datetime
    by: str
    status: str
    note: str | None


@dataclass(frozen=True)
class TriageResult:
    """What a (bulk) triage set, or would set with `dry_run`: the findings' ids."""

    status: str
    note: str | None
    by: str
    at: datetime
    finding_ids: tuple[str, ...]
    dry_run: bool = False


def current_user() -> str:
    """Who triages: $AUDITLOG_USER when set (a shared service account can say who is
    behind it), else the login name; 'unknown' when the system cannot tell."""
    named = os.environ.get("AUDITLOG_USER", "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise UsageError(f"unknown status '{status}'; use one of: {', '.join(STATUSES)}")


# Checks made on the triage's own connection before anything is chosen (a run exists,
# the rules named were run, an id prefix names one finding): the ids to keep to, or
# None for no such limit. On the writer's connection, so a triage never reads a
# snapshot of the database that another writer left.
Prepare = Callable[[duckdb.DuckDBPyConnection], Sequence[str] | None]


def triage_findings(db_path: Path | str, flt: FindingFilter, status: str, note: str | None,
                    *, prepare: Prepare | None = None, by: str | None = None,
                    dry_run: bool = False) -> TriageResult:
    """Set `status` (and `note`, when given) on every finding matching `flt` (and the
    ids `prepare` keeps to), each decision logged with `by` and the time. With
    `dry_run`, nothing is written: the result names what would be set."""
    check_status(status)
    if flt.status is not None:
        check_status(flt.status)
    if flt.severity is not None and flt.severity not in SEVERITIES:
        raise UsageError(f"unknown severity '{flt.severity}'; use one of: {', '.join(SEVERITIES)}")
    who = by or current_user()
    now = datetime.now(UTC)
    con = store.connect(db_path, read_only=dry_run, snapshot=False)
    try:
        ids = prepare(con) if prepare is not None else None
        if not has_table(con, "findings"):
            return TriageResult(status, note, who, now, (), dry_run)
        where, args = filter_sql(flt)
        if ids is not None:
            where.append("finding_id IN (SELECT unnest(?))")
            args.append(list(ids))
        chosen = tuple(r[0] for r in con.execute(
            f"SELECT finding_id FROM findings WHERE {' AND '.join(where)} ORDER BY finding_id",
            args).fetchall())
        if not dry_run and chosen:
            record(con, chosen, status, note, who, now)
    finally:
        con.close()
    return TriageResult(status, note, who, now, chosen, dry_run)


def record(con: duckdb.DuckDBPyConnection, finding_ids: Sequence[str], status: str,
           note: str | None, by: str, at: datetime) -> None:
    """The findings' new status and note, and one log entry each, in one transaction."""
    ensure_tables(con)
    con.execute(TRIAGE_LOG_DDL)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE findings SET status = ?, note = coalesce(?, note) "
                    "WHERE finding_id IN (SELECT unnest(?))", [status, note, list(finding_ids)])
        con.execute("INSERT INTO triage_log SELECT unnest(?), ?, ?, ?, ?",
                    [list(finding_ids), at, by, status, note])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def triage_history(con: duckdb.DuckDBPyConnection, finding_id: str) -> list[TriageEntry]:
    """Every decision on the finding, oldest first."""
    if not has_table(con, "triage_log"):
        return []
    rows = con.execute("SELECT finding_id, triaged_at, triaged_by, status, note "
                       "FROM triage_log WHERE finding_id = ? ORDER BY triaged_at, status",
                       [finding_id]).fetchall()
    return [TriageEntry(*row) for row in rows]
