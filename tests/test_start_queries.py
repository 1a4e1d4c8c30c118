"""The start path's batched queries answer as the one-query-each SQL they replaced
(issue 14): `status`'s one row of every kind's count, time range and quarantined lines;
the connection's settings set in one round trip; the schema check that reads `meta`
at once; the shared views created with one statement string each."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from golden import sample_db

from auditlog import store
from auditlog.analysis.status import database_status
from auditlog.errors import UsageError
from auditlog.kinds import KINDS

__all__ = ["sample_db"]


def per_kind(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, tuple[object, ...]], int]:
    """What status answered before: two queries per kind, one for the total."""
    kinds = {}
    for kind in KINDS.values():
        column = kind.time_column
        rows, first, last = con.execute(
            f"SELECT count(*), min({column}), max({column}) FROM {kind.name}").fetchone()
        (quarantined,) = con.execute("SELECT count(*) FROM quarantine WHERE kind = $kind",
                                     {"kind": kind.name}).fetchone()
        kinds[kind.name] = (rows, first, last, quarantined)
    ((total,),) = con.execute("SELECT count(*) FROM quarantine").fetchall()
    return kinds, total


def check_status(db: Path) -> None:
    con = store.connect(db, read_only=True)
    try:
        status = database_status(con)
        kinds, total = per_kind(con)
    finally:
        con.close()
    got = {name: (k.rows, k.first, k.last, k.quarantined) for name, k in status.kinds.items()}
    assert list(got) == list(KINDS)
    assert got == kinds
    for name, (_, first, last, _) in got.items():  # the types as each table gives them
        assert type(first) is type(kinds[name][1]) and type(last) is type(kinds[name][2])
    assert status.quarantined == total


def test_status_of_the_sample_is_the_per_kind_queries(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db), read_only=True)
    quarantined = con.execute("SELECT count(DISTINCT kind), count(*) FROM quarantine"
                              ).fetchall()
    con.close()
    assert quarantined[0][1] > 0  # the sample quarantines rows: the counts are not all 0
    check_status(sample_db)


def test_status_with_empty_kinds_and_quarantine_in_several(tmp_path: Path) -> None:
    # Kinds without rows (min/max NULL), quarantined lines of two kinds.
    db = tmp_path / "partial.duckdb"
    store.connect(db).close()
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO quarantine (path, file_sha256, kind, location, reason, "
                "ingested_at) SELECT 'f' || i, 'sha' || i, CASE WHEN i % 3 = 0 THEN "
                "'actions' ELSE 'charges' END, 'line ' || i, 'bad', now() FROM range(7) t(i)")
    con.close()
    check_status(db)
    con = store.connect(db, read_only=True)
    status = database_status(con)
    con.close()
    assert status.kinds["actions"].quarantined == 3
    assert status.kinds["charges"].quarantined == 4
    assert status.kinds["changes"] == status.kinds["changes"].__class__(0, None, None, 0)
    assert status.quarantined == 7


def test_every_connection_gets_both_settings(sample_db: Path) -> None:
    con = store.connect(sample_db, read_only=True)
    try:
        assert con.execute("SELECT current_setting('TimeZone'), "
                           "current_setting('preserve_insertion_order')").fetchall() == [
            ("UTC", True)]
        # The schema check leaves the connection usable (no aborted statement).
        assert con.execute("SELECT count(*) FROM meta").fetchall()[0][0] >= 1
    finally:
        con.close()


def test_schema_check_new_database_and_other_version(tmp_path: Path) -> None:
    bare = tmp_path / "bare.duckdb"
    duckdb.connect(str(bare)).close()  # no meta table: new, opened as it is
    store.connect(bare, read_only=True).close()
    db = tmp_path / "other.duckdb"
    store.connect(db).close()
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = 'x9' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(UsageError, match="another auditlog"):
        store.connect(db, read_only=True)
