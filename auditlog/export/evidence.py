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
    """(finding_id, the row's columns, source_sha256, source_row) for every evidence id of
    a present finding that names a row of `kind`, ordered by finding, id and source."""
    id_column = EVIDENCE_TABLES[kind]
    findings = ("SELECT DISTINCT finding_id, unnest(evidence) AS evidence_id "
                "FROM findings WHERE present") if has_table(con, "findings") else (
        "SELECT CAST(NULL AS VARCHAR) AS finding_id, CAST(NULL AS VARCHAR) AS evidence_id "
        "LIMIT 0")
    return con.sql(f"""
        SELECT f.finding_id, t.* EXCLUDE (_file, _row, _digest),
               t._file AS source_sha256, t._row AS source_row
        FROM ({findings}) AS f
        JOIN {kind} AS t ON t.{id_column} = f.evidence_id
        ORDER BY f.finding_id, t.{id_column}, t._file, t._row""").pl()


def evidence_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    return {kind: evidence_frame(con, kind) for kind in EVIDENCE_TABLES}


@dataclass(frozen=True)
class InputFile:
    """An ingested file (by content) the export's answer rests on; a content written
    without a file (by a fixture or a tool) has no paths and no counts."""

    sha256: str
    paths: tuple[str, ...]
    kind: str | None
    rows_read: int | None
    loaded: int | None
    duplicates: int | None
    quarantined: int | None
    evidence_rows: int


def input_files(con: duckdb.DuckDBPyConnection,
                evidence: dict[str, pl.DataFrame]) -> list[InputFile]:
    """Every ingested file (by content): its SHA-256, paths, kind, counts, and how many
    evidence rows came from it. Rules ran over all of them, so all are inputs."""
    used: dict[str, int] = {}
    for frame in evidence.values():
        for sha in frame["source_sha256"].to_list():
            used[sha] = used.get(sha, 0) + 1
    rows = con.execute("""
        SELECT sha256, list(path ORDER BY path) AS paths, min(kind) AS kind,
               min(rows_read) AS rows_read, sum(loaded) AS loaded,
               sum(duplicates) AS duplicates, min(quarantined) AS quarantined
        FROM ingested_files GROUP BY sha256 ORDER BY sha256""").fetchall()
    files = [InputFile(sha, tuple(paths), kind, int(read), int(loaded), int(dups),
                       int(quarantined), used.pop(sha, 0))
             for sha, paths, kind, read, loaded, dups, quarantined in rows]
    # Rows written without a file (by a fixture or a tool): still say where they came from.
    files += [InputFile(sha, (), None, None, None, None, None, count)
              for sha, count in sorted(used.items(), key=lambda item: str(item[0]))]
    return files
