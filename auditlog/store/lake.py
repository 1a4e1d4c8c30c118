"""The Parquet lake: the database's five kinds as Parquet files other engines (Spark) read.

Layout, one directory per kind:

    LAKE/actions/day=2026-03-10/part-<uuid>.parquet
    LAKE/accounts/part-<uuid>.parquet          (no natural day: unpartitioned)

Rows are partitioned by the UTC day of their time column (kinds.Kind.time_column);
timestamps are Parquet TIMESTAMP(MICROS, adjusted to UTC), amounts DECIMAL(18,4), the
`extra` JSON as text. Files are only ever added, each under a fresh unique name, so an
append never rewrites what a reader may be reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from auditlog.errors import UsageError
from auditlog.kinds import KINDS, SOURCE_COLUMNS, Kind
from auditlog.store import first_line

PARTITION = "day"
UNPARTITIONED = frozenset({"accounts"})


def partition_column(kind: Kind) -> str | None:
    """The time column whose UTC day partitions `kind`, or None (accounts)."""
    return None if kind.name in UNPARTITIONED else kind.time_column


def lake_columns(kind: Kind) -> list[str]:
    """The columns a kind has in the lake, in order (the partition column aside)."""
    return [*kind.column_names, *(name for name, _ in SOURCE_COLUMNS)]


def select_sql(kind: Kind, where: str = "true") -> str:
    """The SELECT that turns a table's rows into lake rows (plus `day` when partitioned)."""
    # `_digest` (UBIGINT) as its decimal text: Spark has no unsigned 64-bit integer
    # (it reads Parquet's as a decimal), and text compares the same on both engines.
    columns = [f"CAST({c} AS VARCHAR) AS {c}" if c in ("extra", "_digest") else c
               for c in lake_columns(kind)]
    time_column = partition_column(kind)
    if time_column is not None:
        # The day in UTC whatever the session zone: partitions mean the same everywhere.
        columns.append(f"strftime(timezone('UTC', {time_column}), '%Y-%m-%d') AS {PARTITION}")
    return f"SELECT {', '.join(columns)} FROM {kind.name} WHERE {where}"


def quoted(path: Path) -> str:
    # COPY ... TO takes no bound parameter for its path; quote it as a literal instead.
    return "'" + str(path).replace("'", "''") + "'"


def copy_kind(con: duckdb.DuckDBPyConnection, kind: Kind, target: Path, where: str = "true",
              args: list[object] | None = None) -> int:
    """Write the rows of `kind` matching `where` as new files under `target`; their count."""
    ((rows,),) = con.execute(f"SELECT count(*) FROM {kind.name} WHERE {where}",
                             args or []).fetchall()
    if not rows:
        return 0
    target.mkdir(parents=True, exist_ok=True)
    options = ["FORMAT parquet", "COMPRESSION zstd"]
    if partition_column(kind) is None:
        # One unpartitioned file; the uuid keeps it from ever replacing an existing one.
        ((uuid,),) = con.execute("SELECT CAST(uuid() AS VARCHAR)").fetchall()
        destination = quoted(target / f"part-{uuid}.parquet")
    else:
        options += [f"PARTITION_BY ({PARTITION})", "APPEND", "FILENAME_PATTERN 'part-{uuid}'"]
        destination = quoted(target)
    try:
        con.execute(f"COPY ({select_sql(kind, where)}) TO {destination} ({', '.join(options)})",
                    args or [])
    except duckdb.Error as exc:
        raise UsageError(f"cannot write the lake at {target}: {first_line(exc)}") from None
    return int(rows)


def export_lake(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, int]:
    """Write every kind of the database into a new lake at `out`; rows per kind."""
    busy = [name for name in KINDS if has_files(out / name)]
    if busy:
        raise UsageError(f"{out} already holds a lake ({', '.join(busy)}); export into an "
                         "empty directory, or add new logs with 'auditlog ingest --lake'")
    copy_records(con, out / RECORDS)
    return {name: copy_kind(con, kind, out / name) for name, kind in KINDS.items()}


RECORDS = "source_records"  # the lake's copy of the table, for <kind>_with_record on Spark


def copy_records(con: duckdb.DuckDBPyConnection, target: Path, where: str = "true",
                 args: list[object] | None = None) -> None:
    """Write the source records (store/database.py) matching `where` under `target`."""
    ((rows,),) = con.execute(f"SELECT count(*) FROM source_records WHERE {where}",
                             args or []).fetchall()
    if not rows:
        return
    target.mkdir(parents=True, exist_ok=True)
    ((uuid,),) = con.execute("SELECT CAST(uuid() AS VARCHAR)").fetchall()
    select = ("SELECT file_sha256, row_number, source_format, CAST(record AS VARCHAR) AS record "
              f"FROM source_records WHERE {where}")
    try:
        con.execute(f"COPY ({select}) TO {quoted(target / f'part-{uuid}.parquet')} "
                    "(FORMAT parquet, COMPRESSION zstd)", args or [])
    except duckdb.Error as exc:
        raise UsageError(f"cannot write the lake at {target}: {first_line(exc)}") from None


def append_files(con: duckdb.DuckDBPyConnection, lake: Path,
                 file_digests: Iterable[str]) -> dict[str, int]:
    """Append to the lake the stored rows that came from the given ingested files
    (their SHA-256, `_file`): what one ingest call loaded. Rows per kind."""
    digests = sorted(set(file_digests))
    if not digests:
        return {name: 0 for name in KINDS}
    copy_records(con, lake / RECORDS, "file_sha256 IN (SELECT unnest(?))", [digests])
    return {name: copy_kind(con, kind, lake / name, "_file IN (SELECT unnest(?))", [digests])
            for name, kind in KINDS.items()}


def has_files(directory: Path) -> bool:
    return directory.is_dir() and any(p.suffix == ".parquet" for p in directory.rglob("*"))


def kind_path(lake: Path, name: str) -> Path:
    return lake / name


def check_lake(lake: Path) -> None:
    """A lake must exist and hold at least one kind's files."""
    if not lake.is_dir():
        raise UsageError(f"no lake at {lake}; write one with 'auditlog lake export --out {lake}'")
    if not any(has_files(lake / name) for name in KINDS):
        raise UsageError(f"{lake} holds no Parquet files of any kind ({', '.join(KINDS)}); "
                         f"write one with 'auditlog lake export --out {lake}'")
