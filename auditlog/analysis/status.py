"""What the database holds: per kind its rows and time range, files, quarantine, and
its coverage (per source system, missing kinds and gaps: coverage.py)."""

from __future__ import annotations

from typing import Any

import duckdb

from auditlog.ingest.coverage import coverage
from auditlog.ingest.pipeline import NO_ZONE
from auditlog.kinds import KINDS
from auditlog.values import iso_utc


def database_status(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for kind in KINDS.values():
        column = kind.time_column
        rows, first, last = con.execute(
            f"SELECT count(*), min({column}), max({column}) FROM {kind.name}"
        ).fetchone() or (0, None, None)
        (quarantined,) = con.execute(
            "SELECT count(*) FROM quarantine WHERE kind = $kind", {"kind": kind.name}
        ).fetchone() or (0,)
        kinds[kind.name] = {
            "rows": rows,
            "first": iso_utc(first),
            "last": iso_utc(last),
            "quarantined": quarantined,
        }
    files = [
        {
            # The zone the file's naive times were read in (null when it had none), and
            # whether nobody chose it (ingest without --tz).
            "path": path, "kind": kind, "format": fmt, "sha256": sha,
            "tz": None if tz == NO_ZONE else tz, "tz_assumed": assumed,
            "rows_read": read, "loaded": loaded, "duplicates": dups,
            "quarantined": quarantined, "ingested_at": iso_utc(at),
        }
        for sha, path, kind, fmt, tz, read, loaded, dups, quarantined, at, assumed
        in con.execute(_FILES_SQL if _has_naive_files(con) else _FILES_SQL_BEFORE).fetchall()
    ]
    (quarantined_total,) = con.execute("SELECT count(*) FROM quarantine").fetchone() or (0,)
    return {"kinds": kinds, "quarantined": quarantined_total, "files": files,
            "coverage": coverage(con).as_dict()}


_FILES_SQL = """
    SELECT f.*, coalesce(NOT n.chosen, false) FROM ingested_files f
    LEFT JOIN naive_files n USING (sha256, path) ORDER BY f.ingested_at, f.path"""
# A database from before naive_files (opened read-only, so not migrated): nothing known.
_FILES_SQL_BEFORE = "SELECT *, false FROM ingested_files ORDER BY ingested_at, path"


def _has_naive_files(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                       "'naive_files' AND table_schema = 'main'").fetchall() == [(1,)]


def quarantined_rows(
    con: duckdb.DuckDBPyConnection, *, path: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
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
    return [
        {
            "path": p, "sha256": sha, "kind": kind, "row_number": row, "location": loc,
            "reason": reason, "raw": raw, "ingested_at": iso_utc(at),
        }
        for p, sha, kind, row, loc, reason, raw, at in rows
    ]
