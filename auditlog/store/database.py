"""The DuckDB database: schema, connections and the bookkeeping tables.

One file holds everything: the canonical tables of the five kinds (see kinds.py), the
files that were ingested, and the quarantined rows. Every connection runs in UTC so a
TIMESTAMPTZ prints and compares the same on every machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import duckdb

from auditlog.errors import UsageError
from auditlog.kinds import KINDS, SOURCE_COLUMNS, Kind
from auditlog.store.locking import open_database

DEFAULT_DB = "auditlog.duckdb"
# ingested_files.tz of a file that had no naive timestamp: no zone was assumed. With the
# schema, so that status reads it without importing the ingest (readers, pyarrow).
NO_ZONE = "none"
# 2: source_records and the <kind>_with_record views (the verbatim record of every
# standard-format row, ingest/kept.py). 3: the rows' content digest (`_digest`) is the
# md5 of a JSON array of the values, not of a JSON object (ingest/validate.py), so
# digests stored before would not match. 4: `_digest` is that md5's upper 64 bits as a
# number (UBIGINT), not as hex text. A database of another version is refused.
SCHEMA_VERSION = 4


def default_db_path() -> Path:
    return Path(os.environ.get("AUDITLOG_DB") or DEFAULT_DB)


def table_ddl(kind: Kind) -> str:
    columns = [f"{c.name} {c.sql_type}" for c in kind.columns]
    columns += [f"{name} {sql_type}" for name, sql_type in SOURCE_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {kind.name} (\n  " + ",\n  ".join(columns) + "\n)"


BOOKKEEPING_DDL = (
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    # One row per distinct (content, path) ingested; reloading the same file adds nothing.
    """CREATE TABLE IF NOT EXISTS ingested_files (
        sha256 VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        tz VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        loaded BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        quarantined BIGINT NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (sha256, path)
    )""",
    # A row that broke the contract, with enough to find and fix it. Keyed by the file's
    # content and the row number so that quarantining the same row again changes nothing.
    """CREATE TABLE IF NOT EXISTS quarantine (
        file_sha256 VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        row_number BIGINT,          -- NULL for a CSV record too malformed to number
        location VARCHAR NOT NULL,  -- 'line 12', 'element 3', 'record 7', 'row 9'
        reason VARCHAR NOT NULL,
        raw VARCHAR,
        ingested_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (file_sha256, location)
    )""",
    # A row a file held whose id was already stored from another file: the same content
    # (a duplicate) or not (a conflict, also in quarantine). Forgetting the file that
    # stored the row hands a duplicate over to the earliest file that also has it, and
    # refuses while a conflict would load without it (forget.py).
    """CREATE TABLE IF NOT EXISTS shared_rows (
        file_sha256 VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        row_number BIGINT NOT NULL,
        location VARCHAR NOT NULL,
        verdict VARCHAR NOT NULL,   -- 'duplicate', 'variant' (other extras) or 'conflict'
        stored_file VARCHAR NOT NULL
        -- No key: a content's rows are recorded at its first load only (pipeline._store),
        -- and an index would cost more than the rows (~75 bytes a row).
    )""",
    # Where an ingested file was on disk (its absolute path when loaded), for `verify
    # --inputs`: ingested_files.path is as given, relative to a directory nobody recorded.
    # The latest load of the same (content, path) says where it is now.
    """CREATE TABLE IF NOT EXISTS file_locations (
        sha256 VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        location VARCHAR NOT NULL,
        PRIMARY KEY (sha256, path)
    )""",
    # A file with timestamps that carry no offset: how many, how many fell in a DST gap or
    # overlap, and whether their zone (ingested_files.tz) was chosen with --tz or assumed
    # (UTC); an assumed zone is a caveat of every answer that reads the file (caveats.py).
    """CREATE TABLE IF NOT EXISTS naive_files (
        sha256 VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        naive_times BIGINT NOT NULL,
        dst_resolved BIGINT NOT NULL,
        chosen BOOLEAN NOT NULL,
        PRIMARY KEY (sha256, path)
    )""",
    # The verbatim source record of a standard-format row (CloudTrail, OCSF, EVTX, ...:
    # what each holds is in ingest/kept.py), reached from a kind row by (_file, _row).
    # Several rows of one record share it. No key: a content's records are written once,
    # at its first load (kept.store_kept), and an index would cost more than the join.
    # zstd: records of one source repeat their keys and values, and DuckDB's default
    # string compression keeps ~half of their text; zstd keeps a tenth (100k CloudTrail
    # events: 49 MB -> 4.7 MB, and faster to write; BENCHMARKS.md).
    """CREATE TABLE IF NOT EXISTS source_records (
        file_sha256 VARCHAR NOT NULL,
        row_number BIGINT NOT NULL,
        source_format VARCHAR NOT NULL,  -- its adapter: 'cloudtrail', 'k8s', 'windows', ...
        record JSON NOT NULL USING COMPRESSION zstd
    )""",
)


# The views record_view creates, by name, with the kind each reads: a rule reading one
# requires that kind (pack/units.py), and the Spark engine makes the same views.
RECORD_VIEWS = {f"{name}_with_record": name for name in KINDS}


def record_view(kind: Kind) -> str:
    """`<kind>_with_record`: every row of the kind with its source record and the
    standard format that read it (both NULL for a row of the contract's own columns,
    whose row is its record), for rules that read a field of the source no mapping
    kept: `record ->> '$.requestParameters.userName'`."""
    return (
        f"CREATE VIEW IF NOT EXISTS {kind.name}_with_record AS "
        f"SELECT k.*, r.source_format, r.record FROM {kind.name} k LEFT JOIN source_records r "
        "ON r.file_sha256 = k._file AND r.row_number = k._row"
    )


def configure(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings every connection gets: UTC, and deterministic row order (one
    round trip: a command opens the database once or twice, issue 14)."""
    con.execute("SET TimeZone = 'UTC'; SET preserve_insertion_order = true")


