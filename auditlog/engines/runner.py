"""Run rules in the sandbox and return their findings as one polars DataFrame.

A rule is one SELECT (checked before it runs) returning OUTPUT_COLUMNS. The runner wraps
it to cast those columns to their contract types, to apply --since/--until to the
findings (the rule itself still sees all history, for its baselines), and binds the
rule's parameters as prepared-statement values, never as pasted text. Each rule runs
under a time limit (bounds.py); a rule stopped by it or by the sandbox's memory limit is
a RuleError naming the rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from auditlog.engines.bounds import DEFAULT_BOUNDS, RuleBounds, time_limit_error, watchdog
from auditlog.errors import RuleError
from auditlog.kinds import AMOUNT_SQL_TYPE
from auditlog.pack.model import OUTPUT_COLUMNS, Rule
from auditlog.store import first_line

FINDING_COLUMNS = ("finding_id", "rule_id", "severity", "title", *OUTPUT_COLUMNS)


def finding_id(rule_id: str, key: str) -> str:
    """Stable across runs: the same rule and key always give the same id."""
    digest = hashlib.sha256(f"{rule_id}\x1f{key}".encode()).hexdigest()
    return f"F-{digest[:16]}"


def wrapped_sql(rule: Rule, since: datetime | None, until: datetime | None) -> str:
    body = rule.sql.strip().rstrip(";")
    where = []
    if since is not None:
        where.append("ts >= CAST($auditlog_since AS TIMESTAMPTZ)")
    if until is not None:
        where.append("ts < CAST($auditlog_until AS TIMESTAMPTZ)")
    return (
        "SELECT CAST(ts AS TIMESTAMPTZ) AS ts, CAST(change_id AS VARCHAR) AS change_id,"
        " CAST(actor AS VARCHAR) AS actor, CAST(account AS VARCHAR) AS account,"
        f" CAST(amount AS {AMOUNT_SQL_TYPE}) AS amount,"
        " list_sort(list_distinct(CAST(evidence AS VARCHAR[]))) AS evidence,"
        " CAST(key AS VARCHAR) AS key\n"
        f"FROM (\n{body}\n) AS rule_output"
        + (f"\nWHERE {' AND '.join(where)}" if where else "")
        + "\nORDER BY key"
    )


def check_single_select(con: duckdb.DuckDBPyConnection, rule: Rule) -> None:
    try:
        statements = con.extract_statements(rule.sql)
    except duckdb.Error as exc:
        raise RuleError(f"SQL does not parse: {first_line(exc)}", source=rule.source) from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise RuleError(f"a rule must be exactly one SELECT statement, found: {kinds}",
                        source=rule.source)


def run_rule(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    params: dict[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    bounds: RuleBounds = DEFAULT_BOUNDS,
) -> pl.DataFrame:
    """The findings of one rule, with FINDING_COLUMNS, ordered by key, stopped after
    bounds.timeout seconds (the memory limits are the connection's: sandbox.py)."""
    check_single_select(con, rule)
    values: dict[str, Any] = dict(rule.bind(params))
    if since is not None:
        values["auditlog_since"] = since
    if until is not None:
        values["auditlog_until"] = until
    with watchdog(con.interrupt, bounds.timeout) as fired:
        try:
            frame = con.sql(wrapped_sql(rule, since, until), params=values or None).pl()
        except duckdb.Error as exc:
            raise rule_failure(rule, exc, bounds, timed_out=fired()) from None
    return with_identity(rule, frame)


def rule_failure(rule: Rule, exc: duckdb.Error, bounds: RuleBounds,
                 timed_out: bool) -> RuleError:
    """The one sentence for a rule DuckDB refused or stopped."""
    if timed_out and isinstance(exc, duckdb.InterruptException):
        return time_limit_error(rule.id, rule.source, bounds.timeout)
    if isinstance(exc, duckdb.OutOfMemoryException):
        limit = (f"its disk spill limit of {bounds.spill} (--rule-spill)"
                 if "max_temp_directory_size" in str(exc)
                 else f"its memory limit of {bounds.memory} (--rule-memory)")
        message = f"rule {rule.id} was stopped at {limit}"
    elif isinstance(exc, duckdb.PermissionException):
        message = ("rules may not read or write files, attach databases or load extensions: "
                   f"{first_line(exc)}")
    elif isinstance(exc, duckdb.BinderException):
        message = (f"{first_line(exc)} (a rule must return the columns "
                   f"{', '.join(OUTPUT_COLUMNS)})")
    else:
        message = f"failed: {first_line(exc)}"
    return RuleError(message, source=rule.source)


def with_identity(rule: Rule, frame: pl.DataFrame) -> pl.DataFrame:
    if frame["key"].null_count():
        raise RuleError("returned a finding with a NULL key", source=rule.source)
    if frame["key"].n_unique() != frame.height:
        dup = frame.filter(frame["key"].is_duplicated())["key"][0]
        raise RuleError(f"returned the key {dup!r} more than once; keys must be unique",
                        source=rule.source)
    return frame.with_columns(
        pl.Series("finding_id", [finding_id(rule.id, k) for k in frame["key"]], pl.String),
        pl.lit(rule.id).alias("rule_id"),
        pl.lit(rule.severity).alias("severity"),
        pl.lit(rule.title).alias("title"),
    ).select(FINDING_COLUMNS)


def run_rules(
    con: duckdb.DuckDBPyConnection,
    rules: Iterable[Rule],
    params: dict[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    bounds: RuleBounds = DEFAULT_BOUNDS,
) -> pl.DataFrame:
    """All findings of `rules`, ordered by rule id then key, each under `bounds`."""
    return concat_findings(
        [run_rule(con, r, params, since, until, bounds=bounds)
         for r in sorted(rules, key=lambda r: r.id)])


def concat_findings(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Findings frames one after the other; the typed empty frame when there are none
    (whatever engine produced them)."""
    if frames:
        return pl.concat(frames, how="vertical_relaxed")
    probe = duckdb.connect()
    try:
        return empty_findings(probe)
    finally:
        probe.close()


def empty_findings(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    probe = Rule(id="none", pack="", title="", severity="info", description="", rationale="",
                 investigate="", source="",
                 sql="SELECT NULL ts, NULL change_id, NULL actor, NULL account, NULL amount,"
                     " [] evidence, NULL key WHERE false")
    return with_identity(probe, con.sql(wrapped_sql(probe, None, None)).pl())
