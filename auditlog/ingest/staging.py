"""The staging schema: the temp tables one file passes through on its way to the store.

Every temp table or view an ingest shares between its steps is named here, once, with
who writes it and who reads it; a step asks this module for a name instead of spelling
it. All are dropped here, at the end of every ingest call (`drop_all`), whatever failed.

The shape every reader leaves behind (`STAGE`, or the per-kind tables of a standard
format), so that typing and loading know nothing of formats:

    _row   BIGINT   row number: line (JSON Lines), element (JSON), record (CSV/TSV,
                    header excluded) or row (Parquet), from 1
    _loc   VARCHAR  that position in words, for messages ("line 12")
    _raw   VARCHAR  the row's original text (JSON) or its fields as a JSON object
    _bad   VARCHAR  why the row could not even be read as a row, else NULL
    c0..cN          the row's fields, one column per source column/key

`DOCS` holds JSON records before they are staged: `_row, _loc, _raw, _bad` only. A
standard-format adapter (ingest/standard/) turns it into a *mapped* table: those columns,
a `_kind` saying which kind each row maps onto, and value columns named as auditlog names
them; `split_by_kind` cuts that into one staging table per kind. Why one mapped table:
every record must land in exactly one staging table (so that loaded + duplicates +
quarantined = rows read holds), and that is easiest to see when one statement produces
them all and the split is a partition by `_kind`.

Tables an adapter needs only inside its own `stage` (its lookup tables, its mapped
table) are its own, named `_<adapter>_<what>`, and dropped by it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import duckdb

from auditlog.kinds import KINDS
from auditlog.sqltext import json_path, quote_ident, sql_string

# --- The names ------------------------------------------------------------------------

# One file's rows in the staging shape. Written by readers (a table, or for a lazy read a
# view over the file) and salvage.stage_delimited, rewritten in place by
# standard.mapping and materialize; read by validate.typed_select (as Staged.table) and,
# for a conflict's raw text, by loading.store_rows.
STAGE = "_stage"
# JSON records of one file (`_row, _loc, _raw, _bad`). Written by readers, salvage and
# pipeline.ingest_rows; read by the standard adapters and records.stage_by_keys; dropped
# once staged (sources.stage_records).
DOCS = "_docs"
# The records of `DOCS` of a file that mixes formats, each with the group (`_target`:
# an adapter's name, or sources.NATIVE) that stages it. Written by
# sources.stage_records, which hands each group to its adapter as a `DOCS` of its own;
# read and dropped by kept.keep_grouped.
GROUPED = "_docs_grouped"
# A standard format's records after their adapter staged them (`DOCS` renamed, or an
# auditd event's lines), kept for `source_records`; of a file that mixes formats, with
# each record's format (`_format`, kept.keep_grouped). Written by kept.keep_docs /
# keep_events (from sources.stage_records and the EVTX and auditd readers); read and
# dropped by kept.store_kept once the file's rows are stored.
KEPT = "_kept_records"
# The CloudWatch Logs subscription envelope each record unwrapped from one came in
# (`_row, _envelope`: the envelope less its events, with the event's id and timestamp).
# Written by cloudwatch.unwrap (from sources.stage_records); read by the CloudTrail
# adapter (its rows' `extra.cloudwatch_logs`); dropped by sources.stage_records.
CWL_ENVELOPES = "_cwl_envelopes"
# Scratch of the readers, each created and dropped within one reader call: physical
# lines of a JSON Lines file, the top-level values of a JSON document, a CSV file's
# records, and the record numbers around malformed records (rejected, then numbered).
LINES = "_lines"
TOP = "_top"
CSV = "_csv"
REJECTED = "_rejected"
RECORD_NUMBERS = "_records"
# Filled by DuckDB's CSV reader itself (its rejects_table and rejects_scan), read and
# dropped by readers.
CSV_REJECTS = "_csv_rejects"
CSV_SCANS = "_csv_scans"
# The salvage reader's line buffer (a table) and the Arrow batch it registers to fill it.
SALVAGED = "_salvaged"
SALVAGE_BATCH = "_salvage_batch"
# A lazy view copied into a table (materialize), and a mapping's rewrite of the staged
# table (standard.mapping), each renamed to the staged table's name at once.
MATERIALIZED = "_materialized"
MAPPED = "_mapped"
# An adapter's mapped table with each row's target kind (split_by_kind's scratch).
SPLIT = "_split"
# The staged rows typed, digested and checked (`_reason`). Written by check.check_rows;
# read by judge.judge and loading.store_rows. `TYPED_SCAN` is the parallel read that
# `TYPED` is then a view over (see Staged.scan).
TYPED = "_typed"
TYPED_SCAN = "_typed_scan"
# The ids of `TYPED` that are not simply new (repeated, or already stored), and the
# verdict on each of their rows. Written by judge.judge; `VERDICT` read by
# loading.store_rows.
SPECIAL = "_special"
VERDICT = "_verdict"
# The file line and text of a CSV/TSV file's quarantined records. Written by
# csv_lines.place_quarantined; read and dropped by loading.store_rows.
CSV_LINES = "_csv_lines"

# How many records of a CSV/TSV file repeat its header line and the first of them
# (`records, first`): files joined with their headers, a paginated export. Written by
# the reader that skipped them (readers, salvage, check for a lazy scan); read by
# loading.store_rows.
HEADERS = "_repeated_headers"

# Every shared name, for drop_all.
ALL = (HEADERS, STAGE, TYPED, TYPED_SCAN, VERDICT, SPECIAL, LINES, DOCS, GROUPED, TOP, CSV,
       RECORD_NUMBERS, REJECTED, MATERIALIZED, CSV_REJECTS, CSV_SCANS, KEPT, CSV_LINES,
       CWL_ENVELOPES)


def kind_table(source_format: str, kind: str) -> str:
    """The staging table of a standard format's rows of one kind (see split_by_kind)."""
    return f"_stage_{source_format}_{kind}"


