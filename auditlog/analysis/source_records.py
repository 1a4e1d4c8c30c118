"""The source records behind a trace's evidence rows: for each row (kind, id), the file
and position it was loaded from and, for a standard format, the record itself as the
file held it (ingest/kept.py says what `record` holds per source).

A trace asked `records=True` (`auditlog trace ... --records`) carries them, so a
reviewer can check an answer against what the log said, including fields no mapping
kept (CloudTrail's `additionalEventData`, a Windows event's every EventData member).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb

from auditlog.kinds import KINDS
from auditlog.textsafe import loads_written


@dataclass(frozen=True)
class SourceRecord:
    """Where one evidence row came from. `record`: the source record as parsed JSON (an
    auditd event: its lines, one string), its numbers as written (textsafe.WrittenFloat:
    a float that remembers `9.50`), None for a row of the contract's own columns
    (its row is its record); `path`: the first path its content was loaded from, None
    for rows written without a file (a fixture's)."""

    kind: str
    id: str
    file_sha256: str
    row: int
    path: str | None
    source_format: str | None
    record: Any


def source_records(con: duckdb.DuckDBPyConnection,
                   items: Iterable[tuple[str, str | None]]) -> tuple[SourceRecord, ...]:
    """The source of each (kind, id) in `items`, in their order, each once; an id no row
    of its kind holds is left out (a change an action names that the change log does
    not hold)."""
    found: list[SourceRecord] = []
    seen: set[tuple[str, str]] = set()
    for kind_name, item in items:
        if item is None or (kind_name, item) in seen:
            continue
        seen.add((kind_name, item))
        kind = KINDS[kind_name]
        rows = con.execute(
            f"""
            SELECT t._file, t._row,
                   (SELECT min(path) FROM ingested_files f WHERE f.sha256 = t._file),
                   r.source_format, CAST(r.record AS VARCHAR)
            FROM {kind.name} t
            LEFT JOIN source_records r ON r.file_sha256 = t._file AND r.row_number = t._row
            WHERE t.{kind.id_column} = $id ORDER BY t._file, t._row
            """,
            {"id": item},
        ).fetchall()
        for sha, row, path, source_format, record in rows:
            found.append(SourceRecord(kind_name, item, sha, int(row), path, source_format,
                                      None if record is None else loads_written(record)))
    return tuple(found)
