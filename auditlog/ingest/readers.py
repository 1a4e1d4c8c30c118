"""Readers: one input file of a format auditlog reads natively (JSON Lines, JSON, CSV/TSV,
Parquet) → staged rows in the shape staging.py describes, or, for JSON records, `DOCS`
(staging.IN_DOCS) for the registry to recognize (sources.stage_records).

All work is done by DuckDB's own readers; Python never touches a row, which is what
keeps 10M-row loads fast. Text files DuckDB would refuse as a whole go to the salvage
reader (salvage.py), which fills the same tables.

JSON Lines and CSV/TSV files of native columns stage *lazily*: `STAGE` is a view over the
file, numbered as it is read, so validation reads the file straight into typed rows
without a copy of every row's text in memory. `Staged.raw` then says how to rebuild a
row's text; only rows that end up quarantined ever need it.
"""

from __future__ import annotations

import bisect
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import duckdb

from auditlog.errors import InputError
from auditlog.ingest import consecutive, numbers, parquet_damage, salvage
from auditlog.ingest.files import MAX_LINE_BYTES, InputFile, TextProfile
from auditlog.ingest.staging import (
    CSV,
    CSV_REJECTS,
    CSV_SCANS,
    DOCS,
    HEADERS,
    IN_DOCS,
    LINES,
    RECORD_NUMBERS,
    REJECTED,
    STAGE,
    TOP,
    WIDE,
    Records,
    Staged,
    drop,
    note_headers,
)
from auditlog.ingest.standard import cloudtrail_athena
from auditlog.sqltext import escape_ident, json_path, quote_ident, sql_list, sql_string
from auditlog.store import first_line

# JSON documents and lines can be large; DuckDB's defaults (16 MB object, 2 MB line)
# would reject real CloudTrail digests. (MAX_LINE_BYTES: see files.py.)
MAX_JSON_BYTES = 1 << 30

# What the first look at a text file found (_probe): its keys or column names, whether
# a JSON object repeats a key, whether every JSON line that is not blank is JSON, and
# whether a line has a member that is a number DuckDB may write back otherwise than
# written (numbers.MEMBER).
Probe = tuple[list[str], bool, bool, bool]

# Whether JSON records with these top-level keys are in a standard format (the
# registry's answer, sources.is_standard): such records are staged into `DOCS` for
# their adapter, never as a lazy view of native columns.
Standard = Callable[[set[str]], bool]


def _native(keys: set[str]) -> bool:
    return False


class NativeFormats:
    """The reader of the formats DuckDB reads (see the module docstring)."""

    formats: tuple[str, ...] = ("jsonl", "json", "csv", "tsv", "parquet")

    def stage(self, con: duckdb.DuckDBPyConnection, source: InputFile, *, lazy: bool,
              profile: TextProfile | None, standard: Standard) -> list[Staged] | Records:
        return stage(con, source, lazy=lazy, profile=profile, standard=standard)


def stage(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    *,
    lazy: bool = True,
    profile: TextProfile | None = None,
    standard: Standard = _native,
) -> list[Staged] | Records:
    """Read `source` into staging tables (or, when `lazy` and the format allows, a view).
    Raises InputError when the file cannot be read.

    A text file goes to DuckDB's readers only when nothing in it would make them refuse
    the whole file: its `profile` (files.fingerprint) is clean and a first look on a
    separate connection (`_probe`) succeeds. Otherwise the salvage reader stages it,
    one bad line at a time. Why decide first: a failed read inside the ingest's
    transaction aborts the transaction, so there is no trying and falling back there."""
    drop(con, STAGE, HEADERS)
    if source.format != "parquet":
        probe = None if profile is not None and not profile.clean else _probe(con, source)
        if probe is None:
            salvaged = _salvage(con, source)
            if not isinstance(salvaged, Records):
                _refuse_other_delimiter(source, salvaged[0].columns)
            return salvaged
        _refuse_other_delimiter(source, probe[0])
    try:
        if source.format == "jsonl":
            keys, repeated, all_json, written = probe or ([], False, False, True)
            if probe is not None and not all_json and _concatenated(con, source):
                # Records written one after another with no line break between some
                # (Kinesis Firehose's S3 objects): the values of a JSON document.
                return _stage_json(con, source)
            return _stage_jsonl(con, source, lazy and not repeated and not standard(set(keys)),
                                keys, all_json, written)
        if source.format == "json":
            return _stage_json(con, source)
        if source.format in ("csv", "tsv"):
            if len(probe[0] if probe else []) > WIDE:
                # Too wide for column-by-column SQL: read as JSON rows (see validate.WIDE).
                _partition_docs(con, source, salvage.stage_delimited(con, source, as_docs=True))
                return IN_DOCS
            return [_stage_csv_view(con, source) if lazy else _stage_csv(con, source)]
        flaw = None if source.gzipped else parquet_damage.flaw(source.path)
        if flaw is not None:
            raise InputError(f"the file {flaw}", source=source.display)
        return _stage_parquet(con, source, standard, lazy)
    except duckdb.Error as exc:
        if not is_read_error(source, exc):
            raise
        raise read_error(source, exc) from None


def _probe(con: duckdb.DuckDBPyConnection, source: InputFile) -> Probe | None:
    """None when DuckDB's reader refuses the file, asked on a connection of its own. For
    JSON Lines this is the pass that lists the keys (it reads every line anyway), whose
    result, the keys, whether an object repeats a key and whether every line that is
    not blank is JSON, is returned; for CSV the dialect sniff; for JSON a parse of the
    document."""
    probe = con.cursor()
    try:
        if source.format == "jsonl":
            return _jsonl_keys(probe, source)
        if source.format == "json":
            probe.execute(f"SELECT count(*) FROM {_json_objects_sql(source)}").fetchall()
        else:
            names = probe.execute(f"DESCRIBE SELECT * FROM {_csv_sql(source)}").fetchall()
            return [name for name, *_ in names], False, False, False
    except READ_ERRORS:
        return None
    finally:
        probe.close()
    return [], False, False, False


