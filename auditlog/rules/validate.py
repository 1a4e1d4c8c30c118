"""`rules validate`: every check a rule pack can fail, collected in one pass.

Loading checks metadata, parameters and the portable-SQL lint (loader.py). On top of
that a rule must translate to Spark SQL (sqlglot), run on an empty database without a
binder error, and ship a case file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb

from auditlog.errors import RuleError
from auditlog.rules.cases import build_fixture
from auditlog.rules.loader import load_all
from auditlog.rules.model import Rule
from auditlog.rules.runner import run_rule
from auditlog.rules.sandbox import open_sandbox, shared_view_files
from auditlog.store import first_line


def spark_problem(sql: str) -> str | None:
    """Why `sql` does not translate to Spark, or None (also when sqlglot is absent)."""
    try:
        import sqlglot
        from sqlglot.errors import ErrorLevel, SqlglotError
    except ImportError:
        return None
    try:
        sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        return f"does not translate to Spark SQL: {first_line(exc)}"
    return None


def validate(rules_dirs: Iterable[Path] = (), *, builtin: bool = True) -> tuple[list[Rule],
                                                                               list[RuleError]]:
    """(valid rules, every problem found), problems ordered by file."""
    result = load_all(rules_dirs, builtin=builtin)
    errors = list(result.errors)
    errors += [RuleError(p, source=src) for _, sql, src in shared_view_files()
               if (p := spark_problem(sql))]
    broken: set[str] = set()
    for rule in result.rules:
        problem = spark_problem(rule.sql)
        if problem:
            errors.append(RuleError(problem, source=rule.source))
            broken.add(rule.id)
        if rule.cases_source is None:
            errors.append(RuleError("has no case file cases/<rule_id>.toml with fire and "
                                    "quiet cases", source=rule.source))
            broken.add(rule.id)
    with tempfile.TemporaryDirectory(prefix="auditlog-validate-") as tmp:
        db = Path(tmp) / "empty.duckdb"
        build_fixture(db, {})
        con = open_sandbox(db)
        try:
            for rule in result.rules:
                try:
                    run_rule(con, rule)
                except (RuleError, duckdb.Error) as exc:
                    errors.append(exc if isinstance(exc, RuleError)
                                  else RuleError(first_line(exc), source=rule.source))
                    broken.add(rule.id)
        finally:
            con.close()
    valid = [r for r in result.rules if r.id not in broken]
    return valid, sorted(errors, key=lambda e: e.source or "")
