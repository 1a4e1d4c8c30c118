"""What a read-only connection may read once and remember: the database's own tables
and views, and answers derived from them alone (the data's fingerprint, the latest
run's parameters).

A trace asked the catalog eight to twelve times (store/attribution.existing_tables
for the fingerprint, the stored attribution, the evidence index, the coverage; the
Sigma metadata; the zone caveats), each a table function of 1-3 ms, and counted the
raw tables twice (start time, issue 14). Over a read-only connection none of that can
change: DuckDB holds the file for readers only (no writer, in this process or
another, until it closes), and the connection itself can create TEMP objects only.
So within `frozen(con)`, which Investigation.connect opens for a read-only
connection, the persistent tables and views are listed once, and `remembered`
keeps what is derived from them. TEMP objects (the shared views a trace installs,
the coverage's hourly table) are never remembered: a name that is not a persistent
table or view is asked of the catalog each time, as without the snapshot.

A connection that is not frozen (a writer's, the sandbox's, a test's own) gets None
and every caller asks the catalog as before: a writer creates tables mid-connection.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")

# The persistent (not TEMP) tables and views of the main schema, as existing_tables
# counts them (views: not DuckDB's internal ones).
PERSISTENT_SQL = """
    SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary
    UNION ALL
    SELECT view_name FROM duckdb_views()
    WHERE schema_name = 'main' AND NOT internal AND NOT temporary"""


class Snapshot:
    """One frozen connection's catalog (read at first use) and remembered answers."""

    def __init__(self) -> None:
        self.names: frozenset[str] | None = None
        self.memo: dict[str, Any] = {}


_FROZEN: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Snapshot] = \
    weakref.WeakKeyDictionary()


@contextmanager
def frozen(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Within it, `con` (read-only: its tables cannot change) answers persistent_names
    and remembered from one read each; forgotten on leaving."""
    _FROZEN[con] = Snapshot()
    try:
        yield con
    finally:
        _FROZEN.pop(con, None)


def is_frozen(con: duckdb.DuckDBPyConnection) -> bool:
    return con in _FROZEN


def persistent_names(con: duckdb.DuckDBPyConnection) -> frozenset[str] | None:
    """The persistent tables and views of main of a frozen connection, read once; None
    for a connection that is not frozen (ask the catalog)."""
    snapshot = _FROZEN.get(con)
    if snapshot is None:
        return None
    if snapshot.names is None:
        snapshot.names = frozenset(name for (name,) in con.execute(PERSISTENT_SQL).fetchall())
    return snapshot.names


def remembered(con: duckdb.DuckDBPyConnection, key: str, compute: Callable[[], T]) -> T:
    """compute(), once per frozen connection and `key`; every time on any other. Only
    for answers that depend on the persistent tables alone (never on TEMP objects),
    and immutable ones (or copied by the caller)."""
    snapshot = _FROZEN.get(con)
    if snapshot is None:
        return compute()
    if key not in snapshot.memo:
        snapshot.memo[key] = compute()
    return snapshot.memo[key]  # type: ignore[no-any-return]