# Delimiters a table is written with that the name of a file does not say: `;` where a
# spreadsheet's locale writes a decimal comma (European Excel), `|`, and a .tsv file's
# tab or a .csv file's comma in a file named the other way.
OTHER_DELIMITERS = {"csv": (";", "\t", "|"), "tsv": (",", ";", "|")}
DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}


def _refuse_other_delimiter(source: InputFile, columns: list[str]) -> None:
    """Raises InputError when a CSV/TSV file's header (`columns`, as read) is one column
    that another delimiter splits into several names: the file is then separated by that
    delimiter, every record would be one field, and the file is refused naming it
    (rather than quarantining every row for want of columns it has); likewise a first
    line that is a spreadsheet's `sep=` hint."""
    if source.format not in OTHER_DELIMITERS:
        return
    expected = "," if source.format == "csv" else "\t"
    if len(columns) <= 2:
        first = expected.join(salvage.header_of(source) or [])
        if re.fullmatch(r"sep=.", first, flags=re.DOTALL):
            remedy = "" if first[-1] == expected else (
                f", and export it again separated by {DELIMITER_NAMES[expected]}")
            raise InputError(
                f"cannot read as {source.format}: its first line, {json.dumps(first)}, is a "
                f"spreadsheet's hint naming its delimiter, not a header; remove that "
                f"line{remedy}",
                source=source.display,
            )
    if len(columns) != 1:
        return
    (only,) = columns
    split = [(d, only.split(d)) for d in OTHER_DELIMITERS[source.format]]
    delimiter, names = max(split, key=lambda found: len(found[1]))
    if len(names) < 2 or not all(name.strip() for name in names):
        return
    remedy = (f"name it .{'tsv' if delimiter == chr(9) else 'csv'}"
              if delimiter in (",", "\t") else f"export it again separated by "
              f"{DELIMITER_NAMES[expected]}")
    raise InputError(
        f"cannot read as {source.format}: its header is one column, "
        f"{json.dumps(only)}, that is separated by {DELIMITER_NAMES[delimiter]} where a "
        f".{source.format} file is separated by {DELIMITER_NAMES[expected]}; {remedy}",
        source=source.display,
    )


def _salvage(con: duckdb.DuckDBPyConnection, source: InputFile) -> list[Staged] | Records:
    if source.format == "jsonl":
        salvage.stage_json_lines(con, source)
        return IN_DOCS
    if source.format == "json":
        salvage.stage_json_document(con, source)
        return IN_DOCS
    return [_salvage_delimited(con, source)]


def _salvage_delimited(con: duckdb.DuckDBPyConnection, source: InputFile) -> Staged:
    header = salvage.stage_delimited(con, source)
    for i, (name, value) in enumerate(partitions(source.path, header), start=len(header)):
        # A record's columns of its partition folders (`partitions`), as a table's.
        con.execute(f"ALTER TABLE {STAGE} ADD COLUMN {_ident(i)} VARCHAR DEFAULT {value}")
        header = [*header, name]
    return Staged(columns=header, style="text")


# What DuckDB's readers raise for a file that is not what its name says. Other errors (a
# binder error, say) are auditlog's own bugs and must not pass for bad input.
READ_ERRORS = (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException)


def is_read_error(source: InputFile, exc: duckdb.Error) -> bool:
    """Whether `exc` says the file is not what its name says (READ_ERRORS), rather than
    an error of auditlog's own SQL. A damaged Parquet file fails in its Thrift metadata
    or its pages with a bare duckdb.Error."""
    return isinstance(exc, READ_ERRORS) or (source.format == "parquet"
                                            and type(exc) is duckdb.Error)


def read_error(source: InputFile, exc: duckdb.Error) -> InputError:
    """The InputError for a file DuckDB could not read (raised while staging, or, for a
    lazy view, while the rows are first read)."""
    if source.format == "parquet" and not source.gzipped:
        # In our words, from the file's bytes, never DuckDB's (parquet_damage).
        return InputError(f"the file {parquet_damage.damage(source.path)}",
                          source=source.display)
    return InputError(
        f"cannot read as {source.format}{' (gzip)' if source.gzipped else ''}: "
        f"{_explain(exc)}",
        source=source.display,
    )


def settle(con: duckdb.DuckDBPyConnection, source: InputFile, staged: Staged) -> Staged | None:
    """After the first full read of a lazy CSV view: None when its numbering held, else
    the file staged again as a table, numbered around the malformed records the read
    set aside (rare: only then is every row's text kept)."""
    if not staged.lazy or source.format not in ("csv", "tsv"):
        return None
    rejects = _csv_rejects(con, source)
    if not rejects:
        return None
    drop(con, staged.table)
    if any(bad_encoding for _, bad_encoding, _, _ in rejects):
        return _salvage_delimited(con, source)
    return _stage_csv(con, source)


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


def _lines_sql(source: InputFile) -> str:
    # Physical lines, read with the CSV reader in one-column mode: it streams, reads in
    # parallel, handles gzip, keeps blank lines (so row numbers are line numbers) and
    # fails loudly on bad UTF-8. NUL cannot occur in valid JSON text, so it is a safe
    # "never" delimiter. Literals, not parameters, because a view holds this call.
    return (
        f"read_csv({sql_string(str(source.path))}, columns = {{'raw': 'VARCHAR'}}, "
        "header = false, delim = chr(0), quote = '', escape = '', auto_detect = false, "
        f"max_line_size = {MAX_LINE_BYTES}, hive_partitioning = false, "
        f"compression = '{'gzip' if source.gzipped else 'none'}')"
    )


