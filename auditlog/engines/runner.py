"""Run one rule on a DuckDB sandbox connection (sandbox.py) and return its findings.

A rule is one SELECT (checked before it runs) returning OUTPUT_COLUMNS. It runs inside
the output wrapper every engine shares (base.wrapped_sql), with its parameters bound as
prepared-statement values, never as pasted text. Each rule runs under a time limit
(bounds.py); a rule stopped by it or by the sandbox's memory limit is a RuleError naming
the rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from auditlog.engines.base import with_identity, wrapped_sql
from auditlog.engines.bounds import DEFAULT_BOUNDS, RuleBounds, time_limit_error, watchdog
from auditlog.errors import RuleError, rule_location
from auditlog.pack.model import OUTPUT_COLUMNS, Rule
from auditlog.store import first_line


def check_single_select(con: duckdb.DuckDBPyConnection, rule: Rule) -> None:
    try:
        statements = con.extract_statements(rule.sql)
    except duckdb.Error as exc:
        raise RuleError(f"SQL does not parse: {first_line(exc)}", location=rule_location(rule)) from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise RuleError(f"a rule must be exactly one SELECT statement, found: {kinds}",
                        location=rule_location(rule))


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
    return with_identity(rule, rule_output(con, rule, params, since, until, bounds=bounds))


def rule_output(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    params: dict[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    bounds: RuleBounds = DEFAULT_BOUNDS,
) -> pl.DataFrame:
    """The rule's wrapped output rows (OUTPUT_COLUMNS, ordered by key) with their
    finding ids computed in the query (base.FINDING_ID_SQL), not yet findings."""
    check_single_select(con, rule)
    values: dict[str, Any] = dict(rule.bind(params))
    values["auditlog_rule_id"] = rule.id
    if since is not None:
        values["auditlog_since"] = since
    if until is not None:
        values["auditlog_until"] = until
    with watchdog(con.interrupt, bounds.timeout) as fired:
        try:
            return con.sql(wrapped_sql(rule, since, until, identified=True),
                           params=values).pl()
        except duckdb.Error as exc:
            raise rule_failure(rule, exc, bounds, timed_out=fired()) from None


def rule_failure(rule: Rule, exc: duckdb.Error, bounds: RuleBounds,
                 timed_out: bool) -> RuleError:
    """The one sentence for a rule DuckDB refused or stopped."""
    if timed_out and isinstance(exc, duckdb.InterruptException):
        return time_limit_error(rule.id, rule.source, bounds.timeout)
    if isinstance(exc, duckdb.OutOfMemoryException):
        spill = "max_temp_directory_size" in str(exc)
        limit = (f"its disk spill limit of {bounds.spill} ({{rule_spill}})" if spill
                 else f"its memory limit of {bounds.memory} ({{rule_memory}})")
        return RuleError(f"rule {rule.id} was stopped at {limit}", location=rule_location(rule),
                         arguments=("rule_spill" if spill else "rule_memory",))
    if isinstance(exc, duckdb.PermissionException):
        message = ("rules may not read or write files, attach databases or load extensions: "
                   f"{first_line(exc)}")
    elif isinstance(exc, duckdb.BinderException):
        message = (f"{first_line(exc)} (a rule must return the columns "
                   f"{', '.join(OUTPUT_COLUMNS)})")
    else:
        message = f"failed: {first_line(exc)}"
    return RuleError(message, location=rule_location(rule))