def schema_statements() -> list[str]:
    """Every table and view of a new database, in creation order."""
    return ([table_ddl(kind) for kind in KINDS.values()] + list(BOOKKEEPING_DDL)
            + [record_view(kind) for kind in KINDS.values()])


# What a database records of the schema it was given (meta 'schema_ddl'): the digest of
# its statements. A writer whose database holds this one's skips creating it, ~20
# statements and 20-30 ms of every writing command (issue 14).
SCHEMA_DIGEST = hashlib.sha256(";\n".join(schema_statements()).encode()).hexdigest()[:16]


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every table and view (those already there are kept), and the schema's version and
    digest, in one transaction: a database whose meta holds the digest holds all of it."""
    script = ";\n".join([
        "BEGIN TRANSACTION", *schema_statements(),
        f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}')",
        f"INSERT OR REPLACE INTO meta VALUES ('schema_ddl', '{SCHEMA_DIGEST}')",
        "COMMIT"])
    try:
        con.execute(script)
    except duckdb.Error:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def connect(path: Path | str | None = None, *, read_only: bool = False,
            snapshot: bool = True) -> duckdb.DuckDBPyConnection:
    """Open (and, unless read-only, create) the database at `path`.

    A writer first refreshes the read snapshot other processes read while it writes
    (snapshot.py); snapshot=False skips that copy for a write that takes a moment (a
    triage), whose readers had better wait for it than pay for a copy of the database.
    """
    db_path = Path(path) if path is not None else default_db_path()
    if read_only and not db_path.exists():
        raise UsageError(
            f"no database at {db_path}; load logs first with 'auditlog ingest PATH'"
        )
    try:
        # Waits while another process holds the file, or raises DatabaseBusy (locking.py).
        con = open_database(db_path, read_only=read_only, snapshot=snapshot)
    except duckdb.Error as exc:
        raise UsageError(f"cannot open database {db_path}: {first_line(exc)}") from None
    configure(con)
    try:
        whole = check_schema_version(con, db_path)
        if not read_only and not whole:
            create_schema(con)
    except (UsageError, duckdb.Error):
        con.close()
        raise
    return con


def check_schema_version(con: duckdb.DuckDBPyConnection, db_path: Path) -> bool:
    """Refuse a database written with another schema (issue 14 lets a new version
    drop the old: its logs are loaded again); True when it holds this schema whole (its
    digest), so a writer need not create it. A database with no meta table yet is new.
    The meta table is read at once, its absence the catalog error: a look in
    duckdb_tables() first cost ~4 ms of every command's start (issue 14)."""
    # fetchall, not fetchone: a result left unfinished blocks the connection's next query.
    try:
        rows = con.execute("SELECT key, value FROM main.meta "
                           "WHERE key IN ('schema_version', 'schema_ddl')").fetchall()
    except duckdb.CatalogException:
        return False
    values = dict(rows)
    version = values.get("schema_version", "1")
    if version == str(SCHEMA_VERSION):
        return values.get("schema_ddl") == SCHEMA_DIGEST
    older = version.isdigit() and int(version) < SCHEMA_VERSION
    raise UsageError(
        f"database {db_path} was written by {'an older' if older else 'another'} auditlog "
        f"(schema version {version}, this one reads {SCHEMA_VERSION}); load the logs again "
        "into a new database: remove the file or set AUDITLOG_DB to a new path, then "
        "'auditlog ingest PATH'"
    )


def first_line(exc: BaseException) -> str:
    """DuckDB errors span several lines; the first says what happened."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
