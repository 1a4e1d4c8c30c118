"""The reader of Linux audit logs (auditd's `audit.log`, raw or enriched, gzipped or
not): the file's lines into `standard.auditd.LINES_TABLE`, then parsed, grouped into
events and mapped there (ingest/standard/auditd.py).

Lines are read by DuckDB's CSV reader in one-column mode (streaming, gzip, in C++). That
reader refuses a whole file for one NUL byte or invalid UTF-8 sequence, and a failed read
would abort the ingest's transaction, so it is first tried on a connection of its own;
a file it refuses is read line by line in Python instead, each bad line kept (as
`\\xNN` escapes) with the reason it is quarantined for. A gzip stream that is truncated
or corrupt is an error naming the file.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from typing import IO

import duckdb

from auditlog.errors import InputError
from auditlog.ingest.files import MAX_LINE_BYTES, InputFile, TextProfile
from auditlog.ingest.kept import keep_events
from auditlog.ingest.salvage import safe_text
from auditlog.ingest.staging import Staged
from auditlog.ingest.standard.auditd import INTERPRETED, LINES_TABLE, stage_events
from auditlog.sqltext import sql_string

_BATCH = "_auditd_batch"
_ROWS_PER_BATCH = 50_000


class Auditd:
    formats: tuple[str, ...] = ("auditd",)

    def stage(self, con: duckdb.DuckDBPyConnection, source: InputFile, *, lazy: bool,
              profile: TextProfile | None,
              standard: Callable[[set[str]], bool]) -> list[Staged]:
        read_lines(con, source)
        refuse_interpreted(con, source)
        staged = stage_events(con)
        keep_events(con, staged)  # each event's lines are kept (kept.py)
        return staged


def refuse_interpreted(con: duckdb.DuckDBPyConnection, source: InputFile) -> None:
    """Raise InputError when the file is `ausearch -i` output (its first record has an
    interpreted stamp, `msg=audit(12/01/2026 10:00:01.123:456)`). It cannot be read
    faithfully: the date is written in the locale's format (`12/01/26` in the C locale,
    `01.12.2026` in German), at local time with no zone, and values are rewritten (names
    for ids, decoded text whose spaces end no field: `proctitle=/bin/sh -c id`). One such
    line in a raw log is quarantined instead (standard/auditd.py)."""
    first = con.execute(
        f"SELECT raw FROM {LINES_TABLE} WHERE bad IS NULL AND trim(raw) NOT IN ('', '----') "
        "AND NOT starts_with(raw, 'time->') ORDER BY line LIMIT 1").fetchone()
    if first is not None and INTERPRETED.match(first[0].lstrip("\ufeff")):
        raise InputError(
            "cannot read as auditd: this is interpreted ausearch output (ausearch -i), whose "
            "times are local dates in the locale's format without a zone and whose values "
            "are rewritten; run ausearch again with --raw (ausearch --raw ... > events.log) "
            "or load audit.log itself", source=source.display)


def _lines_sql(source: InputFile) -> str:
    # NUL never occurs in a readable audit record, so it is a safe "never" delimiter.
    return (
        f"read_csv({sql_string(str(source.path))}, columns = {{'raw': 'VARCHAR'}}, "
        "header = false, delim = chr(0), quote = '', escape = '', auto_detect = false, "
        f"max_line_size = {MAX_LINE_BYTES}, hive_partitioning = false, "
        f"compression = '{'gzip' if source.gzipped else 'none'}')"
    )


def read_lines(con: duckdb.DuckDBPyConnection, source: InputFile) -> None:
    """`LINES_TABLE(line, raw, bad)`: every physical line, numbered from 1; `bad` says
    why a line is not text."""
    if _duckdb_reads(con, source):
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {LINES_TABLE} AS
            SELECT row_number() OVER () AS line, rtrim(raw, chr(13)) AS raw,
                   CAST(NULL AS VARCHAR) AS bad
            FROM {_lines_sql(source)}
            """
        )
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {LINES_TABLE} "
                "(line BIGINT, raw VARCHAR, bad VARCHAR)")
    rows: list[tuple[int, str, str | None]] = []
    try:
        with _open(source) as handle:
            for number, line in _numbered(handle):
                rows.append((number, *_decoded(line)))
                if len(rows) >= _ROWS_PER_BATCH:
                    _insert(con, rows)
                    rows = []
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"cannot read as auditd (gzip): the gzip stream is "
            f"{'truncated' if isinstance(exc, EOFError) else 'corrupt'}",
            source=source.display,
        ) from None
    _insert(con, rows)


def _duckdb_reads(con: duckdb.DuckDBPyConnection, source: InputFile) -> bool:
    probe = con.cursor()
    try:
        probe.execute(f"SELECT count(*) FROM {_lines_sql(source)}").fetchall()
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException):
        return False
    finally:
        probe.close()
    return True


def _open(source: InputFile) -> IO[bytes]:
    if source.gzipped:
        return gzip.open(source.path, "rb")  # type: ignore[return-value]
    return source.path.open("rb")


def _numbered(handle: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(handle, start=1):
        yield number, line.removesuffix(b"\n").removesuffix(b"\r")


def _decoded(line: bytes) -> tuple[str, str | None]:
    if b"\x00" in line:
        return safe_text(line), "holds a NUL byte (shown as \\x00)"
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        reason = (f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1}; "
                  "invalid bytes shown as \\xNN)")
        return safe_text(line), reason


def _insert(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str, str | None]]) -> None:
    if not rows:
        return
    import pyarrow as pa  # here: every ingest imports this reader, few read auditd

    batch = pa.table({"line": [r[0] for r in rows], "raw": [r[1] for r in rows],
                      "bad": [r[2] for r in rows]})
    con.register(_BATCH, batch)
    try:
        con.execute(f"INSERT INTO {LINES_TABLE} SELECT * FROM {_BATCH}")
    finally:
        con.unregister(_BATCH)
