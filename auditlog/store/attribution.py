"""Attribution stored by `auditlog run`, so that a trace is a point look-up.

Computing the shared views (queries/shared/*.sql) means recomputing the whole
attribution model: a charge's blame depends on the earliest anomalous charge of its
actor on a system. `auditlog run` therefore stores the views the look-ups read as
tables `attribution_<view>`, each sorted by its look-up key so that DuckDB's zone maps
skip all but one row group, with a fingerprint of the data and of the views' SQL in
`attribution_state`. The widest, `charge_causes` (one row per charge, 24 columns), is
stored unsorted instead (its sort spilled 2 GB at 10M charges under the memory limit,
issue 14), with a narrow key table `attribution_charge_causes_key` (charge_id, ts)
sorted by charge_id: a trace reads the charge's ts there, then the wide row by charge_id
and ts, which the zone maps of `ts` prune because the wide table keeps the charges'
order, which is time order as logs arrive (KEYED_VIEWS; a row id would not do: DuckDB
gives rows written in a transaction other ids after its commit, and renumbers rows when
a checkpoint compacts deletions). It also stores `attribution_evidence` (item, rule_id), the present
findings' evidence sorted by a hash of the item, with the run it reflects in
`attribution_evidence_state`.

The attribution is always computed here, on the database, whichever engine runs the
rules (findings.run_packs stores it before they run): on Spark too, traces and reports
read DuckDB tables. Readers (engines/sandbox.install_shared_views, the DuckDB engine's
rules of the run that just stored them, attribution.rules_for) use the stored tables
only while the fingerprint still matches: after an ingest without a new run they are
stale and the views are computed as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

import duckdb

from auditlog.store.catalog import persistent_names, remembered

# Stored views and their look-up key, each sorted by it (but KEYED_VIEWS); the others
# stay views over the raw tables.
STORED_VIEWS = {
    "charge_causes": "charge_id",
    "charge_refunds": "charge_id",
    "change_blame": "actor, system, t0",
    "anomalous_charges": "charge_id",
    "privilege_grants": "subject, granted_at, grant_event_id",
}
# Stored unsorted, with a key table (key, locator) sorted by key: a point look-up reads
# the locator's values of the key there and filters the wide table by both.
KEYED_VIEWS = {"charge_causes": ("charge_id", "ts")}
STATE_TABLE = "attribution_state"
EVIDENCE_TABLE = "attribution_evidence"
EVIDENCE_STATE = "attribution_evidence_state"
RAW_TABLES = ("actions", "privileges", "changes", "charges", "accounts")


class View(Protocol):
    """A shared view as the store sees it (pack.units.SqlUnit is one): the store sits
    below the pack, so it takes the views, in creation order, from its caller."""

    @property
    def name(self) -> str: ...
    @property
    def sql(self) -> str: ...


def stored_name(view: str) -> str:
    return f"attribution_{view}"


def key_name(view: str) -> str:
    """The key table of a view of KEYED_VIEWS."""
    return f"{stored_name(view)}_key"


def write_key(con: duckdb.DuckDBPyConnection, view: str) -> None:
    """The key table of `view` (KEYED_VIEWS) from its stored table, sorted by key."""
    key, locator = KEYED_VIEWS[view]
    con.execute(f"CREATE OR REPLACE TABLE {key_name(view)} AS SELECT {key}, {locator} "
                f"FROM {stored_name(view)} ORDER BY {key}")


def key_locators(con: duckdb.DuckDBPyConnection, view: str, value: object) -> list[object] | None:
    """The locator values of the stored rows of `view` whose key is `value`, from its key
    table; None without a key table (or with a NULL locator: then it cannot filter). Only
    meaningful while the stored table is fresh (fresh_stored_views)."""
    if not table_exists(con, key_name(view)):
        return None
    key, locator = KEYED_VIEWS[view]
    found = [row[0] for row in con.execute(
        f"SELECT {locator} FROM {key_name(view)} WHERE {key} = ?", [value]).fetchall()]
    return None if any(v is None for v in found) else sorted(set(found))


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """A table or view of that name in the main schema (temporary ones too)."""
    return name in existing_tables(con, [name])


def existing_tables(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> set[str]:
    """Those of `names` that are tables or views of the main schema (temporary ones
    too), as information_schema.tables lists them. Asked in one catalog query, of the
    tables first: information_schema.tables and duckdb_views() cost a trace each about
    as much as a point look-up (start time, issue 14); views only for a name left. On a
    frozen read-only connection (catalog.py) the persistent ones are read once per
    connection; only a name that is none of them is asked (it may be a TEMP object)."""
    wanted = list(names)
    persistent = persistent_names(con)
    found = {name for name in wanted if name in persistent} if persistent is not None \
        else set()
    left = [name for name in wanted if name not in found]
    if not left:
        return found
    found |= {name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() "
        "WHERE schema_name = 'main' AND list_contains(?, table_name)", [left]).fetchall()}
    left = [name for name in left if name not in found]
    if left:
        found |= {name for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' "
            "AND NOT internal AND list_contains(?, view_name)", [left]).fetchall()}
    return found


def fingerprint(con: duckdb.DuckDBPyConnection, views: Sequence[View]) -> str:
    """A digest of what the attribution depends on: the ingested files (content digests),
    the raw tables' row counts (they also change without a file, e.g. a direct load) and
    the shared views' SQL."""
    digest = hashlib.sha256()
    for view in views:
        digest.update(f"view {view.name}\n{view.sql}\n".encode())
    digest.update(remembered(con, "data lines", lambda: data_lines(con)))
    return digest.hexdigest()


