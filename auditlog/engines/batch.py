"""Many small fixtures in one Spark pass: the rule cases (`auditlog.engines.cases`) on Spark.

A Spark query costs about the same on ten rows as on a million: planning, scheduling and
code generation dominate. Running fifty case fixtures one by one (ten shared views and a
rule each) takes many minutes; here every fixture gets its own names (tables and views
prefixed `b<n>_`, parameters `:b<n>_name`), each shared view is computed once for all
fixtures as one UNION ALL, and all rules of all fixtures run as one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import sqlglot
from sqlglot import exp

from auditlog import store
from auditlog.engines.base import OUTPUT_SCHEMA, concat_findings, with_identity
from auditlog.engines.spark import spark_schema
from auditlog.engines.translate import needed_views, spark_args, spark_rule_sql, spark_shared_views
from auditlog.errors import RuleError
from auditlog.kinds import KINDS, Kind
from auditlog.pack.model import Rule
from auditlog.pack.params import with_model_params
from auditlog.pack.units import shared_units
from auditlog.store import first_line
from auditlog.store.lake import select_sql

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

BATCH = "auditlog_batch"
RULE = "auditlog_rule"


@dataclass(frozen=True)
class Fixture:
    """One small world (a DuckDB database) and the rules to run on it, with parameters."""

    db: Path
    rules: Sequence[Rule]
    params: dict[str, Any] = field(default_factory=dict)


def prefixed(sql: str, prefix: str, names: set[str]) -> str:
    """Spark `sql` with the tables in `names` and every parameter renamed with `prefix`
    (a table keeps its old name as alias, so qualified columns still resolve)."""
    tree = sqlglot.parse_one(sql, read="spark")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if table.name in names and table.name not in ctes and not table.args.get("db"):
            alias = table.alias or table.name
            table.replace(exp.to_table(prefix + table.name).as_(alias))
    for marker in list(tree.find_all(exp.Placeholder)):
        marker.replace(exp.Placeholder(this=prefix + marker.name))
    return tree.sql(dialect="spark")


def run_fixtures(spark: SparkSession, fixtures: Sequence[Fixture]) -> list[pl.DataFrame]:
    """The findings of each fixture's rules, as run_rules_spark would give them one by one."""
    prefixes = [f"b{n}_" for n in range(len(fixtures))]
    for kind in KINDS.values():
        install_batched_table(spark, kind, [f.db for f in fixtures], prefixes)
    names = set(KINDS)
    # Each fixture's units as a run given its parameters installs them (pack/params.py).
    views = [dict(spark_shared_views(with_model_params(shared_units(), f.params)))
             for f in fixtures]
    needs = [needed_views(fixture.rules) for fixture in fixtures]
    for view in views[0] if views else {}:
        names.add(view)
        users = [(n, p, views[n][view]) for n, p in enumerate(prefixes) if view in needs[n]]
        if users:
            install_batched_view(spark, view, users, names)
    parts: list[str] = []
    args: dict[str, Any] = {}
    for n, (prefix, fixture) in enumerate(zip(prefixes, fixtures, strict=True)):
        for rule in fixture.rules:
            body = prefixed(spark_rule_sql(rule), prefix, names)
            parts.append(f"SELECT {n} AS {BATCH}, '{rule.id}' AS {RULE}, * FROM ({body})")
            args |= {prefix + k: v for k, v in
                     spark_args(rule, fixture.params, None, None).items()}
    if not parts:
        return [with_identity_frames(pl.DataFrame(), []) for _ in fixtures]
    try:
        table = spark.sql("\nUNION ALL\n".join(parts), args=args or None).toArrow()
    except Exception as exc:  # noqa: BLE001  (pyspark and py4j raise many types)
        raise RuleError(f"a batch of rules failed on Spark: {first_line(exc)}") from None
    found = pl.from_arrow(table)
    assert isinstance(found, pl.DataFrame)
    return [with_identity_frames(found.filter(pl.col(BATCH) == n), fixture.rules)
            for n, fixture in enumerate(fixtures)]


def install_batched_table(spark: SparkSession, kind: Kind, dbs: list[Path],
                          prefixes: list[str]) -> None:
    """A kind's rows of every fixture as one in-memory Spark table (small fixtures gain
    nothing from files), split into one view per fixture."""
    from pyspark.sql.types import LongType

    parts = []
    for n, db in enumerate(dbs):
        con = store.connect(db, read_only=True)
        try:
            sql = f"SELECT *, {n} AS {BATCH} FROM ({select_sql(kind)})"
            parts.append(con.sql(sql).to_arrow_table())
        finally:
            con.close()
    schema = spark_schema(kind).add(BATCH, LongType())
    table = pa.concat_tables(parts).select(schema.fieldNames())
    frame = spark.createDataFrame(table, schema) if table.num_rows else \
        spark.createDataFrame([], schema)
    for n, prefix in enumerate(prefixes):
        frame.where(frame[BATCH] == n).drop(BATCH).createOrReplaceTempView(prefix + kind.name)


def install_batched_view(spark: SparkSession, view: str, users: list[tuple[int, str, str]],
                         names: set[str]) -> None:
    """A shared view computed once for the fixtures that need it (n, prefix, its Spark
    SQL for that fixture), then split into one view each."""
    union = "\nUNION ALL\n".join(
        f"SELECT {n} AS {BATCH}, * FROM ({prefixed(sql, prefix, names)})"
        for n, prefix, sql in users)
    try:
        frame = spark.sql(union).localCheckpoint(eager=True)
    except Exception as exc:  # noqa: BLE001  (pyspark and py4j raise many types)
        raise RuleError(f"shared view '{view}' fails on Spark: {first_line(exc)}") from None
    for n, prefix, _ in users:
        frame.where(frame[BATCH] == n).drop(BATCH).createOrReplaceTempView(prefix + view)


def with_identity_frames(found: pl.DataFrame, rules: Sequence[Rule]) -> pl.DataFrame:
    """One fixture's rows split by rule, typed and identified as the runner does."""
    frames = [with_identity(rule, found.filter(pl.col(RULE) == rule.id)
                            .select(list(OUTPUT_SCHEMA)).cast(OUTPUT_SCHEMA)  # type: ignore
                            .sort("key"))
              for rule in sorted(rules, key=lambda r: r.id)]
    return concat_findings(frames)
