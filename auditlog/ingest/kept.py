"""The verbatim source record of every row a standard format gives (issue 12, item 4).

A standard-format row (CloudTrail, OCSF, Kubernetes, GCP, Azure, Entra, Okta, Workspace,
GitHub, Windows, auditd) is a mapping: the adapter picks the fields a kind names and puts
the rest in `extra`, or drops it. The record it came from is kept in `source_records`
(store/database.py) so that a finding can be re-derived from the store and a rule can
read a field no mapping kept (Sigma rules, which name the source's own fields). A kind
row reaches its record by `(_file, _row)` = `(file_sha256, row_number)`; the
`<kind>_with_record` views make that join.

What `record` holds, per source:
- JSON Lines: the line's text, byte for byte (without its line break);
- a JSON document's elements, OCSF in Parquet: the element as parsed JSON, written by
  DuckDB (same values and key order, whitespace not kept);
- EVTX: the record as the `evtx` package renders it (`{"Event": {...}}`);
- auditd: the event's lines, joined by a line feed, as a JSON string (so that a JSON path
  over any record gives NULL, never an error; `record ->> '$'` is the text);
- a CloudTrail record in an EventBridge envelope: the record (`detail`), the envelope
  being the row's `extra.eventbridge` (standard/cloudtrail.py);
- a record that gives several rows (a GCP entry's binding deltas, an Okta hook delivery,
  an AKS diagnostic record, a Workspace page) is kept once, the *outer* record the rows
  came from, which they share;
- a file read through a mapping file (`source_format` = `mapping:NAME`): a JSON record
  as above, a CSV record's fields as a JSON object (keep_mapped).

Not kept: rows of the contract's own columns (their row is the record), records that
could not be read (quarantine keeps their text), and records none of whose rows was
stored or shared (every row quarantined: quarantine keeps the text). A content loaded
before keeps the records of its first load (reloading adds nothing); `forget` removes a
content's records.

How: a reader or the registry hands the records it staged to `keep_docs` (a rename of
`DOCS`, no copy), `keep_events` or `keep_mapped`, and after the file's rows are stored
`store_kept` moves them into `source_records`, in the ingest's one transaction. The
table compresses `record` with zstd (store/database.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from auditlog.ingest.staging import DOCS, GROUPED, KEPT, Staged, drop
from auditlog.kinds import KINDS


def keep_docs(con: duckdb.DuckDBPyConnection) -> None:
    """The records in `DOCS`, after their adapter staged them, kept for `store_kept`
    (`DOCS` itself becomes `KEPT`: its text is not copied)."""
    drop(con, KEPT)
    con.execute(f"ALTER TABLE {DOCS} RENAME TO {KEPT}")


def keep_grouped(con: duckdb.DuckDBPyConnection, formats: dict[str, str]) -> None:
    """The records of a file that mixes formats (`GROUPED`, after each group was staged),
    those of a standard format kept with theirs (`formats`: group → source_format);
    `GROUPED` dropped."""
    drop(con, KEPT)
    con.execute(
        f"""
        CREATE TEMP TABLE {KEPT} AS
        WITH formats AS (SELECT unnest($groups) AS _target, unnest($formats) AS _format)
        SELECT g._row, g._loc, g._raw, g._bad, f._format
        FROM {GROUPED} g JOIN formats f USING (_target)
        """,
        {"groups": list(formats), "formats": list(formats.values())},
    )
    drop(con, GROUPED)


def keep_events(con: duckdb.DuckDBPyConnection, staged: Iterable[Staged]) -> None:
    """The records of staged tables whose `_raw` is text, not JSON (auditd's events: their
    lines), kept as JSON strings, once per `_row`."""
    _keep_staged(con, staged, "to_json(any_value(_raw))")


def keep_mapped(con: duckdb.DuckDBPyConnection, staged: Iterable[Staged]) -> None:
    """The records a mapping file read (tables with `_raw`: a JSON record's text, a CSV
    record's fields as a JSON object), once per `_row`; text that is not JSON (a
    salvaged line) as a JSON string."""
    _keep_staged(con, staged, "CASE WHEN json_valid(any_value(_raw)) THEN any_value(_raw) "
                              "ELSE to_json(any_value(_raw)) END")


def _keep_staged(con: duckdb.DuckDBPyConnection, staged: Iterable[Staged], record: str) -> None:
    drop(con, KEPT)
    selects = [f"SELECT _row, _raw, _bad FROM {s.table}" for s in staged]
    if not selects:
        return
    con.execute(
        f"""
        CREATE TEMP TABLE {KEPT} AS
        SELECT _row, {record} AS _raw, CAST(NULL AS VARCHAR) AS _bad
        FROM ({" UNION ALL ".join(selects)}) WHERE _bad IS NULL GROUP BY _row
        """
    )


def store_kept(con: duckdb.DuckDBPyConnection, sha256: str, kinds: Iterable[str],
               source_format: str | None) -> int:
    """The kept records of the file `sha256` whose rows were stored (in `kinds`' tables)
    or shared with another file (shared_rows: `forget` may hand the row over to this
    file), into `source_records`; `KEPT` dropped. Call after the rows are stored and
    before the file is recorded in ingested_files: a content recorded there already has
    its records. `source_format`: the adapter that read them (staging.Staged). Returns
    how many were stored."""
    if not _exists(con):
        return 0
    ((known,),) = con.execute("SELECT count(*) FROM ingested_files WHERE sha256 = $sha",
                              {"sha": sha256}).fetchall()
    stored = 0
    if not known and source_format is not None:
        rows = [f"SELECT _row FROM {KINDS[k].name} WHERE _file = $sha"
                for k in sorted(set(kinds)) if k in KINDS]
        rows.append("SELECT row_number FROM shared_rows WHERE file_sha256 = $sha")
        ((stored,),) = con.execute(
            f"""
            INSERT INTO source_records
            SELECT $sha, _row, {_format_of(con)}, _raw FROM {KEPT}
            WHERE _bad IS NULL AND _row IN ({" UNION ".join(rows)})
            ORDER BY _row
            """,
            {"sha": sha256, "format": source_format},
        ).fetchall()
    drop(con, KEPT)
    return int(stored)


def _format_of(con: duckdb.DuckDBPyConnection) -> str:
    """SQL for a kept record's source_format: its own when `KEPT` has them."""
    columns = {name for (name,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' "
        "AND table_name = $name",
        {"name": KEPT}).fetchall()}
    return "coalesce(_format, $format)" if "_format" in columns else "$format"


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    ((count,),) = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $name",
        {"name": KEPT},
    ).fetchall()
    return bool(count)