# --- What a staged table is -----------------------------------------------------------

# How the c0..cN columns hold their values, which decides how they are turned into text.
ValueStyle = Literal["json", "text", "native"]

# A CSV file with more columns than this is staged as JSON rows, and of a JSON row this
# wide only the columns some kind names are staged as columns (see validate.WIDE).
WIDE = 200
CONTRACT_NAMES = frozenset(c for kind in KINDS.values() for c in kind.column_names)


@dataclass(frozen=True)
class Staged:
    """A staged table of one file: its source column names and how values are held.

    Source column names are kept apart (`columns`) because DuckDB identifiers are
    case-insensitive and a file may hold `TS` and `ts` both.

    Most files stage into one table of one (detected or named) kind. A standard format
    (CloudTrail, Kubernetes audit, OCSF) may stage into several tables, one per kind it
    maps onto, each with `kind` set.
    """

    columns: list[str]  # original source names of c0..cN
    style: ValueStyle
    table: str = STAGE
    kind: str | None = None
    source_format: str | None = None  # e.g. "cloudtrail"; None for native columns
    # SQL over `table` giving a row's raw text; for a lazy CSV view it is computed from
    # the fields, and only for the rows that are quarantined.
    raw: str = "_raw"
    # `table` is a view reading the file (see readers), not a table.
    lazy: bool = False
    # For a lazy view, the same rows unnumbered: every line or record in file order,
    # blank lines included and flagged `_blank`, without `_row` and `_loc`. Numbering
    # rows as they are read takes a serial pass (DuckDB runs a pipeline with a streaming
    # window on one thread); read this way the file is read in parallel, and a row's
    # position in the result, from 1, is its `_row`, `loc_prefix` || `_row` its `_loc`.
    scan: str | None = None
    loc_prefix: str = ""
    # Of a "json" table, the columns (indexes) that hold plain VARCHAR text, not JSON: an
    # adapter's text values are staged as they are (split_by_kind), so typing them does
    # not serialize each to JSON and parse it back.
    text_columns: frozenset[int] = frozenset()
    # Of a "native" table (Parquet), the columns (indexes) that hold TIMESTAMP WITH TIME
    # ZONE values: a timestamp column of the kind typed by them is the value itself, not
    # its text parsed back (its text is still what messages quote).
    instants: frozenset[int] = frozenset()
    # Of a lazy JSON Lines view: every line that is not blank is JSON (the probe parsed
    # each), so the typed read parses without `try` (readers._jsonl_keys).
    all_json: bool = False
    # What the file is when it is recognized but holds no events to load (a CloudTrail
    # digest file): the table has no rows and no kind, and the ingest says so (no_events
    # of pipeline.FileResult) instead of naming a kind.
    no_events: str | None = None
    # Of a "json" table: c0..cN are the top-level members of each row's `_raw`, the
    # verbatim JSON text of the row, by the keys in `columns` (JSON Lines, JSON
    # documents, rows given as data; not an adapter's or a mapping's values), and some
    # row has a member that is a number DuckDB writes back otherwise than it may be
    # written (numbers.MEMBER): typing reads those numbers from `_raw` (numbers.py).
    written_numbers: bool = False
    # Of a lazy CSV/TSV view: a query giving (records, first) of the records that repeat
    # its header (readers.header_test), which its numbered view leaves out and its
    # `scan` flags `_blank` (no record, as a blank line is none); either way they keep
    # their record number, and check.check_rows notes them in `HEADERS`.
    headers: str | None = None
    # Of an adapter's table: contract columns whose missing value means the source does
    # not know it (a Kubernetes request logged only when received has no outcome), so
    # the kind's default (`result` success) must not fill it: it is stored as NULL.
    no_default: frozenset[str] = frozenset()