def data_lines(con: duckdb.DuckDBPyConnection) -> bytes:
    """The fingerprint's lines of the data (files, row counts); read once per frozen
    connection (catalog.py: the stored attribution's freshness and the coverage's ask
    alike)."""
    lines: list[str] = []
    present = existing_tables(con, ("ingested_files", *RAW_TABLES))
    if "ingested_files" in present:
        for sha, path in con.execute("SELECT sha256, path FROM ingested_files "
                                     "ORDER BY sha256, path").fetchall():
            lines.append(f"file {sha} {path}\n")
    counted = [table for table in RAW_TABLES if table in present]
    counts = dict(zip(counted, con.execute(  # one query for every table's count
        "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in counted)
    ).fetchall()[0], strict=True)) if counted else {}
    for table in RAW_TABLES:
        lines.append(f"rows {table} {counts.get(table, -1)}\n")
    return "".join(lines).encode()


def fresh_stored_views(con: duckdb.DuckDBPyConnection,
                       views: Sequence[View]) -> set[str]:
    """The views whose stored tables reflect the database as it is now (else none)."""
    present = existing_tables(con, [STATE_TABLE, *(stored_name(n) for n in STORED_VIEWS)])
    if STATE_TABLE not in present:
        return set()
    rows = con.execute(f"SELECT fingerprint FROM {STATE_TABLE}").fetchall()
    if len(rows) != 1 or rows[0][0] != fingerprint(con, views):
        return set()
    return {name for name in STORED_VIEWS if stored_name(name) in present}


def persist_attribution(con: duckdb.DuckDBPyConnection,
                        views: Sequence[View], *, force: bool = False) -> bool:
    """Store the attribution on a writable connection, inside the caller's transaction;
    nothing to do (False) when the stored tables are already fresh, unless `force` (a
    run recomputes them, so that its rules never trust a fingerprint alone).

    Each view is computed once: a stored one is written sorted by its key (one of
    KEYED_VIEWS unsorted, with its key table) and the views built on it read the table,
    as TEMP views that end with the connection.
    """
    if not force and fresh_stored_views(con, views) == set(STORED_VIEWS):
        return False
    for view in views:
        name, body = view.name, view.sql.strip().rstrip(";")
        if name in STORED_VIEWS:
            order = "" if name in KEYED_VIEWS else f" ORDER BY {STORED_VIEWS[name]}"
            con.execute(f"CREATE OR REPLACE TABLE {stored_name(name)} AS "
                        f"SELECT * FROM (\n{body}\n) AS v{order}")
            if name in KEYED_VIEWS:
                write_key(con, name)
            body = f"SELECT * FROM {stored_name(name)}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS\n{body}\n")
    for view in views:
        con.execute(f"DROP VIEW IF EXISTS temp.{view.name}")
    con.execute(f"CREATE OR REPLACE TABLE {STATE_TABLE} AS "
                "SELECT CAST(? AS VARCHAR) AS fingerprint, now() AS computed_at",
                [fingerprint(con, views)])
    return True


# Sorting the index by a 64-bit hash of the item is much cheaper than by the string, and
# its zone maps prune as well; the probe detects a DuckDB whose hash() differs.
HASH_PROBE = "hash(CAST('auditlog evidence' AS VARCHAR))"


def persist_evidence(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """(item, rule_id) of every present finding, sorted by hash(item), as of `run_id`."""
    con.execute(f"""
        CREATE OR REPLACE TABLE {EVIDENCE_TABLE} AS
        SELECT hash(item) AS item_hash, item, rule_id
        FROM (SELECT rule_id, unnest(evidence) AS item FROM findings WHERE present) AS f
        WHERE item IS NOT NULL
        ORDER BY item_hash""")
    con.execute(f"CREATE OR REPLACE TABLE {EVIDENCE_STATE} AS "
                f"SELECT CAST(? AS VARCHAR) AS run_id, {HASH_PROBE} AS probe", [run_id])


def evidence_is_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    """The evidence index reflects the findings of the latest run (findings change only
    in a run's merge; triage does not touch evidence or presence)."""
    needed = {EVIDENCE_TABLE, EVIDENCE_STATE, "runs"}
    if existing_tables(con, needed) != needed:
        return False
    ((latest,),) = con.execute("SELECT max(run_id) FROM runs").fetchall()
    stored = con.execute(f"SELECT run_id, probe = {HASH_PROBE} FROM {EVIDENCE_STATE}").fetchall()
    return latest is not None and stored == [(latest, True)]


def evidence_rules(con: duckdb.DuckDBPyConnection, item: str) -> list[str]:
    """Rules whose present findings name `item`, from a fresh evidence index."""
    rows = con.execute(f"SELECT DISTINCT rule_id FROM {EVIDENCE_TABLE} "
                       "WHERE item_hash = hash(CAST(? AS VARCHAR)) AND item = ? ORDER BY rule_id",
                       [item, item]).fetchall()
    return [r[0] for r in rows]
