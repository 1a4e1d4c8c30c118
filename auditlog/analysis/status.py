"""What the database holds: per kind its rows and time range, files, quarantine, and
its coverage (per source system, missing kinds and gaps: coverage.py).

`database_status` answers with typed records; `as_json()` is the contract's status
document (status --format json)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from auditlog.ingest.coverage import Coverage, coverage
from auditlog.kinds import KINDS
from auditlog.store.attribution import table_exists
from auditlog.store.database import NO_ZONE
from auditlog.values import as_json


@dataclass(frozen=True)
class KindStatus:
    """One kind's table: its rows, their time range, and its quarantined lines."""

    rows: int
    first: datetime | None
    last: datetime | None
    quarantined: int


@dataclass(frozen=True)
class IngestedFile:
    """One ingested file. `tz` is the zone its naive times were read in (None when it had
    none); `tz_assumed` says nobody chose it (ingest without --tz)."""

    path: str
    kind: str
    format: str
    sha256: str
    tz: str | None
    tz_assumed: bool
    rows_read: int
    loaded: int
    duplicates: int
    quarantined: int
    ingested_at: datetime | None


@dataclass(frozen=True)
class DatabaseStatus:
    kinds: dict[str, KindStatus]
    quarantined: int
    files: tuple[IngestedFile, ...]
    coverage: Coverage

    def as_json(self) -> dict[str, Any]:
        return {"kinds": as_json(self.kinds), "quarantined": self.quarantined,
                "files": as_json(self.files), "coverage": self.coverage.as_dict()}


def database_status(con: duckdb.DuckDBPyConnection) -> DatabaseStatus:
    # One round trip for every kind's rows, time range and quarantined lines (eleven
    # queries before: start time, issue 14).
    counted: dict[str, tuple[int, datetime | None, datetime | None]] = {}
    refused: dict[str, int] = {}
    for part, kind_name, count, first, last in con.execute(_KINDS_SQL).fetchall():
        if part == "rows":
            counted[kind_name] = (count, first, last)
        else:
            refused[kind_name] = count
    kinds = {kind: KindStatus(*counted[kind], refused.get(kind, 0)) for kind in KINDS}
    files = tuple(
        IngestedFile(path, kind, fmt, sha, None if tz == NO_ZONE else tz, assumed, read,
                     loaded, dups, quarantined, at)
        for sha, path, kind, fmt, tz, read, loaded, dups, quarantined, at, assumed
        in con.execute(_FILES_SQL if _has_naive_files(con) else _FILES_SQL_BEFORE).fetchall()
    )
    return DatabaseStatus(kinds, sum(refused.values()), files, coverage(con))


def _kinds_sql() -> str:
    """Rows ('rows', kind, count, first, last) of each kind's table, its time column's
    range, and ('quarantined', kind, lines, NULL, NULL) of the quarantine, in no order.
    A UNION ALL of aggregates: the cross join of one-row subqueries it replaced took
    about twice the CPU to plan and run (status start, issue 14)."""
    scans = [f"SELECT 'rows' AS part, '{kind.name}' AS kind, count(*) AS n, "
             f"min({kind.time_column}) AS first, max({kind.time_column}) AS last "
             f"FROM {kind.name}" for kind in KINDS.values()]
    return " UNION ALL ".join(
        [*scans, "SELECT 'quarantined', kind, count(*), NULL, NULL FROM quarantine GROUP BY kind"])


_KINDS_SQL = _kinds_sql()
_FILES_SQL = """
    SELECT f.*, coalesce(NOT n.chosen, false) FROM ingested_files f
    LEFT JOIN naive_files n USING (sha256, path) ORDER BY f.ingested_at, f.path"""
# A database from before naive_files (opened read-only, so not migrated): nothing known.
_FILES_SQL_BEFORE = "SELECT *, false FROM ingested_files ORDER BY ingested_at, path"


def _has_naive_files(con: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(con, "naive_files")  # the catalog read once per open (catalog.py)


@dataclass(frozen=True)
class QuarantinedRow:
    """A line ingest refused: where it was, why, and its raw text."""

    path: str
    sha256: str
    kind: str
    row_number: int | None
    location: str | None
    reason: str
    raw: str | None
    ingested_at: datetime | None


def quarantined_rows(
    con: duckdb.DuckDBPyConnection, *, path: str | None = None, limit: int | None = None
) -> list[QuarantinedRow]:
    rows = con.execute(
        """
        SELECT path, file_sha256, kind, row_number, location, reason, raw, ingested_at
        FROM quarantine
        WHERE $path IS NULL OR path = $path
        ORDER BY ingested_at, path, row_number NULLS LAST, location
        LIMIT $limit
        """,
        {"path": path, "limit": limit if limit is not None else 2**62},
    ).fetchall()
    return [QuarantinedRow(*row) for row in rows]


def quarantined_count(con: duckdb.DuckDBPyConnection, *, path: str | None = None) -> int:
    """How many rows are quarantined (from `path`, as ingested), so a page of them can
    say what it leaves out."""
    row = con.execute("SELECT count(*) FROM quarantine WHERE $path IS NULL OR path = $path",
                      {"path": path}).fetchone()
    return int(row[0]) if row else 0
