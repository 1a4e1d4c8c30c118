"""The DuckDB engine: the pack run in the sandbox (sandbox.py) by the runner (runner.py),
each rule under its bounds (bounds.py).

The sandbox is a read-only connection to the database itself, so the engine opens it only
when it installs or runs (a run first stores the attribution on a writable connection,
and DuckDB refuses two configurations of one file in one process), and closes it before
the run merges its findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from auditlog.engines.base import EngineBase
from auditlog.engines.bounds import DEFAULT_BOUNDS, RuleBounds
from auditlog.engines.installing import missing_database
from auditlog.engines.runner import rule_output
from auditlog.engines.sandbox import connect_sandbox, install_shared_views
from auditlog.pack.model import Rule

if TYPE_CHECKING:
    from auditlog.pack.units import SqlUnit


class DuckDBEngine(EngineBase):
    """Rules on the database at `db_path`, each within `bounds`.

    The units are created as TEMP views, those a fresh stored attribution holds reading
    its tables (a run stores it just before); with `materialize` the others are computed
    once into TEMP tables, which pays when several rules read them (a run)."""

    name = "duckdb"

    def __init__(self, db_path: Path | str, *, bounds: RuleBounds = DEFAULT_BOUNDS,
                 materialize: bool = True) -> None:
        self.db_path, self.bounds, self.materialize = Path(db_path), bounds, materialize
        self.con: duckdb.DuckDBPyConnection | None = None

    def check(self) -> None:
        if not self.db_path.exists():
            raise missing_database(self.db_path)

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            self.con = connect_sandbox(self.db_path, self.bounds)
        return self.con

    def install(self, units: Sequence[SqlUnit]) -> None:
        install_shared_views(self.connection(), units, materialize=self.materialize,
                             use_stored=True)

    def rule_output(self, rule: Rule, params: dict[str, Any] | None,
                    since: datetime | None, until: datetime | None) -> pl.DataFrame:
        return rule_output(self.connection(), rule, params, since, until, bounds=self.bounds)

    def sql_of(self, rule: Rule) -> str:
        return rule.sql

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
