"""Typing: every staged row of one kind typed, digested and checked against the contract,
in one pass, into `TYPED` (validate.typed_select writes the SQL; this runs it)."""

from __future__ import annotations

import duckdb

from auditlog.ingest.files import InputFile
from auditlog.ingest.readers import is_read_error, read_error, settle
from auditlog.ingest.staging import TYPED, TYPED_SCAN, Staged, drop, note_headers, unnumbered
from auditlog.ingest.validate import typed_select
from auditlog.kinds import Kind
from auditlog.sqltext import sql_string


def check_rows(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> Staged:
    """`TYPED` for `staged`; returns the staged table its rows were read from. For a lazy
    view this is where the file is read, so its read errors are reported here; a lazy
    CSV view whose numbering did not hold is staged again and checked again
    (readers.settle)."""
    _check(con, source, staged, kind, tz, currency)
    if (restaged := settle(con, source, staged)) is not None:
        staged = restaged
        _check(con, source, staged, kind, tz, currency)
    return staged


def drop_typed(con: duckdb.DuckDBPyConnection) -> None:
    drop(con, TYPED, TYPED_SCAN)


def _check(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> None:
    drop_typed(con)
    if staged.scan is not None and _check_scan(con, source, staged, kind, tz, currency):
        return
    drop_typed(con)
    _typed_pass(con, source, unnumbered(staged), TYPED, kind, tz, currency)
    if staged.headers is not None:  # the records its numbered view left out
        records, first = con.execute(staged.headers).fetchone() or (0, None)
        note_headers(con, records, first)


def _check_scan(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> bool:
    """The parallel read of an unnumbered scan (see Staged.scan): rows are stored in file
    order (insertion order is preserved), so a row's number is its row id's offset from
    the first. False, and nothing kept, if insertion order is not preserved on this
    connection (store.connect preserves it) or the row ids are not dense (they are)."""
    (ordered,) = con.execute(
        "SELECT current_setting('preserve_insertion_order')"
    ).fetchone() or (False,)
    if not ordered:
        return False
    _typed_pass(con, source, staged, TYPED_SCAN, kind, tz, currency)
    first, last, count = con.execute(
        f"SELECT min(rowid), max(rowid), count(*) FROM {TYPED_SCAN}"
    ).fetchone() or (0, 0, 0)
    if count and last - first + 1 != count:
        return False
    if staged.headers is not None:  # its `_blank` records repeat the header
        records, at = con.execute(
            f"SELECT count(*), min(rowid) FROM {TYPED_SCAN} WHERE _blank").fetchone() or (0, None)
        note_headers(con, records, None if at is None else at - int(first or 0) + 1)
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
    try:
        con.execute(
            f"CREATE TEMP TABLE {table} AS {typed_select(kind, staged, currency=currency)}",
            {"tz": tz},
        )
    except duckdb.Error as exc:
        if not staged.lazy or not is_read_error(source, exc):
            raise
        raise read_error(source, exc) from None