def note_headers(con: duckdb.DuckDBPyConnection, records: int, first: int | None) -> None:
    """`HEADERS` for the file being read: `records` repeated header lines, the first
    at record `first`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {HEADERS} AS SELECT $n::BIGINT AS records, "
                "$first::BIGINT AS first", {"n": records, "first": first})


@dataclass(frozen=True)
class Records:
    """What a reader gives back for JSON records: they are in `DOCS`, for the registry
    (sources.stage_records) to hand to the adapter of their format, or to stage by their
    keys."""


IN_DOCS = Records()


# --- Creating and dropping ------------------------------------------------------------


def drop(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Drop the staging tables or views `names`, those there are. (Asked of the catalog
    first: a failed DROP would abort the ingest's transaction.)"""
    views = {
        name
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() "
            "WHERE temporary AND list_contains($names, view_name)",
            {"names": list(names)},
        ).fetchall()
    }
    for name in names:
        kind = "VIEW" if name in views else "TABLE"
        con.execute(f"DROP {kind} IF EXISTS {quote_ident(name)}")


def replace_docs(con: duckdb.DuckDBPyConnection,
                 decoded: list[tuple[str | None, str | None, int, str]]) -> None:
    """Each `(text, reason, _row, _loc)` of `DOCS` rewritten: a wrapped record replaced
    by the text it carries, or kept as it was and quarantined for `reason` (awslogs.py,
    pubsub.py)."""
    con.executemany(
        f"UPDATE {DOCS} SET _raw = coalesce(?, _raw), _bad = ? WHERE _row = ? AND _loc = ?",
        decoded)


def drop_all(con: duckdb.DuckDBPyConnection) -> None:
    """Every shared staging table or view, at the end of an ingest call. (After a failed
    call the connection may refuse statements until rolled back; nothing is left then.)"""
    try:
        drop(con, *ALL)
    except duckdb.Error:
        pass


