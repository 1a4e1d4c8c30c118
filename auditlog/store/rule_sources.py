"""Where each rule of the last run came from, kept with its findings: the rule's file
and, for a rule imported from Sigma (pack/sigma), the Sigma metadata (id, title, level,
status, tags, references, ...). A trace, the findings and the report read it to show a
Sigma finding with what the Sigma rule says of itself, without the rule files at hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from auditlog.store.attribution import table_exists  # the catalog, read once per open

TABLE = "rule_sources"


def persist_rule_sources(con: duckdb.DuckDBPyConnection,
                         rules: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
    """(rule id, source file, Sigma metadata or {}) of each rule run; replaces theirs."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (rule_id VARCHAR PRIMARY KEY, "
                "source VARCHAR NOT NULL, sigma JSON)")
    con.executemany(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?)",
                    [(rule_id, source, json.dumps(dict(sigma)) if sigma else None)
                     for rule_id, source, sigma in rules])


def sigma_metadata(con: duckdb.DuckDBPyConnection, rule_ids: Iterable[str]
                   ) -> dict[str, dict[str, Any]]:
    """rule id -> its Sigma metadata, for the rules of `rule_ids` imported from Sigma."""
    wanted = sorted(set(rule_ids))
    if not wanted or not table_exists(con, TABLE):
        return {}
    rows = con.execute(f"SELECT rule_id, sigma FROM {TABLE} WHERE sigma IS NOT NULL "
                       "AND rule_id IN (SELECT unnest(?))", [wanted]).fetchall()
    return {rule_id: json.loads(sigma) for rule_id, sigma in rows}
