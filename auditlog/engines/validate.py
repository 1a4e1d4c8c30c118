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

from auditlog.engines import open_engine
from auditlog.engines.cases import build_fixture
from auditlog.engines.translate import to_spark
from auditlog.errors import RuleError, rule_location
from auditlog.pack.loader import load_all
from auditlog.pack.model import Rule
from auditlog.pack.units import shared_units
from auditlog.store import first_line


def spark_problem(sql: str, source: str | None = None) -> RuleError | None:
    """Why `sql` cannot run on Spark (engines/translate.py), or None."""
    try:
        to_spark(sql, source)
    except RuleError as exc:
        return exc
    return None


def validate(rules_dirs: Iterable[Path] = (), *, builtin: bool = True) -> tuple[list[Rule],
                                                                               list[RuleError]]:
    """(valid rules, every problem found), problems ordered by file."""
    result = load_all(rules_dirs, builtin=builtin)
    errors = list(result.errors)
    errors += [p for unit in shared_units() if (p := spark_problem(unit.sql, unit.source))]
    broken: set[str] = set()
    for rule in result.rules:
        problem = spark_problem(rule.sql, rule.source)
        if problem:
            errors.append(problem)
            broken.add(rule.id)
        if rule.cases_source is None:
            errors.append(RuleError("has no case file cases/<rule_id>.toml with fire and "
                                    "quiet cases", location=rule_location(rule)))
            broken.add(rule.id)
    with tempfile.TemporaryDirectory(prefix="auditlog-validate-") as tmp:
        db = Path(tmp) / "empty.duckdb"
        build_fixture(db, {})
        with open_engine("duckdb", db, materialize=False) as engine:
            engine.install(shared_units())
            for rule in result.rules:
                try:
                    engine.run_rules([rule])
                except (RuleError, duckdb.Error) as exc:
                    errors.append(exc if isinstance(exc, RuleError)
                                  else RuleError(first_line(exc), location=rule_location(rule)))
                    broken.add(rule.id)
    valid = [r for r in result.rules if r.id not in broken]
    return valid, sorted(errors, key=lambda e: e.source or "")
