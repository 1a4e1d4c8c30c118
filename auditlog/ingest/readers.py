"""Readers: one input file → the staging table `_stage`, one row per input row.

Every reader leaves the same shape behind, so validation and loading know nothing of
formats:

    _row   BIGINT   row number: line (JSON Lines), element (JSON), record (CSV/TSV,
                    header excluded) or row (Parquet), from 1
    _loc   VARCHAR  that position in words, for messages ("line 12")
    _raw   VARCHAR  the row's original text (JSON) or its fields as a JSON object
    _bad   VARCHAR  why the row could not even be read as a row, else NULL
    c0..cN          the row's fields, one column per source column/key

Source column names are kept apart (`Staged.columns`) because DuckDB identifiers are
case-insensitive and a file may hold `TS` and `ts` both. All work is done by DuckDB's own
readers; Python never touches a row, which is what keeps 10M-row loads fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import duckdb

from auditlog.errors import InputError
from auditlog.ingest.files import InputFile
from auditlog.ingest.standard import stage_standard
from auditlog.store import first_line

# How the c0..cN columns hold their values, which decides how they are turned into text.
ValueStyle = Literal["json", "text", "native"]

# JSON documents and lines can be large; DuckDB's defaults (16 MB object, 2 MB line)
# would reject real CloudTrail digests.
MAX_JSON_BYTES = 1 << 30
MAX_LINE_BYTES = 1 << 26


@dataclass(frozen=True)
class Staged:
    """A staged table of one file: its source column names and how values are held.

    Most files stage into one table of one (detected or named) kind. A standard format
    (CloudTrail, Kubernetes audit, OCSF) may stage into several tables, one per kind it
    maps onto, each with `kind` set.
    """

    columns: list[str]  # original source names of c0..cN
    style: ValueStyle
    table: str = "_stage"
    kind: str | None = None
    source_format: str | None = None  # e.g. "cloudtrail"; None for native columns


def stage(con: duckdb.DuckDBPyConnection, source: InputFile) -> list[Staged]:
    """Read `source` into staging tables. Raises InputError when the file cannot be read."""
    con.execute("DROP TABLE IF EXISTS _stage")
    reader = {
        "jsonl": _stage_jsonl,
        "json": _stage_json,
        "csv": _stage_csv,
        "tsv": _stage_csv,
        "parquet": _stage_parquet,
    }[source.format]
    try:
        staged = reader(con, source)
        return staged if isinstance(staged, list) else [staged]
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # What DuckDB's readers raise for a file that is not what its name says. Other
        # errors (a binder error, say) are auditlog's own bugs and must not pass for bad
        # input.
        raise InputError(
            f"cannot read as {source.format}{' (gzip)' if source.gzipped else ''}: "
            f"{_explain(exc)}",
            source=source.display,
        ) from None


def _explain(exc: duckdb.Error) -> str:
    text = str(exc)
    if "GZIP" in text or "gzip" in text:
        return "the gzip stream is truncated or corrupt"
    if "unicode" in text.lower() or "utf-8" in text.lower() or "encoding" in text.lower():
        return "the text is not valid UTF-8"
    return first_line(exc).removeprefix("Invalid Input Error: ")


def _ident(i: int) -> str:
    return f"c{i}"


# --- JSON Lines -------------------------------------------------------------------


def _stage_jsonl(con: duckdb.DuckDBPyConnection, source: InputFile) -> list[Staged]:
    # Read physical lines with the CSV reader in one-column mode: it streams, handles
    # gzip, keeps blank lines (so row numbers are line numbers) and fails loudly on bad
    # UTF-8. NUL cannot occur in valid JSON text, so it is a safe "never" delimiter.
    con.execute(
        """
        CREATE TEMP TABLE _lines AS
        SELECT row_number() OVER () AS _row, raw AS _raw
        FROM read_csv($path, columns = {'raw': 'VARCHAR'}, header = false,
                      delim = chr(0), quote = '', escape = '', auto_detect = false,
                      max_line_size = $max_line, compression = $compression)
        """,
        {"path": str(source.path), "max_line": MAX_LINE_BYTES,
         "compression": "gzip" if source.gzipped else "none"},
    )
    con.execute(
        """
        CREATE TEMP TABLE _docs AS
        SELECT _row, 'line ' || _row AS _loc, _raw,
               CASE WHEN NOT json_valid(_raw) THEN 'not valid JSON'
                    WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
        FROM _lines WHERE trim(coalesce(_raw, '')) <> ''
        """
    )
    con.execute("DROP TABLE _lines")
    return _stage_from_docs(con)


# --- JSON documents -----------------------------------------------------------------


def _stage_json(con: duckdb.DuckDBPyConnection, source: InputFile) -> list[Staged]:
    # A .json file is an array of rows, or an object whose Records/records/events member
    # is that array (CloudTrail, many SIEM exports). Several top-level values are read as
    # consecutive rows, as a lenient reader of mislabelled JSON Lines would.
    con.execute(
        """
        CREATE TEMP TABLE _top AS
        SELECT row_number() OVER () AS n, json AS doc
        FROM read_json_objects($path, format = 'auto', maximum_object_size = $max,
                               compression = $compression)
        """,
        {"path": str(source.path), "max": MAX_JSON_BYTES,
         "compression": "gzip" if source.gzipped else "none"},
    )
    (count,) = con.execute("SELECT count(*) FROM _top").fetchone() or (0,)
    if count == 1:
        member = con.execute(
            """
            SELECT CASE
              WHEN json_type(doc) = 'ARRAY' THEN '$'
              WHEN json_type(doc -> '$.Records') = 'ARRAY' THEN '$.Records'
              WHEN json_type(doc -> '$.records') = 'ARRAY' THEN '$.records'
              WHEN json_type(doc -> '$.events') = 'ARRAY' THEN '$.events'
            END FROM _top
            """
        ).fetchone()
        path = member[0] if member else None
    else:
        path = None
    if path is not None:
        con.execute(
            f"""
            CREATE TEMP TABLE _docs AS
            WITH elements AS (
              SELECT unnest(json_extract(doc, '{path}[*]')) AS _raw,
                     unnest(range(1, CAST(json_array_length(doc, '{path}') AS BIGINT) + 1)) AS _row
              FROM _top)
            SELECT _row, 'element ' || _row AS _loc, CAST(_raw AS VARCHAR) AS _raw,
                   CASE WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
            FROM elements
            """
        )
    else:
        con.execute(
            """
            CREATE TEMP TABLE _docs AS
            SELECT n AS _row, 'value ' || n AS _loc, CAST(doc AS VARCHAR) AS _raw,
                   CASE WHEN json_type(doc) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
            FROM _top
            """
        )
    con.execute("DROP TABLE _top")
    return _stage_from_docs(con)


def _stage_from_docs(con: duckdb.DuckDBPyConnection) -> list[Staged]:
    """`_docs(_row, _loc, _raw, _bad)` of JSON objects → `_stage` with one column a key,
    or, for a standard format, the staging tables its adapter makes."""
    keys = [
        k
        for (k,) in con.execute(
            """
            SELECT DISTINCT unnest(json_keys(_raw)) AS k FROM _docs WHERE _bad IS NULL
            ORDER BY k
            """
        ).fetchall()
    ]
    standard = stage_standard(con, set(keys))
    if standard is not None:
        con.execute("DROP TABLE _docs")
        return standard
    if keys:
        # One parse per row: json_extract with a list of paths returns every value at
        # once. Paths quote the key, so `TS` and `ts` stay two columns.
        paths = "[" + ", ".join(_sql_string(_json_path(k)) for k in keys) + "]"
        fields = ", ".join(f"_v[{i + 1}] AS {_ident(i)}" for i in range(len(keys)))
        con.execute(
            f"""
            CREATE TEMP TABLE _stage AS
            SELECT _row, _loc, _raw, _bad, {fields}
            FROM (SELECT *, CASE WHEN _bad IS NULL THEN json_extract(_raw, {paths})
                                 END AS _v FROM _docs)
            ORDER BY _row
            """
        )
    else:
        con.execute("CREATE TEMP TABLE _stage AS SELECT _row, _loc, _raw, _bad FROM _docs")
    con.execute("DROP TABLE _docs")
    return [Staged(columns=keys, style="json")]


# --- CSV / TSV ----------------------------------------------------------------------


def _stage_csv(con: duckdb.DuckDBPyConnection, source: InputFile) -> Staged:
    delimiter = "\t" if source.format == "tsv" else ","
    options = {
        "path": str(source.path),
        "delim": delimiter,
        "compression": "gzip" if source.gzipped else "none",
        "max_line": MAX_LINE_BYTES,
    }
    # All text, header on, RFC 4180 quoting (quoted fields may span lines). Malformed
    # records (wrong field count, broken quotes) go to DuckDB's reject table instead of
    # failing the file, so they can be quarantined with their line.
    con.execute(
        """
        CREATE TEMP TABLE _csv AS
        SELECT row_number() OVER () AS _ord, *
        FROM read_csv($path, header = true, all_varchar = true, delim = $delim,
                      quote = '"', escape = '"', compression = $compression,
                      max_line_size = $max_line, null_padding = false,
                      store_rejects = true, rejects_scan = '_csv_scans',
                      rejects_table = '_csv_rejects')
        """,
        options,
    )
    # DuckDB reports one reject per problem; a record is quarantined once, with all of
    # them. Its `line` counts records (a quoted field spanning lines is one), header = 1.
    rejects = con.execute(
        """
        SELECT line - 1 AS record, bool_or(error_type ILIKE '%ENCODING%'),
               min(csv_line), string_agg(DISTINCT error_message, '; ' ORDER BY error_message)
        FROM _csv_rejects GROUP BY line ORDER BY line
        """
    ).fetchall()
    con.execute("DROP TABLE IF EXISTS _csv_rejects")
    con.execute("DROP TABLE IF EXISTS _csv_scans")
    for record, bad_encoding, _, _ in rejects:
        if bad_encoding:
            raise InputError(
                f"cannot read as {source.format}: the text is not valid UTF-8 "
                f"(record {record})",
                source=source.display,
            )
    names = [row[0] for row in con.execute("DESCRIBE _csv").fetchall()][1:]
    records = _number_records(con, [record for record, *_ in rejects])
    fields = ", ".join(f'"{_escape_ident(n)}" AS {_ident(i)}' for i, n in enumerate(names))
    raw = "to_json(struct_pack(" + ", ".join(
        f'{_quote_ident(n)} := "{_escape_ident(n)}"' for n in names
    ) + "))"
    con.execute(
        f"""
        CREATE TEMP TABLE _stage AS
        SELECT {records} AS _row, 'record ' || {records} AS _loc, CAST({raw} AS VARCHAR) AS _raw,
               CAST(NULL AS VARCHAR) AS _bad, {fields}
        FROM _csv {"JOIN _records USING (_ord)" if rejects else ""} ORDER BY 1
        """
    )
    con.execute("DROP TABLE _csv")
    con.execute("DROP TABLE IF EXISTS _records")
    columns = "".join(f", {_ident(i)}" for i in range(len(names)))
    nulls = ", NULL" * len(names)
    for record, _, csv_line, message in rejects:
        con.execute(
            f"INSERT INTO _stage (_row, _loc, _raw, _bad{columns}) VALUES (?, ?, ?, ?{nulls})",
            [record, f"record {record}", csv_line, f"malformed CSV record: {message}"],
        )
    return Staged(columns=names, style="text")


def _number_records(con: duckdb.DuckDBPyConnection, rejected: list[int]) -> str:
    """The SQL for a row's record number. The k-th well-formed record is record k plus
    the rejected records before it; only when there are any is `_records(_ord, _row)`
    built to say so."""
    if not rejected:
        return "_ord"
    con.execute("CREATE TEMP TABLE _rejected (record BIGINT)")
    con.executemany("INSERT INTO _rejected VALUES (?)", [[r] for r in rejected])
    con.execute(
        """
        CREATE TEMP TABLE _records AS
        SELECT row_number() OVER (ORDER BY n) AS _ord, n AS _row
        FROM range(1, (SELECT count(*) FROM _csv) + (SELECT count(*) FROM _rejected) + 1) t(n)
        WHERE n NOT IN (SELECT record FROM _rejected)
        """
    )
    con.execute("DROP TABLE _rejected")
    return "_records._row"


# --- Parquet ------------------------------------------------------------------------


def _stage_parquet(con: duckdb.DuckDBPyConnection, source: InputFile) -> Staged:
    names = [
        row[0]
        for row in con.execute(
            "DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(source.path)}
        ).fetchall()
    ]
    fields = ", ".join(f'"{_escape_ident(n)}" AS {_ident(i)}' for i, n in enumerate(names))
    raw = "to_json(struct_pack(" + ", ".join(
        f'{_quote_ident(n)} := "{_escape_ident(n)}"' for n in names
    ) + "))"
    con.execute(
        f"""
        CREATE TEMP TABLE _stage AS
        SELECT file_row_number + 1 AS _row, 'row ' || (file_row_number + 1) AS _loc,
               CAST({raw} AS VARCHAR) AS _raw, CAST(NULL AS VARCHAR) AS _bad, {fields}
        FROM read_parquet($path, file_row_number = true) ORDER BY _row
        """,
        {"path": str(source.path)},
    )
    return Staged(columns=names, style="native")


# --- SQL text helpers -----------------------------------------------------------------


def _escape_ident(name: str) -> str:
    return name.replace('"', '""')


def _quote_ident(name: str) -> str:
    return f'"{_escape_ident(name)}"'


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
