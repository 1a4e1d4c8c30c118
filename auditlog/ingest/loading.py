"""Storing: the rows judged to load, the quarantined rows with their reasons and text,
and the record of the file (ingested_files, file_locations, naive_files, shared_rows)."""

from __future__ import annotations

import duckdb

from auditlog.ingest.check import drop_typed
from auditlog.ingest.coverage import note_stored
from auditlog.ingest.csv_lines import place_quarantined, repeated_headers
from auditlog.ingest.files import InputFile
from auditlog.ingest.readers import safe_text_sql
from auditlog.ingest.staging import CSV_LINES, TYPED, VERDICT, Staged
from auditlog.kinds import SOURCE_COLUMNS, Kind
from auditlog.store.database import NO_ZONE

__all__ = ["NO_ZONE", "record_file", "record_naive", "store_rows"]


def store_rows(
    con: duckdb.DuckDBPyConnection, kind: Kind, source: InputFile, sha256: str, staged: Staged
) -> dict[str, int]:
    columns = ", ".join(kind.column_names)
    (duplicates, conflicts, held, variants) = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE verdict = 'duplicate'),
               count(*) FILTER (WHERE verdict = 'quarantine'),
               count(*) FILTER (WHERE verdict <> 'load'),
               count(*) FILTER (WHERE variant)
        FROM {VERDICT}
        """
    ).fetchone() or (0, 0, 0, 0)
    # Rows are stored in file order: `TYPED` is in that order and a plain filtered scan
    # keeps it; when some rows are held back the anti-join may not, so it is sorted.
    held_back = (
        f"AND NOT EXISTS (SELECT 1 FROM {VERDICT} v WHERE v._row = t._row AND v._loc = t._loc "
        "AND v.verdict <> 'load')"
        if held else ""
    )
    stored = f"FROM {TYPED} t WHERE _reason IS NULL {held_back}"
    con.execute(
        f"""
        INSERT INTO {kind.name} ({columns}, {', '.join(n for n, _ in SOURCE_COLUMNS)})
        SELECT {columns}, extra, $sha, _row, _digest
        {stored} {'ORDER BY _row' if held else ''}
        """,
        {"sha": sha256},
    )
    note_stored(con, kind.name, stored)  # their hourly counts, for the stored coverage
    # Reading the same file again quarantines the same rows again: the key
    # (file content, position) makes that a no-op.
    params = {"sha": sha256, "path": source.display, "kind": kind.name}
    # A CSV record's file line and text as it was, where they can be placed (csv_lines).
    placed = place_quarantined(con, source, staged, conflicts)
    lines = f"LEFT JOIN {CSV_LINES} AS m ON m._row = t._row" if placed else ""
    at = "coalesce(m.line_loc, t._loc)" if placed else "t._loc"
    why = "coalesce(m.line_reason, t.reason)" if placed else "t.reason"

    def text(expr: str) -> str:
        return f"coalesce(m.line_text, {expr})" if placed else expr

    con.execute(
        f"""
        INSERT OR IGNORE INTO quarantine
        SELECT $sha, $path, $kind, t._row, {at}, t._reason, {text(safe_text_sql("t._raw"))},
               now()
        FROM {TYPED} AS t {lines} WHERE t._reason IS NOT NULL
        """,
        params,
    )
    if conflicts:
        # A conflict's text was not kept: it is rebuilt from the staged rows, found again
        # by position (for a lazy view, by reading the file once more).
        con.execute(
            f"""
            INSERT OR IGNORE INTO quarantine
            SELECT $sha, $path, $kind, t._row, {at}, {why},
                   {text(safe_text_sql(staged.raw))}, now()
            FROM (SELECT v._row, v._loc, v.reason, s.* EXCLUDE (_row, _loc)
                  FROM {VERDICT} v JOIN {staged.table} s USING (_row, _loc)
                  WHERE v.verdict = 'quarantine') AS t {lines}
            """,
            params,
        )
    if placed:
        con.execute(f"DROP TABLE {CSV_LINES}")
    # Rows already stored from another file, so that `forget` can hand them over; at the
    # content's first load only (a reload finds the same rows, all already recorded).
    con.execute(
        f"""
        INSERT INTO shared_rows
        SELECT $sha, $kind, id, _row, _loc,
               CASE WHEN variant THEN 'variant' WHEN verdict = 'duplicate' THEN 'duplicate'
                    ELSE 'conflict' END, stored_file
        FROM {VERDICT} WHERE shared AND stored_file <> $sha
          AND NOT EXISTS (SELECT 1 FROM ingested_files WHERE sha256 = $sha)
        """,
        {"sha": sha256, "kind": kind.name},
    )
    # Valid rows whose result the source did not know (Staged.no_default).
    unknown = ("count(*) FILTER (WHERE _reason IS NULL AND result IS NULL)"
               if "result" in staged.no_default and "result" in kind.column_names else "0")
    (rows_read, invalid, naive, dst, sub, day, unknown_results) = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _reason IS NOT NULL), "
        "coalesce(sum(_naive), 0), coalesce(sum(_dst), 0), "
        "coalesce(sum(_sub) FILTER (WHERE _reason IS NULL), 0), "
        f"coalesce(sum(_day) FILTER (WHERE _reason IS NULL), 0), {unknown} FROM {TYPED}"
    ).fetchone() or (0, 0, 0, 0, 0, 0)
    drop_typed(con)
    con.execute(f"DROP TABLE {VERDICT}")
    quarantined = invalid + conflicts
    headers, header_line = repeated_headers(con, source)
    return {"rows_read": rows_read, "loaded": rows_read - quarantined - duplicates,
            "duplicates": duplicates, "quarantined": quarantined,
            "naive_times": int(naive), "dst_resolved": int(dst), "below_microsecond": int(sub),
            "date_only": int(day), "unknown_results": int(unknown_results),
            "repeated_headers": headers, "first_header_line": header_line,
            "other_extras": int(variants)}


def record_file(
    con: duckdb.DuckDBPyConnection, source: InputFile, sha256: str, kind: str, tz: str,
    counts: dict[str, int],
) -> None:
    con.execute(
        """
        INSERT OR IGNORE INTO ingested_files
        VALUES ($sha, $path, $kind, $format, $tz, $read, $loaded, $dups, $quarantined, now())
        """,
        {
            "sha": sha256, "path": source.display, "kind": kind,
            "format": source.format + (".gz" if source.gzipped else ""), "tz": tz,
            "read": counts["rows_read"], "loaded": counts["loaded"],
            "dups": counts["duplicates"], "quarantined": counts["quarantined"],
        },
    )
    if source.label is None:  # rows handed over as data have no place on disk
        con.execute("INSERT OR REPLACE INTO file_locations VALUES ($sha, $path, $location)",
                    {"sha": sha256, "path": source.display,
                     "location": str(source.path.resolve())})


def record_naive(
    con: duckdb.DuckDBPyConnection, source: InputFile, sha256: str, counts: dict[str, int],
    *, chosen: bool,
) -> None:
    """A file with naive times: whether their zone was chosen. Naming it with --tz on a
    reload confirms an assumed zone (for every path of the content)."""
    con.execute(
        "INSERT OR IGNORE INTO naive_files SELECT $sha, $path, $naive, $dst, $chosen OR "
        "coalesce((SELECT bool_or(chosen) FROM naive_files WHERE sha256 = $sha), false)",
        {"sha": sha256, "path": source.display, "naive": counts["naive_times"],
         "dst": counts["dst_resolved"], "chosen": chosen},
    )
    if chosen:
        con.execute("UPDATE naive_files SET chosen = true WHERE sha256 = $sha AND NOT chosen",
                    {"sha": sha256})
