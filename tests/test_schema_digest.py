"""A writer creates the schema only when the database does not record this schema's
digest (store/database.py): every table once, in one transaction, and never a table of
the schema missing from a database that says it holds it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from auditlog import store
from auditlog.store.database import SCHEMA_DIGEST, SCHEMA_VERSION


def tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()


def meta(path: Path) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()


def test_a_new_database_records_the_version_and_the_digest(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    store.connect(db, snapshot=False).close()
    assert meta(db) == {"schema_version": str(SCHEMA_VERSION), "schema_ddl": SCHEMA_DIGEST}
    assert {"actions", "charges", "ingested_files", "quarantine", "naive_files"} <= tables(db)


def test_a_database_without_the_digest_gets_its_missing_tables(tmp_path: Path) -> None:
    # A database of this version written before the digest was kept, or by a schema
    # that lacked a table this one has: the writer creates what is missing.
    db = tmp_path / "older.duckdb"
    store.connect(db, snapshot=False).close()
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE naive_files; DELETE FROM meta WHERE key = 'schema_ddl'")
    con.execute("INSERT INTO actions (event_id) VALUES ('E1')")
    con.close()
    store.connect(db, snapshot=False).close()
    assert "naive_files" in tables(db)
    assert meta(db)["schema_ddl"] == SCHEMA_DIGEST
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT event_id FROM actions").fetchall() == [("E1",)]  # kept
    con.close()


def test_a_reader_never_writes_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "older.duckdb"
    store.connect(db, snapshot=False).close()
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM meta WHERE key = 'schema_ddl'")
    con.close()
    store.connect(db, read_only=True).close()
    assert "schema_ddl" not in meta(db)
