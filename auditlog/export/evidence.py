"""The rows behind the findings: for each present finding, every stored action,
privilege event, change and charge its evidence names, with the finding's id; and the
input files those rows came from."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from auditlog.analysis.findings import has_table

# Evidence ids name rows of these tables, by these id columns.
EVIDENCE_TABLES = {"actions": "event_id", "privileges": "event_id", "changes": "change_id",
                   "charges": "charge_id"}


def evidence_frame(con: duckdb.DuckDBPyConnection, kind: str) -> pl.DataFrame:
    """(finding_id, the row's columns, source_sha256, source_row, source_format,
    source_record) for every evidence id of a present finding that names a row of `kind`,
    ordered by finding, id and source. `source_record` is the row's verbatim source
    record as JSON text (ingest/kept.py), NULL for a row of the contract's own columns."""
    id_column = EVIDENCE_TABLES[kind]
    findings = ("SELECT DISTINCT finding_id, unnest(evidence) AS evidence_id "
                "FROM findings WHERE present") if has_table(con, "findings") else (
        "SELECT CAST(NULL AS VARCHAR) AS finding_id, CAST(NULL AS VARCHAR) AS evidence_id "
        "LIMIT 0")
    return con.sql(f"""
        SELECT f.finding_id, t.* EXCLUDE (_file, _row, _digest),
               t._file AS source_sha256, t._row AS source_row,
               r.source_format, CAST(r.record AS VARCHAR) AS source_record
        FROM ({findings}) AS f
        JOIN {kind} AS t ON t.{id_column} = f.evidence_id
        LEFT JOIN source_records AS r ON r.file_sha256 = t._file AND r.row_number = t._row
        ORDER BY f.finding_id, t.{id_column}, t._file, t._row""").pl()


def evidence_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    return {kind: evidence_frame(con, kind) for kind in EVIDENCE_TABLES}


@dataclass(frozen=True)
class InputFile:
    """An ingested file (by content) the export's answer rests on; a content written
    without a file (by a fixture or a tool) has no paths and no counts."""

    sha256: str
    paths: tuple[str, ...]  # as ingest was given them (relative to where it ran)
    kind: str | None
    rows_read: int | None
    loaded: int | None
    duplicates: int | None
    quarantined: int | None
    evidence_rows: int
    # Where each path was on disk when loaded (absolute), in the order of `paths`, so
    # `verify --inputs` finds them from any directory; none for a database that predates
    # file_locations.
    locations: tuple[str | None, ...] = ()


def input_files(con: duckdb.DuckDBPyConnection,
                evidence: dict[str, pl.DataFrame]) -> list[InputFile]:
    """Every ingested file (by content): its SHA-256, paths, kind, counts, and how many
    evidence rows came from it. Rules ran over all of them, so all are inputs."""
    used: dict[str, int] = {}
    for frame in evidence.values():
        for sha in frame["source_sha256"].to_list():
            used[sha] = used.get(sha, 0) + 1
    located = has_table(con, "file_locations")
    location = "l.location" if located else "CAST(NULL AS VARCHAR)"
    join = ("LEFT JOIN file_locations AS l ON l.sha256 = f.sha256 AND l.path = f.path"
            if located else "")
    rows = con.execute(f"""
        SELECT f.sha256, list(f.path ORDER BY f.path) AS paths, min(f.kind) AS kind,
               min(f.rows_read) AS rows_read, sum(f.loaded) AS loaded,
               sum(f.duplicates) AS duplicates, min(f.quarantined) AS quarantined,
               list({location} ORDER BY f.path) AS locations
        FROM ingested_files AS f {join} GROUP BY f.sha256 ORDER BY f.sha256""").fetchall()
    files = [InputFile(sha, tuple(paths), kind, int(read), int(loaded), int(dups),
                       int(quarantined), used.pop(sha, 0),
                       tuple(places) if any(places) else ())
             for sha, paths, kind, read, loaded, dups, quarantined, places in rows]
    # Rows written without a file (by a fixture or a tool): still say where they came from.
    files += [InputFile(sha, (), None, None, None, None, None, count)
              for sha, count in sorted(used.items(), key=lambda item: str(item[0]))]
    return files
