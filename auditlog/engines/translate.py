"""One rule source for two engines: a rule's DuckDB SQL translated to Spark SQL by sqlglot.

Rules are written in the portable subset of DuckDB SQL (pack/lint.py says what falls
outside it); sqlglot translates them with unsupported_level=RAISE, so a construct it
cannot express in Spark is an error naming the rule, never silently different SQL.
Parameters ($name in DuckDB) become Spark's named markers (:name), bound as values. The
output wrapper around a rule (base.wrapped_sql) and the shared units are translated the
same way: nothing the Spark engine runs is written for Spark by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from auditlog.engines.base import wrapped_sql
from auditlog.errors import RuleError
from auditlog.kinds import KINDS
from auditlog.pack.functions import SPARK_FUNCTIONS, called_name
from auditlog.pack.lint import line_of
from auditlog.pack.model import Rule
from auditlog.pack.units import SqlUnit, needed_units, shared_units
from auditlog.store import first_line
from auditlog.store.database import RECORD_VIEWS
from auditlog.values import iso_utc


def to_spark(sql: str, source: str | None = None, *, pretty: bool = False) -> str:
    """`sql` (one DuckDB statement) as Spark SQL, or a RuleError naming `source`.

    Comments are dropped (Spark reads /*+ ... */ as hints), and the result is parsed
    back as Spark SQL and checked: one query, calling only SPARK_FUNCTIONS.
    """
    import sqlglot
    from sqlglot.errors import ErrorLevel, SqlglotError

    try:
        statements = sqlglot.transpile(sql.strip().rstrip(";"), read="duckdb", write="spark",
                                       unsupported_level=ErrorLevel.RAISE, pretty=pretty,
                                       comments=False)
    except SqlglotError as exc:
        raise RuleError(f"does not translate to Spark SQL: {first_line(exc)}",
                        source=source) from None
    if len(statements) != 1:
        raise RuleError(f"must be exactly one statement, found {len(statements)}", source=source)
    check_spark(statements[0], sql, source)
    return statements[0]


def check_spark(spark_sql: str, sql: str, source: str | None) -> None:
    """Refuse a translation that is not one query or calls a function outside the
    Spark allow-list, naming the function and its line in the translation."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(spark_sql, read="spark")
    except SqlglotError as exc:
        raise RuleError(f"its Spark translation does not parse back: {first_line(exc)}",
                        source=source) from None
    if not isinstance(tree, exp.Query):
        raise RuleError(f"its Spark translation is a {tree.key.upper()}, not a query",
                        source=source)
    # A script transform (TRANSFORM ... USING 'cmd') runs a program; a hint steers the
    # cluster. Neither comes from a DuckDB rule: refused should sqlglot ever emit one.
    if odd := tree.find(exp.QueryTransform, exp.Hint):
        raise RuleError(f"its Spark translation holds {odd.key.upper()}, which a rule may not "
                        "use", source=source)
    readable = set(KINDS) | set(RECORD_VIEWS) | {unit.name for unit in shared_units()} | {
        cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and (
                table.args.get("db") or table.name not in readable):
            # On a cluster the catalog holds more than the lake: only the kinds, the
            # shared views and the rule's own CTEs are the rule's to read.
            raise RuleError(f"its Spark translation reads {table.sql(dialect='spark')}, "
                            "which is neither a kind, a shared view nor one of its CTEs",
                            source=source)
    for node in tree.find_all(exp.Func):
        if type(node) not in SPARK_FUNCTIONS:
            name = called_name(node)
            raise RuleError(f"its Spark translation calls {name.upper()}() "
                            f"({rule_line(sql, name) or 'in the translation'}), which is not on "
                            "the allow-list of Spark functions a rule may call", source=source)


def rule_line(sql: str, name: str) -> str | None:
    """'line N' of the rule where it calls `name` as written (a call sqlglot passes
    through), or None when the call is sqlglot's rendering of another."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError:
        return None
    lines = [line_of(n) for n in tree.find_all(exp.Func) if called_name(n, sql) == name]
    return f"line {min(lines)}" if lines else None


def spark_rule_sql(rule: Rule, since: datetime | None = None,
                   until: datetime | None = None) -> str:
    """The rule inside the output wrapper every engine shares (base.wrapped_sql),
    translated. The rule alone is translated first, so that a refusal names its line as
    the rule's file has it."""
    to_spark(rule.sql, rule.source)
    return to_spark(wrapped_sql(rule, since, until), rule.source)


def spark_args(rule: Rule, params: dict[str, Any] | None, since: datetime | None,
               until: datetime | None) -> dict[str, Any]:
    """The values bound to the Spark statement's named markers."""
    values: dict[str, Any] = dict(rule.bind(params))
    if since is not None:
        values["auditlog_since"] = iso_utc(since)
    if until is not None:
        values["auditlog_until"] = iso_utc(until)
    return values


def spark_shared_views(units: Sequence[SqlUnit] | None = None) -> list[tuple[str, str]]:
    """(name, Spark SQL) of `units` (every shared unit by default), in creation order."""
    return [(unit.name, unit_sql(unit.sql, unit.source))
            for unit in (shared_units() if units is None else units)]


@lru_cache(maxsize=256)
def unit_sql(sql: str, source: str) -> str:
    # Cached by text: a batch of fixtures translates the same units once per fixture.
    return to_spark(sql, source)


def needed_views(rules: Sequence[Rule]) -> set[str]:
    """The shared views `rules` read, directly or through other views."""
    units = shared_units()
    return {unit.name for rule in rules for unit in needed_units(rule.sql, units)}