def _jsonl_keys(con: duckdb.DuckDBPyConnection, source: InputFile) -> Probe:
    """The keys of every object in the file, whether an object repeats one, and whether
    every line but the blank ones is JSON: one parse per line, nothing kept. `try` turns
    a line that is not JSON into NULL (it is quarantined later, with its reason); when
    there is none, the typed read can parse without `try`, which costs a quarter of
    that parse (json_keys and json_extract accept the same text). The distinct key *lists* are few (the lines of a
    log share a shape), and grouping them by hash costs what a DISTINCT over the keys
    costs, where testing each line's list for repeats (list_distinct) would cost more
    than the rest of the read. The same pass tells whether a line may hold a number
    whose written digits the typed read must look up (numbers.MEMBER): in most files
    none does, and their typed read then never looks."""
    # (Grouping by anything more than the hash, or filtering, costs a third more. Two
    # shapes of one hash would hide one's keys: a 64-bit collision among a file's few
    # shapes.)
    # CASE, not AND: DuckDB would trim every line for the AND (2.7x the pass's cost).
    groups = con.execute(
        "SELECT any_value(k), "
        "bool_or(CASE WHEN k IS NULL THEN trim(coalesce(raw, '')) <> '' ELSE false END), "
        "bool_or(regexp_matches(raw, $member)) "
        f"FROM (SELECT raw, try(json_keys(raw)) AS k FROM {_lines_sql(source)}) "
        "GROUP BY hash(k)", {"member": numbers.MEMBER}
    ).fetchall()
    shapes = [shape for shape, _, _ in groups if shape is not None]
    keys = sorted({key for shape in shapes for key in shape})
    return (keys, any(len(set(shape)) != len(shape) for shape in shapes),
            not any(not_json for _, not_json, _ in groups),
            any(bool(written) for _, _, written in groups))


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, source: InputFile, lazy: bool, keys: list[str],
    all_json: bool = False, written: bool = True,
) -> list[Staged] | Records:
    lines = _lines_sql(source)
    if not lazy:
        con.execute(
            f"""
            CREATE TEMP TABLE {LINES} AS
            SELECT row_number() OVER () AS _row, raw AS _raw FROM {lines}
            """
        )
        con.execute(
            f"""
            CREATE TEMP TABLE {DOCS} AS
            SELECT _row, 'line ' || _row AS _loc, _raw,
                   CASE WHEN NOT json_valid(_raw) THEN {salvage.not_json_sql('_raw')}
                        WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
            FROM {LINES} WHERE trim(coalesce(_raw, '')) <> ''
            """
        )
        con.execute(f"DROP TABLE {LINES}")
        return IN_DOCS
    # Blank lines are not rows (but count as lines). Most lines start with "{": testing
    # that first spares trimming a copy of each.
    numbered = (
        f"SELECT _row, _raw FROM (SELECT row_number() OVER () AS _row, raw AS _raw "
        f"FROM {lines}) WHERE starts_with(_raw, '{{') OR trim(coalesce(_raw, '')) <> ''"
    )
    if not keys:
        con.execute(
            f"""
            CREATE TEMP VIEW {STAGE} AS
            SELECT _row, 'line ' || _row AS _loc, _raw,
                   CASE WHEN NOT json_valid(_raw) THEN {salvage.not_json_sql('_raw')}
                        WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
            FROM ({numbered})
            """
        )
        return [Staged(columns=[], style="json", lazy=True)]
    # One parse per line gives every value; `try` makes a line that is not JSON NULL
    # (json_extract and json_valid accept the same text). Only a line with none of the
    # file's keys ({} or not an object) is parsed again, to tell which.
    paths = sql_list([json_path(k) for k in keys])
    fields = ", ".join(f"_v[{i + 1}] AS {_ident(i)}" for i in range(len(keys)))

    def objects(position: str, rows: str) -> str:
        return f"""
            SELECT {position}, _raw,
                   CASE WHEN _v IS NULL THEN {salvage.not_json_sql('_raw')}
                        WHEN list_count(_v) > 0 THEN NULL
                        WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad,
                   {fields}
            FROM (SELECT *, try(json_extract(_raw, {paths})) AS _v FROM ({rows}))"""

    con.execute(
        f"CREATE TEMP VIEW {STAGE} AS "
        + objects("_row, 'line ' || _row AS _loc", numbered)
    )
    # Validation reads the lines itself (see validate._source) and never asks for these
    # columns, which DuckDB then does not compute; other readers of the scan can.
    scan = objects("_blank", (
        # CASE, not OR: DuckDB evaluates both sides of an OR in a select list.
        "SELECT raw AS _raw, CASE WHEN starts_with(raw, '{') THEN false "
        f"ELSE trim(coalesce(raw, '')) = '' END AS _blank FROM {lines}"
    ))
    return [Staged(columns=keys, style="json", lazy=True, scan=scan, loc_prefix="line ",
                   all_json=all_json, written_numbers=written)]


def _concatenated(con: duckdb.DuckDBPyConnection, source: InputFile) -> bool:
    """Whether a JSON Lines file with a line that is not JSON by itself is JSON values
    one after another (`{...}{...}` on a line, as Kinesis Firehose writes records to S3
    without a delimiter), every value an object: then it is read as a JSON document of
    concatenated values. A damaged line keeps the file JSON Lines (that line is
    quarantined, the others load). Asked on a connection of its own, as `_probe`."""
    probe = con.cursor()
    try:
        row = probe.execute(
            f"SELECT count(*), bool_and(json_type(json) = 'OBJECT') "
            f"FROM {_json_objects_sql(source)}").fetchone()
    except READ_ERRORS:
        return False
    finally:
        probe.close()
    return bool(row and row[0] and row[1])


