"""Typing: every staged row of one kind typed, digested and checked against the contract,
in one pass, into `TYPED` (validate.typed_select writes the SQL; this runs it).

A fresh file read by a parallel scan (`Staged.scan`) is typed straight into its kind's
table instead (`_check_direct`): one materialization of the rows, not a temp table of
every typed row copied into the kind table afterwards. Its rows are then the kind
table's rows past a mark (`Direct`); `TYPED` holds only what judging and storing need
(position, id, digest, reason and text of a refused row, naive/DST counts), read back
from them, and loading.store_rows deletes the rows that must not stay (blank lines,
refused rows, duplicates, conflicts) and numbers the rest, before the commit."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from auditlog.ingest.files import InputFile
from auditlog.ingest.readers import is_read_error, read_error, settle
from auditlog.ingest.staging import TYPED, TYPED_SCAN, Staged, drop, unnumbered
from auditlog.ingest.validate import typed_select
from auditlog.kinds import Kind
from auditlog.sqltext import sql_string

# `_file` of a row the direct read wrote but that is no row of the file: a blank line, or
# a row refused (its reason and text held in `extra` until loading.store_rows deletes
# it). A stored `_file` is a SHA-256 in hex, so neither can be taken for one.
BLANK_MARK = "#blank"
REFUSED_MARK = "#refused"
# The direct read keeps a row's naive and DST counts in `_row` (naive * COUNTS + dst)
# until store_rows numbers the row.
COUNTS = 4096
# How many of a file's first valid rows are looked up among the stored rows before
# writing it straight into the kind table: a row that will not load is written only to
# be deleted (a file of the same events as one stored, in another format, costs about a
# third more than through the typed table), so a file that begins with stored ids (an
# overlapping export, a rotated log's first lines) takes the typed table.
SAMPLE = 2048


@dataclass(frozen=True)
class Direct:
    """Rows the typed read wrote straight into the kind table (see _check_direct): those
    whose rowid is past `after` (the table's last rowid before them, -1 for none); the
    row of rowid `first` is the file's line or record 1, and rowids are dense."""

    after: int
    first: int

    def row(self, rowid: str = "rowid") -> str:
        """SQL: the file position (from 1) of the kind table's row `rowid`."""
        return f"({rowid} - {self.first} + 1)"

    def new(self, rowid: str = "rowid") -> str:
        """SQL: whether the kind table's row `rowid` is one of these."""
        return f"{rowid} > {self.after}"


def check_rows(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
    *,
    direct_to: str | None = None,
) -> tuple[Staged, Direct | None]:
    """`TYPED` for `staged`; returns the staged table its rows were read from and, when
    they were written straight into the kind table, where (Direct). For a lazy view this
    is where the file is read, so its read errors are reported here; a lazy CSV view
    whose numbering did not hold is staged again and checked again (readers.settle).

    `direct_to`: the SHA-256 of a file whose rows may be written straight into the
    kind table (its content not loaded before, its ids no other kind's); a parallel scan
    is then (see the module docstring)."""
    direct = _check(con, source, staged, kind, tz, currency, direct_to)
    if (restaged := settle(con, source, staged)) is not None:
        if direct is not None:  # the rows read from the view go: the table is read again
            con.execute(f"DELETE FROM {kind.name} WHERE {direct.new()}")
        staged = restaged
        direct = _check(con, source, staged, kind, tz, currency, None)
    return staged, direct


def drop_typed(con: duckdb.DuckDBPyConnection) -> None:
    drop(con, TYPED, TYPED_SCAN)


def _check(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
    direct_to: str | None,
) -> Direct | None:
    drop_typed(con)
    if staged.scan is not None and _ordered(con):
        if direct_to is not None and (
                direct := _check_direct(con, source, staged, kind, tz, currency, direct_to)):
            return direct
        if _check_scan(con, source, staged, kind, tz, currency):
            return None
    drop_typed(con)
    _typed_pass(con, source, unnumbered(staged), TYPED, kind, tz, currency)
    return None


def _ordered(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection keeps insertion order (store.connect sets it), so that a
    parallel scan's rows are stored in file order and a row's number is its row id's
    offset from the first."""
    (ordered,) = con.execute(
        "SELECT current_setting('preserve_insertion_order')"
    ).fetchone() or (False,)
    return bool(ordered)


def _check_direct(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
    sha256: str,
) -> Direct | None:
    """Every line of the parallel scan typed straight into the kind table, in file order:
    a valid row as it is stored but for `_row` (its naive/DST counts until numbered),
    a blank line or a refused row under a mark (BLANK_MARK, REFUSED_MARK), a refused
    row's reason and text in `extra`. Then `TYPED` from those rows (see the module
    docstring). None, and nothing kept, if one of the file's first SAMPLE valid rows has
    an id already stored, or if the new rows' ids are not dense (they are)."""
    table = kind.name
    (after,) = con.execute(f"SELECT coalesce(max(rowid), -1) FROM {table}").fetchone() or (-1,)
    typed = typed_select(kind, staged, currency=currency)
    key = kind.id_column
    if after >= 0 and _run(con, source, staged, f"""
            SELECT count(*) FROM (
              SELECT {key} FROM ({typed}) WHERE NOT _blank AND _reason IS NULL LIMIT {SAMPLE}) t
            WHERE EXISTS (SELECT 1 FROM {table} s WHERE s.{key} = t.{key})
            """, {"tz": tz}):
        return None
    columns = ", ".join(kind.column_names)
    marks = {"sha": sha256, "blank": BLANK_MARK, "refused": REFUSED_MARK}
    _run(con, source, staged, f"""
        INSERT INTO {table} ({columns}, extra, _file, _row, _digest)
        SELECT {columns},
               CASE WHEN _blank THEN NULL
                    WHEN _reason IS NOT NULL THEN json_object('reason', _reason, 'raw', _raw)
                    ELSE extra END,
               CASE WHEN _blank THEN $blank WHEN _reason IS NOT NULL THEN $refused
                    ELSE $sha END,
               _naive * {COUNTS} + _dst, _digest
        FROM ({typed})
        """, {"tz": tz, **marks})
    first, last, count = con.execute(
        f"SELECT min(rowid), max(rowid), count(*) FROM {table} WHERE rowid > {int(after)}"
    ).fetchone() or (0, 0, 0)
    if count and last - first + 1 != count:
        con.execute(f"DELETE FROM {table} WHERE rowid > {int(after)}")
        return None
    direct = Direct(after=int(after), first=int(first or 0))
    con.execute(
        f"""
        CREATE TEMP TABLE {TYPED_SCAN} AS
        SELECT {direct.row()} AS _row, {kind.id_column}, _digest,
               CASE WHEN _file = $refused THEN json_extract_string(extra, '$.reason') END
                 AS _reason,
               CASE WHEN _file = $refused THEN json_extract_string(extra, '$.raw') END AS _raw,
               _row // {COUNTS} AS _naive, _row % {COUNTS} AS _dst
        FROM {table} WHERE {direct.new()} AND _file <> $blank
        """,
        {"blank": BLANK_MARK, "refused": REFUSED_MARK},
    )
    con.execute(
        f"""
        CREATE TEMP VIEW {TYPED} AS
        SELECT _row, {sql_string(staged.loc_prefix)} || _row AS _loc, * EXCLUDE (_row)
        FROM {TYPED_SCAN}
        """
    )
    return direct


def _check_scan(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> bool:
    """The parallel read of an unnumbered scan (see Staged.scan): rows are stored in file
    order (insertion order is preserved, see _ordered), so a row's number is its row
    id's offset from the first. False, and nothing kept, if the row ids are not dense
    (they are)."""
    _typed_pass(con, source, staged, TYPED_SCAN, kind, tz, currency)
    first, last, count = con.execute(
        f"SELECT min(rowid), max(rowid), count(*) FROM {TYPED_SCAN}"
    ).fetchone() or (0, 0, 0)
    if count and last - first + 1 != count:
        return False
    # Deleting blank lines leaves the other rows' ids as they were.
    con.execute(f"DELETE FROM {TYPED_SCAN} WHERE _blank")
    number = f"(rowid - {int(first or 0)} + 1)"
    con.execute(
        f"""
        CREATE TEMP VIEW {TYPED} AS
        SELECT {number} AS _row, {sql_string(staged.loc_prefix)} || {number} AS _loc,
               * EXCLUDE (_blank)
        FROM {TYPED_SCAN}
        """
    )
    return True


def _typed_pass(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    table: str,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> None:
    _run(con, source, staged,
         f"CREATE TEMP TABLE {table} AS {typed_select(kind, staged, currency=currency)}",
         {"tz": tz})


def _run(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    statement: str,
    parameters: dict[str, str],
) -> int:
    """A statement reading the staged rows: for a lazy view, a read of the file, whose
    read errors are the file's (InputError). Returns the first value of its result."""
    try:
        row = con.execute(statement, parameters).fetchone()
        return int(row[0]) if row and row[0] is not None else 0
    except duckdb.Error as exc:
        if not staged.lazy or not is_read_error(source, exc):
            raise
        raise read_error(source, exc) from None
