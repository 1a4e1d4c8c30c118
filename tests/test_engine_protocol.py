"""One Engine protocol: DuckDB and Spark behind it, and a third engine is one class and
one registry line.

The toy engine below (DuckDB in memory, over a copy of the database's tables) is written
the way a new engine would be: it subclasses EngineBase, installs the units it is given
and runs each rule in the shared output wrapper. Registered under a name, it runs the
built-in packs through run_packs and leaves exactly the findings (ids included) and the
run report that the DuckDB engine leaves.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from auditlog import store
from auditlog.analysis.findings import FindingFilter, findings_records, list_findings, run_packs
from auditlog.engines import ENGINES, engine_names, open_engine
from auditlog.engines.base import Engine, EngineBase, wrapped_sql
from auditlog.engines.cases import build_fixture
from auditlog.engines.installing import missing_database
from auditlog.engines.translate import spark_rule_sql, to_spark
from auditlog.errors import UsageError
from auditlog.pack import Rule, load_rules
from auditlog.pack.units import SqlUnit
from tests.test_attribution import INCIDENT

RULES = load_rules()


class MemoryEngine(EngineBase):
    """DuckDB in memory over a copy of the database's tables."""

    name = "memory"

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = Path(db_path)
        self.con: duckdb.DuckDBPyConnection | None = None
        self.installed: list[str] = []

    def check(self) -> None:
        if not self.db_path.exists():
            raise missing_database(self.db_path)

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            self.con = duckdb.connect()
            self.con.execute("SET TimeZone = 'UTC'")
            source = store.connect(self.db_path, read_only=True)
            try:
                names = [row[0] for row in source.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'").fetchall()]
                for name in names:
                    rows = source.sql(f'SELECT * FROM "{name}"').to_arrow_table()  # noqa: F841
                    self.con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM rows')
            finally:
                source.close()
        return self.con

    def install(self, units: Sequence[SqlUnit]) -> None:
        for unit in units:
            self.connection().execute(f"CREATE OR REPLACE VIEW {unit.name} AS {unit.body}")
            self.installed.append(unit.name)

    def rule_output(self, rule: Rule, params: dict[str, Any] | None,
                    since: datetime | None, until: datetime | None) -> pl.DataFrame:
        values: dict[str, Any] = dict(rule.bind(params))
        values |= {k: v for k, v in (("auditlog_since", since), ("auditlog_until", until))
                   if v is not None}
        return self.connection().sql(wrapped_sql(rule, since, until),
                                     params=values or None).pl()

    def sql_of(self, rule: Rule) -> str:
        return rule.sql

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


@pytest.fixture()
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy engine's one registry line."""
    monkeypatch.setitem(ENGINES, "memory", f"{__name__}:MemoryEngine")


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "e.duckdb"
    build_fixture(path, INCIDENT)
    return path


def stored(db: Path) -> list[dict[str, Any]]:
    con = store.connect(db, read_only=True)
    try:
        keep = ("first_seen", "last_seen")
        return [{k: v for k, v in f.items() if k not in keep} for f in
                findings_records(list_findings(con, FindingFilter(include_gone=True)))]
    finally:
        con.close()


def test_both_engines_satisfy_the_protocol(tmp_path: Path) -> None:
    assert engine_names() == ("duckdb", "spark")
    for name in engine_names():
        engine = open_engine(name, tmp_path / "none.duckdb")
        assert isinstance(engine, Engine) and engine.name == name


def test_a_registered_third_engine_gives_the_same_findings_and_ids(
        registered: None, db: Path, tmp_path: Path) -> None:
    duck_db = Path(shutil.copy(db, tmp_path / "duck.duckdb"))
    params = {"window_hours": 3}
    since = datetime(2026, 3, 1, tzinfo=UTC)
    on_memory = run_packs(db, RULES, params, since, engine="memory")
    on_duckdb = run_packs(duck_db, RULES, params, since)
    assert on_memory.findings > 0
    assert on_memory.as_dict() == on_duckdb.as_dict()
    assert stored(db) == stored(duck_db)


def test_an_engine_object_is_used_once_and_closed(db: Path) -> None:
    engine = MemoryEngine(db)
    report = run_packs(db, RULES, engine=engine)
    assert report.findings > 0 and engine.con is None
    # It was given the units the rules read, each once, in creation order.
    assert engine.installed and len(set(engine.installed)) == len(engine.installed)
    with pytest.raises(UsageError, match="options .*bounds.* go with an engine's name"):
        run_packs(db, RULES, engine=MemoryEngine(db), bounds=None)


def test_an_engine_that_cannot_run_stores_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(UsageError, match="no database at .*missing.duckdb"):
        run_packs(missing, RULES)
    assert not missing.exists()


def test_unknown_engines_and_options_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no engine 'flink'; use one of: duckdb, spark"):
        open_engine("flink", tmp_path / "db.duckdb")
    with pytest.raises(UsageError, match="the duckdb engine takes no option lake "
                                         r"\(its options: bounds, materialize\)"):
        open_engine("duckdb", tmp_path / "db.duckdb", lake=tmp_path)


def test_sql_of_is_the_rule_in_the_engines_sql() -> None:
    rule = next(r for r in RULES if r.id == "stacked_subscription")
    assert open_engine("duckdb", "db.duckdb").sql_of(rule) == rule.sql
    spark_sql = open_engine("spark", "db.duckdb").sql_of(rule)
    assert spark_sql == to_spark(rule.sql, rule.source, pretty=True) and ":window_hours" in spark_sql


def test_the_output_wrapper_is_written_once_and_translated_for_spark() -> None:
    rule = next(r for r in RULES if r.id == "stacked_subscription")
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    translated = spark_rule_sql(rule, since, until)
    assert translated == to_spark(wrapped_sql(rule, since, until), rule.source)
    # DuckDB's list_distinct drops NULLs, Spark's array_distinct keeps them: the wrapper
    # filters them out, so both engines give the same evidence.
    assert "FILTER(CAST(evidence AS ARRAY<STRING>)" in translated
    assert ":auditlog_since" in translated and translated.rstrip().endswith("NULLS LAST")