def materialize(con: duckdb.DuckDBPyConnection, staged: Staged) -> Staged:
    """A lazy view as a table with a `_raw` column, for steps that rewrite the staging
    table in place (a mapping)."""
    if not staged.lazy:
        return staged
    columns = "".join(f", c{i}" for i in range(len(staged.columns)))
    con.execute(
        f"""
        CREATE TEMP TABLE {MATERIALIZED} AS
        SELECT _row, _loc, {staged.raw} AS _raw, _bad{columns} FROM {staged.table}
        """
    )
    drop(con, staged.table)
    con.execute(f"ALTER TABLE {MATERIALIZED} RENAME TO {quote_ident(staged.table)}")
    return Staged(columns=staged.columns, style=staged.style, table=staged.table,
                  kind=staged.kind, source_format=staged.source_format,
                  text_columns=staged.text_columns)


def unnumbered(staged: Staged) -> Staged:
    """The same staged table read through its numbered view, not its parallel scan."""
    return replace(staged, scan=None)


# --- What standard-format adapters share ------------------------------------------------


def extract(paths: dict[str, str], source: str = DOCS) -> str:
    """SELECT over `source` adding one JSON column per `name: path`.

    `json_extract` with a list of paths parses each record once for all of them, which
    is what keeps million-record files fast; per-field `->` would parse once per field.
    """
    listed = "[" + ", ".join(sql_string(p) for p in paths.values()) + "]"
    fields = ",\n  ".join(f"_v[{i + 1}] AS {name}" for i, name in enumerate(paths))
    return (
        f"SELECT _row, _loc, _raw, _bad,\n  {fields}\n"
        f"FROM (SELECT *, CASE WHEN _bad IS NULL THEN json_extract(_raw, {listed}) END AS _v "
        f"FROM {source})"
    )


def key(name: str) -> str:
    """JSON path of a top-level key, quoted (keys such as `@timestamp` need it)."""
    return json_path(name)


def text(column: str) -> str:
    """SQL for a JSON column's value as trimmed text; NULL for null, missing or ''."""
    return f"nullif(trim({column} ->> '$'), '')"


def split_by_kind(
    con: duckdb.DuckDBPyConnection,
    mapped: str,
    source_format: str,
    columns: dict[str, list[str]],
    default_kind: str,
) -> list[Staged]:
    """Cut `mapped` into `kind_table(format, kind)` tables, one per kind in `columns`
    (kind → the value columns it takes, in order). A kind with no rows gets no table,
    except `default_kind`, so an adapter always stages something. Rows whose `_kind` is
    not in `columns` go to `default_kind`: nothing is lost."""
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {mapped})").fetchall())
    listed = ", ".join(sql_string(k) for k in columns)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {SPLIT} AS
        SELECT *, CASE WHEN _kind IN ({listed}) THEN _kind ELSE $default END AS _target
        FROM {mapped}
        """,
        {"default": default_kind},
    )
    counts = dict(con.execute(f"SELECT _target, count(*) FROM {SPLIT} GROUP BY ALL").fetchall())
    staged: list[Staged] = []
    for kind, names in columns.items():
        if not counts.get(kind) and kind != default_kind:
            continue
        table = kind_table(source_format, kind)
        values = "".join(
            f",\n  {_as_json(n, types[n])} AS c{i}" for i, n in enumerate(names)
        )
        texts = frozenset(i for i, n in enumerate(names) if types[n] == "VARCHAR")
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT _row, _loc, _raw, _bad{values}
            FROM {SPLIT} WHERE _target = $kind ORDER BY _row, _loc
            """,
            {"kind": kind},
        )
        staged.append(Staged(columns=names, style="json", table=table, kind=kind,
                             source_format=source_format, text_columns=texts))
    con.execute(f"DROP TABLE {SPLIT}")
    con.execute(f"DROP TABLE {mapped}")
    return staged


def _as_json(name: str, sql_type: str) -> str:
    column = quote_ident(name)
    # JSON and text stay as they are (text is read as text, see Staged.text_columns);
    # numbers and booleans become JSON numbers and booleans in `extra`.
    return column if sql_type in ("JSON", "VARCHAR") else f"to_json({column})"