# --- JSON documents -----------------------------------------------------------------


def _json_objects_sql(source: InputFile, json_format: str = "unstructured") -> str:
    return (
        f"read_json_objects({sql_string(str(source.path))}, format = '{json_format}', "
        f"maximum_object_size = {MAX_JSON_BYTES}, hive_partitioning = false, "
        f"compression = '{'gzip' if source.gzipped else 'none'}')"
    )


def _written_numbers(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the document in `TOP` has a member that is a number with a fraction or
    an exponent (numbers.MEMBER), whose digits DuckDB may write back otherwise."""
    (found,) = con.execute(
        f"SELECT bool_or(regexp_matches(CAST(doc AS VARCHAR), $member)) FROM {TOP}",
        {"member": numbers.MEMBER}).fetchone() or (False,)
    return bool(found)


# The keys a page of an OData/ARM list response may hold beside its `value` array
# (salvage.PAGE_KEYS, the same set, for files DuckDB cannot parse).
PAGE_KEYS = sql_list(sorted(salvage.PAGE_KEYS))


def _stage_json(con: duckdb.DuckDBPyConnection, source: InputFile) -> Records:
    # A .json file is an array of rows, or an object whose Records/records/events member
    # is that array (CloudTrail, many SIEM exports; `items` of a Kubernetes audit
    # EventList). Several top-level values are read as consecutive records, an array
    # among them (or a CloudTrail S3 object) as its elements (consecutive.py).
    con.execute(
        f"CREATE TEMP TABLE {TOP} AS "
        f"SELECT row_number() OVER () AS n, json AS doc FROM {_json_objects_sql(source)}"
    )
    (count,) = con.execute(f"SELECT count(*) FROM {TOP}").fetchone() or (0,)
    if count == 1:
        member = con.execute(
            f"""
            SELECT CASE
              WHEN json_type(doc) = 'ARRAY' THEN '$'
              WHEN json_type(doc -> '$.Records') = 'ARRAY' THEN '$.Records'
              WHEN json_type(doc -> '$.records') = 'ARRAY' THEN '$.records'
              WHEN json_type(doc -> '$.events') = 'ARRAY' THEN '$.events'
              -- A batch of Kubernetes audit events, as the API server's webhook backend
              -- posts them (and `kubectl get --raw` answers): an audit EventList.
              WHEN doc ->> '$.kind' = 'EventList' AND json_type(doc -> '$.items') = 'ARRAY'
                   AND coalesce(doc ->> '$.apiVersion', 'audit.k8s.io/')
                       LIKE 'audit.k8s.io/%' THEN '$.items'
              -- A page of an OData/ARM list API saved as returned (Azure Activity log
              -- REST, Microsoft Graph directoryAudits): `value` beside paging keys only.
              WHEN json_type(doc -> '$.value') = 'ARRAY'
                   AND list_has_all({PAGE_KEYS}, json_keys(doc)) THEN '$.value'
            END FROM {TOP}
            """
        ).fetchone()
        path = member[0] if member else None
    else:
        path = None
    if path == "$":
        # The elements as written (read_json_objects gives each one's own text), not as
        # DuckDB writes the value back: a number's digits are read from that text
        # (numbers.py), and a quarantined element shows what the file holds.
        con.execute(f"DROP TABLE {TOP}")
        con.execute(
            f"""
            CREATE TEMP TABLE {DOCS} AS
            SELECT _row, 'element ' || _row AS _loc, _raw,
                   CASE WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
            FROM (SELECT row_number() OVER () AS _row, CAST(json AS VARCHAR) AS _raw
                  FROM {_json_objects_sql(source, "array")})
            """
        )
        return IN_DOCS
    if path is not None and _written_numbers(con):
        # A member's array cannot be cut into its elements' own text in SQL: when a
        # number in it may be written otherwise than DuckDB writes it back, the salvage
        # reader cuts it (as it does for a file DuckDB cannot parse).
        con.execute(f"DROP TABLE {TOP}")
        salvage.stage_json_document(con, source)
        return IN_DOCS
    if path is not None:
        con.execute(
            f"""
            CREATE TEMP TABLE {DOCS} AS
            WITH elements AS (
              SELECT unnest(json_extract(doc, '{path}[*]')) AS _raw,
                     unnest(range(1, CAST(json_array_length(doc, '{path}') AS BIGINT) + 1)) AS _row
              FROM {TOP})
            SELECT _row, 'element ' || _row AS _loc, CAST(_raw AS VARCHAR) AS _raw,
                   CASE WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
            FROM elements
            """
        )
    elif count > 1 and consecutive.holds_lists(con):
        # Arrays (or CloudTrail S3 objects) written back to back: each one's elements.
        consecutive.stage(con)
        return IN_DOCS
    else:
        con.execute(
            f"""
            CREATE TEMP TABLE {DOCS} AS
            SELECT n AS _row, 'value ' || n AS _loc, CAST(doc AS VARCHAR) AS _raw,
                   CASE WHEN json_type(doc) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
            FROM {TOP}
            """
        )
    con.execute(f"DROP TABLE {TOP}")
    return IN_DOCS


# --- CSV / TSV ----------------------------------------------------------------------


def _csv_sql(source: InputFile) -> str:
    # All text, header on, RFC 4180 quoting (quoted fields may span lines). Malformed
    # records (wrong field count, broken quotes) go to DuckDB's reject table instead of
    # failing the file, so they can be quarantined with their line. DuckDB's Hive
    # partitioning is off (for every reader here): it would add a `dt=2026-04-01/` folder
    # as a DATE column; `partitions` adds it as text.
    delimiter = "chr(9)" if source.format == "tsv" else "','"
    return (
        f"read_csv({sql_string(str(source.path))}, header = true, all_varchar = true, "
        f"delim = {delimiter}, quote = '\"', escape = '\"', "
        f"compression = '{'gzip' if source.gzipped else 'none'}', "
        f"max_line_size = {MAX_LINE_BYTES}, null_padding = false, store_rejects = true, "
        "hive_partitioning = false, "
        f"rejects_scan = '{CSV_SCANS}', rejects_table = '{CSV_REJECTS}')"
    )


def _header(source: InputFile, names: list[str]) -> list[str]:
    """The file's own column names for DuckDB's `names` of them: DuckDB renames a
    repeated name (`amount`, `amount_1`) and an empty one (`column5`), and a row's values
    are kept and checked under the names the file gives them (validate.typed_select: a
    column named twice with two values is a conflict, not the first value silently)."""
    header = salvage.header_of(source)
    return header if header is not None and len(header) == len(names) else names


def _stage_csv_view(con: duckdb.DuckDBPyConnection, source: InputFile) -> Staged:
    """The fast path: a view numbering records as read. The numbering holds only if no
    record is set aside as malformed; `settle` checks that after the read. A record
    repeating the header keeps its number but is no row (Staged.headers)."""
    csv = _csv_sql(source)
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {csv}").fetchall()]
    header = _header(source, names)
    test = header_test(header)
    # A record's text is its own fields (csv_lines places it by them), without the
    # columns its partition folders add.
    raw = f"CAST({_json_record(header, map(_ident, range(len(header))))} AS VARCHAR)"
    fields = _fields(names) + _partition_fields(source, header)
    header = header + [name for name, _ in partitions(source.path, header)]
    numbered = f"SELECT row_number() OVER () AS _ord, {fields} FROM {csv}"
    con.execute(
        f"""
        CREATE TEMP VIEW {STAGE} AS
        SELECT _ord AS _row, 'record ' || _ord AS _loc, CAST(NULL AS VARCHAR) AS _bad, * EXCLUDE (_ord)
        FROM ({numbered}) WHERE NOT ({test})
        """
    )
    scan = (f"SELECT {test} AS _blank, CAST(NULL AS VARCHAR) AS _bad, * "
            f"FROM (SELECT {fields} FROM {csv})")
    return Staged(columns=header, style="text", raw=raw, lazy=True, scan=scan,
                  loc_prefix="record ",
                  headers=f"SELECT count(*), min(_ord) FROM ({numbered}) WHERE {test}")


def _json_record(names: list[str], values: Iterable[str]) -> str:
    """SQL for a row's verbatim record: a JSON object of `values` (SQL expressions) under
    the file's own `names`. json_object, not struct_pack: the names may repeat or differ
    only in case."""
    return "json_object(" + ", ".join(
        f"{sql_string(n)}, {v}" for n, v in zip(names, values, strict=True)) + ")"


def _fields(names: list[str]) -> str:
    """DuckDB's columns of a CSV file as c0..cN; a byte order mark opening the first
    field is the mark of a file joined on (`cat a.csv b.csv`), not text of the field.
    (starts_with first: ltrim copies every value it is given.)"""
    def field(i: int, name: str) -> str:
        column = f'"{escape_ident(name)}"'
        if i == 0:
            column = (f"CASE WHEN starts_with({column}, chr(65279)) THEN "
                      f"ltrim({column}, chr(65279)) ELSE {column} END")
        return f"{column} AS {_ident(i)}"

    return ", ".join(field(i, n) for i, n in enumerate(names))


def header_test(header: list[str]) -> str:
    """SQL over c0..cN: whether a record repeats the header line (two files joined with
    their headers, a paginated export): each field, trimmed, is its column's name in any
    case (names trimmed as salvage.header_of gives them; an empty field, NULL, stands
    for an empty name). A CASE whose first tests are as cheap as a field's length, so
    that only a record whose first field is the header's length, or has spaces around
    it, is looked at further: an AND would compute every field's test for every record
    (a tenth more CPU for a whole load)."""
    if not header:
        return "false"
    names = [name.strip().lower() for name in header]
    tests = " AND ".join(f"coalesce(lower(trim({_ident(i)})), '') = {sql_string(n)}"
                         for i, n in enumerate(names))
    if not names[0]:
        return f"CASE WHEN c0 IS NULL OR trim(c0) = '' THEN {tests} ELSE false END"
    length = len(names[0].encode())
    return (f"CASE WHEN strlen(c0) < {length} THEN false WHEN strlen(c0) = {length} THEN "
            f"{tests} WHEN starts_with(c0, ' ') OR ends_with(c0, ' ') THEN {tests} "
            "ELSE false END")


def _csv_rejects(
    con: duckdb.DuckDBPyConnection, source: InputFile
) -> list[tuple[int, bool, str, str]]:
    """The records the last read of `source` set aside: (record, bad encoding, text,
    reasons). (A record that is not UTF-8 sends the file to the salvage reader.)"""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": CSV_REJECTS}
    ).fetchone()
    if not exists or not exists[0]:
        return []
    # DuckDB reports one reject per problem; a record is quarantined once, with all of
    # them. Its `line` counts records (a quoted field spanning lines is one), header = 1.
    rejects = con.execute(
        f"""
        SELECT line - 1 AS record, bool_or(error_type ILIKE '%ENCODING%'),
               min(csv_line), string_agg(DISTINCT error_message, '; ' ORDER BY error_message)
        FROM {CSV_REJECTS} GROUP BY line ORDER BY line
        """
    ).fetchall()
    drop(con, CSV_REJECTS, CSV_SCANS)
    # A line of nothing but spaces is no record, as a blank line is none (and a blank
    # JSON line no row): DuckDB's reader rejects it as a record of too few fields, and
    # the records after it are numbered as if it were not there (csv_lines counts so).
    delimiter = "\t" if source.format == "tsv" else ","
    blank = [record for record, _, text, _ in rejects
             if text is not None and not text.strip() and delimiter not in text]
    return [(record - bisect.bisect_left(blank, record), bad, text, message)
            for record, bad, text, message in rejects
            if text is None or text.strip() or delimiter in text]


def _stage_csv(con: duckdb.DuckDBPyConnection, source: InputFile) -> Staged:
    """Every record into `STAGE`, with its text: the path for files with malformed
    records, and for a mapping (which rewrites the staged table)."""
    con.execute(
        f"CREATE TEMP TABLE {CSV} AS "
        f"SELECT row_number() OVER () AS _ord, * FROM {_csv_sql(source)}"
    )
    rejects = _csv_rejects(con, source)
    if any(bad_encoding for _, bad_encoding, _, _ in rejects):
        con.execute(f"DROP TABLE {CSV}")
        return _salvage_delimited(con, source)
    names = [row[0] for row in con.execute(f"DESCRIBE {CSV}").fetchall()][1:]
    header = _header(source, names)
    records = _number_records(con, [record for record, *_ in rejects])
    raw = _json_record(header, map(_ident, range(len(header))))
    folders = _partition_fields(source, header)
    con.execute(
        f"""
        CREATE TEMP TABLE {STAGE} AS
        SELECT _row, 'record ' || _row AS _loc, CAST({raw} AS VARCHAR) AS _raw,
               CAST(NULL AS VARCHAR) AS _bad, * EXCLUDE (_row)
        FROM (SELECT {records} AS _row, {_fields(names)}{folders}
              FROM {CSV} {f"JOIN {RECORD_NUMBERS} USING (_ord)" if rejects else ""})
        ORDER BY 1
        """
    )
    con.execute(f"DROP TABLE {CSV}")
    drop(con, RECORD_NUMBERS)
    repeated = [row for (row,) in con.execute(
        f"DELETE FROM {STAGE} WHERE {header_test(header)} RETURNING _row").fetchall()]
    note_headers(con, len(repeated), min(repeated, default=None))
    columns = "".join(f", {_ident(i)}" for i in range(len(names)))
    nulls = ", NULL" * len(names)
    for record, _, csv_line, message in rejects:
        con.execute(
            f"INSERT INTO {STAGE} (_row, _loc, _raw, _bad{columns}) VALUES (?, ?, ?, ?{nulls})",
            [record, f"record {record}", csv_line, f"malformed CSV record: {message}"],
        )
    return Staged(columns=header + [n for n, _ in partitions(source.path, header)],
                  style="text")


def _partition_docs(con: duckdb.DuckDBPyConnection, source: InputFile,
                    header: list[str]) -> None:
    """A wide delimited file's records, JSON objects in `DOCS`, with the members its
    partition folders give them (`partitions`), after its own."""
    found = partitions(source.path, header)
    if found:
        members = ", ".join(f"{sql_string(name)}, {value}" for name, value in found)
        con.execute(f"UPDATE {DOCS} SET _raw = CAST(json_merge_patch(_raw, "
                    f"json_object({members})) AS VARCHAR) WHERE _bad IS NULL")


def _partition_fields(source: InputFile, header: list[str]) -> str:
    """`, <value> AS c<N>, ...`: the columns a delimited file's partition folders give
    each of its records (`partitions`), after its own `header`."""
    return "".join(f", {value} AS {_ident(i)}" for i, (_, value) in enumerate(
        partitions(source.path, header), start=len(header)))


def _number_records(con: duckdb.DuckDBPyConnection, rejected: list[int]) -> str:
    """The SQL for a row's record number. The k-th well-formed record is record k plus
    the rejected records before it; only when there are any is `RECORD_NUMBERS(_ord, _row)`
    built to say so."""
    if not rejected:
        return "_ord"
    con.execute(f"CREATE TEMP TABLE {REJECTED} (record BIGINT)")
    con.executemany(f"INSERT INTO {REJECTED} VALUES (?)", [[r] for r in rejected])
    con.execute(
        f"""
        CREATE TEMP TABLE {RECORD_NUMBERS} AS
        SELECT row_number() OVER (ORDER BY n) AS _ord, n AS _row
        FROM range(1, (SELECT count(*) FROM {CSV}) + (SELECT count(*) FROM {REJECTED}) + 1) t(n)
        WHERE n NOT IN (SELECT record FROM {REJECTED})
        """
    )
    con.execute(f"DROP TABLE {REJECTED}")
    return f"{RECORD_NUMBERS}._row"


# --- Parquet ------------------------------------------------------------------------


def _stage_parquet(con: duckdb.DuckDBPyConnection, source: InputFile,
                   standard: Standard, lazy: bool,
                   folders: Path | None = None) -> list[Staged] | Records:
    """Native columns → `STAGE`, lazily (a view, as for CSV) unless a mapping rewrites
    it; the rows of a standard format (OCSF as AWS Security Lake stores it: struct
    columns `metadata`, `actor`, `api`, ...) → `DOCS` as JSON objects, for their adapter
    to read exactly as it reads the same events in JSON.

    Every read of the file turns DuckDB's Hive partitioning off: it would add the
    partition folders' values as typed columns (`account=00123/` as the number 123);
    `partitions` adds them as the folders spell them, to native rows only (the folders
    of `folders`, the file's own path, when `source` is a copy of it: `_stage_int96`)."""
    if _without_columns(source):
        return _no_columns(con, source)
    int96 = _int96_columns(con, source) if folders is None else []
    if int96:
        return _stage_int96(con, source, standard, int96)
    described = con.execute(
        "DESCRIBE SELECT * FROM read_parquet($path, hive_partitioning = false)",
        {"path": str(source.path)},
    ).fetchall()
    names = [row[0] for row in described]
    types = [row[1] for row in described]
    top = _parquet_top(con, source)
    header = _parquet_names(top, names)
    typed = dict(zip(names, types, strict=True))
    if standard(set(names)):
        _parquet_records(con, source, typed)
        return IN_DOCS
    if cloudtrail_athena.is_table(typed) and standard(
            {cloudtrail_athena.TOP.get(n, n) for n in names}):
        # CloudTrail records as Athena and Glue store them, their names folded.
        _parquet_records(con, source, typed, cloudtrail_athena.record_sql(typed))
        return IN_DOCS
    values = [_parquet_value(n, t) for n, t in zip(names, types, strict=True)]
    instants = frozenset(i for i, t in enumerate(types) if t == "TIMESTAMP WITH TIME ZONE")
    for name, value in partitions(folders or source.path, header):
        header, values = [*header, name], [*values, value]
    fields = ", ".join(f"{v} AS {_ident(i)}" for i, v in enumerate(values))
    if lazy:
        return [_stage_parquet_view(con, source, header, fields, instants)]
    raw = _json_record(header, values)
    rows, number = _numbered("$path", names)
    con.execute(
        f"""
        CREATE TEMP TABLE {STAGE} AS
        SELECT {number} + 1 AS _row, 'row ' || ({number} + 1) AS _loc,
               CAST({raw} AS VARCHAR) AS _raw, CAST(NULL AS VARCHAR) AS _bad, {fields}
        FROM {rows} ORDER BY _row
        """,
        {"path": str(source.path)},
    )
    return [Staged(columns=header, style="native", instants=instants)]


def _numbered(path: str, columns: Iterable[str]) -> tuple[str, str]:
    """What to read the Parquet file at `path` (SQL) from with each row's number, and
    the SQL of that number (from 0): DuckDB's `file_row_number`, unless the file has a
    column of that name, which DuckDB then refuses to add (the rows are then numbered
    as read, which keeps their order: the store preserves insertion order)."""
    read = f"read_parquet({path}, hive_partitioning = false"
    if any(name.lower() == "file_row_number" for name in columns):
        return f"(SELECT row_number() OVER () - 1 AS _al_file_row, * FROM {read}))", \
            "_al_file_row"
    return f"{read}, file_row_number = true)", "file_row_number"


# The folder name Hive and Spark give the partition of rows whose value is null.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def partitions(path: Path, columns: list[str]) -> list[tuple[str, str]]:
    """The Hive partition columns the folders of `path` name (`dt=2026-04-01/`,
    `system=crm/`, as Spark, Hive and Athena write a partitioned table), outermost
    first, each with the SQL of its value: the folder's text, %-escapes undone, or NULL
    for HIVE_NULL. A row holds them as columns of its own, so a name the contract knows
    is read as that column and any other is kept in `extra`. A partition the file
    itself holds a column of (in any case), or that an outer folder named already,
    is left out: the file's own value is the row's."""
    taken = {name.strip().lower() for name in columns}
    found: list[tuple[str, str]] = []
    for folder in path.absolute().parent.parts:
        name, equals, value = folder.partition("=")
        if not equals or not name.strip() or name.strip().lower() in taken:
            continue
        taken.add(name.strip().lower())
        found.append((unquote(name).strip(), "CAST(NULL AS VARCHAR)" if value == HIVE_NULL
                      else sql_string(unquote(value))))
    return found


def _without_columns(source: InputFile) -> bool:
    """Whether the file's schema has no column, which DuckDB's reader (its schema and
    metadata functions too) refuses as an error like any damage: asked of the footer
    with pyarrow, which reads such a file."""
    import pyarrow.parquet as pq  # here: only a Parquet file's load pays for the import

    try:
        return pq.read_metadata(source.path).num_columns == 0
    except (OSError, ValueError):  # damaged: DuckDB's read says so, in our words
        return False


def _no_columns(con: duckdb.DuckDBPyConnection, source: InputFile) -> Records:
    """A Parquet file whose schema has no column: with no rows either, an empty file, as
    an empty JSON array is (no records: the kind `empty`); rows of no values are
    refused, naming how many."""
    import pyarrow.parquet as pq

    rows = pq.read_metadata(source.path).num_rows
    if rows:
        raise InputError(f"the file has {rows:,} rows but no columns, so no values to read",
                         source=source.display)
    con.execute(f"CREATE TEMP TABLE {DOCS} (_row BIGINT, _loc VARCHAR, _raw VARCHAR, "
                "_bad VARCHAR)")
    return IN_DOCS


def _int96_columns(con: duckdb.DuckDBPyConnection, source: InputFile) -> list[str]:
    """The top-level columns that are legacy INT96 timestamps (Spark, Hive, Impala)."""
    return [name for name, physical in _parquet_top(con, source) if physical == "INT96"]


def _stage_int96(con: duckdb.DuckDBPyConnection, source: InputFile, standard: Standard,
                 columns: list[str]) -> list[Staged] | Records:
    """A file with INT96 timestamp `columns`, staged from a copy of it in which they are
    TIMESTAMP(MICROS) adjusted to UTC. Spark and Hive write INT96 as the UTC instant, so
    it is one (read whatever --tz says, no naive time to announce); and DuckDB reads
    INT96 at nanoseconds, refusing the whole file for a date past 2262 (Spark's
    `9999-12-31` of "never"), which microseconds hold. The copy is staged as tables
    (never a view over it) and removed."""
    import pyarrow as pa  # here: only a file with INT96 columns pays for the import
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(source.path, coerce_int96_timestamp_unit="us")
    except (OSError, ValueError):  # (pyarrow's ArrowInvalid is a ValueError)
        raise InputError(f"the file {parquet_damage.damage(source.path)}",
                         source=source.display) from None
    utc = pa.timestamp("us", tz="UTC")
    fields = [pa.field(f.name, utc, f.nullable, f.metadata) if f.name in columns
              and pa.types.is_timestamp(f.type) else f for f in table.schema]
    table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
    with tempfile.TemporaryDirectory(prefix="auditlog-int96-") as folder:
        copy = Path(folder) / source.path.name
        pq.write_table(table, copy)
        del table
        return _stage_parquet(con, replace(source, path=copy, label=source.display),
                              standard, lazy=False, folders=source.path)


def _parquet_value(name: str, duckdb_type: str) -> str:
    """The SQL of a native column's value as staged: a BYTE_ARRAY column without a
    string annotation (DuckDB's BLOB: how Impala and older Spark and Hive write
    strings) as the UTF-8 text it holds, or, when it holds none, DuckDB's text of its
    bytes (`\\xFF`), so no value is lost; anything else as it is."""
    column = f'"{escape_ident(name)}"'
    if duckdb_type == "BLOB":
        return f"coalesce(try(decode({column})), CAST({column} AS VARCHAR))"
    return column


def _parquet_top(con: duckdb.DuckDBPyConnection,
                 source: InputFile) -> list[tuple[str, str | None]]:
    """The file's top-level columns as its schema names them, each with its physical
    type (None for a group: a struct, list or map)."""
    schema = con.execute(
        "SELECT name, coalesce(num_children, 0), type FROM parquet_schema($path)",
        {"path": str(source.path)},
    ).fetchall()

    def after(at: int) -> int:  # the index past the field at `at` and its descendants
        children, at = schema[at][1], at + 1
        for _ in range(children):
            at = after(at)
        return at

    top: list[tuple[str, str | None]] = []
    at = 1  # row 0 is the schema's root
    while at < len(schema):
        top.append((schema[at][0], schema[at][2] if not schema[at][1] else None))
        at = after(at)
    return top


def _parquet_names(top: list[tuple[str, str | None]], names: list[str]) -> list[str]:
    """The file's own top-level column names (`top`) for DuckDB's `names` of them, as
    for a CSV header (`_header`): DuckDB renames a name the schema repeats, also in
    another case (`ts`, `TS_1`), and the values are kept and checked under the file's
    names. `names` itself (the same list) when the two do not line up."""
    fits = len(top) == len(names) and all(
        n == t or n.lower().startswith(t.lower() + "_")
        or (not t and re.fullmatch(r"C[0-9]+", n) is not None)  # an unnamed column
        for n, (t, _) in zip(names, top, strict=True))
    return [t for t, _ in top] if fits else names


def _stage_parquet_view(con: duckdb.DuckDBPyConnection, source: InputFile, names: list[str],
                        fields: str, instants: frozenset[int]) -> Staged:
    """The fast path, as for CSV: `STAGE` a view numbered by `file_row_number`, and the
    typed rows read from an unnumbered parallel scan in file order (Staged.scan), with
    a row's text built from its fields only for the rows that are quarantined. A
    Parquet file has no malformed records, so the scan's numbering always holds."""
    parquet = f"read_parquet({sql_string(str(source.path))}, hive_partitioning = false"
    rows, number = _numbered(sql_string(str(source.path)), names)
    con.execute(
        f"""
        CREATE TEMP VIEW {STAGE} AS
        SELECT {number} + 1 AS _row, 'row ' || ({number} + 1) AS _loc,
               CAST(NULL AS VARCHAR) AS _bad, {fields}
        FROM {rows}
        """
    )
    raw = f"CAST({_json_record(names, map(_ident, range(len(names))))} AS VARCHAR)"
    scan = f"SELECT false AS _blank, CAST(NULL AS VARCHAR) AS _bad, {fields} FROM {parquet})"
    return Staged(columns=names, style="native", raw=raw, lazy=True, scan=scan,
                  loc_prefix="row ", instants=instants)


def _parquet_records(con: duckdb.DuckDBPyConnection, source: InputFile,
                     types: dict[str, str], record: str | None = None) -> None:
    """Each row as the JSON object it was before it was stored as Parquet: structs as
    objects, lists as arrays, maps as objects, a UTC timestamp column (OCSF `time_dt`)
    as ISO 8601 with `Z` (JSON would otherwise write it in the session's zone). A column
    a row has no value in is a null in Parquet (a column holds every row), so null
    members are left out, as the JSON record would not have had them."""
    def value(name: str) -> str:
        column = f'"{escape_ident(name)}"'
        if types[name] == "TIMESTAMP WITH TIME ZONE":
            return f"strftime(timezone('UTC', {column}), '%Y-%m-%dT%H:%M:%S.%gZ')"
        return column

    row = "struct_pack(" + ", ".join(f"{quote_ident(n)} := {value(n)}" for n in types) + ")"
    record = record or f"to_json({row})"  # `record`: the row's JSON, told otherwise
    rows, number = _numbered("$path", types)
    con.execute(
        f"""
        CREATE TEMP TABLE {DOCS} AS
        SELECT {number} + 1 AS _row, 'row ' || ({number} + 1) AS _loc,
               CAST(json_strip_nulls({record}) AS VARCHAR) AS _raw,
               CAST(NULL AS VARCHAR) AS _bad
        FROM {rows}
        """,
        {"path": str(source.path)},
    )


# --- Quarantined text -------------------------------------------------------------------


def safe_text_sql(expr: str) -> str:
    """SQL for `expr` with control characters written as `\\xNN` (as salvage.safe_text
    writes them), for the raw text of quarantined rows: log text is data, and a raw
    escape sequence must not reach the terminal of whoever reads the quarantine."""
    for code in salvage.CONTROL_CODES:
        expr = f"replace({expr}, chr({code}), '\\x{code:02x}')"
    return expr
