"""The model's parameters as run parameters: the columns of the `model_params` unit.

A view takes no `$params`, so a value a run is given (`auditlog run --param
grace_minutes=30`) reaches the shared views and controls by installing `model_params`
itself with it: `with_model_params(units, params)` returns the units with that one unit's
SQL rewritten as a SELECT of literals, each of the type of its default (read from the
unit's own SQL), the defaults kept for the names the run leaves alone. Values equal to the
defaults leave the SQL untouched, and equal values give equal SQL, so the stored
attribution's fingerprint (which covers the units' SQL) tells tables computed with other
values from fresh ones. A name that is no model parameter is left to the rules
(Rule.bind).

Readers that are no run (traces, reports) install the units with the parameters the
latest run was given (store.runs.latest_run_params), so what they say agrees with the
findings and the stored attribution that run left. docs/controls.md tells the story.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from auditlog.errors import RuleError, UsageError
from auditlog.pack.model import ParamValue, coerce
from auditlog.pack.units import SqlUnit

if TYPE_CHECKING:  # sqlglot is imported where a parameters unit is read: a reader whose
    from sqlglot import exp  # run set no parameter never pays for it (issue 14)

MODEL_PARAMS = "model_params"


def model_defaults(unit: SqlUnit) -> dict[str, ParamValue]:
    """name -> default of every column of the parameters unit, which must be one SELECT of
    literals (a number, a string or a boolean, each with its name)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(unit.sql, read="duckdb")
    except SqlglotError as exc:
        raise RuleError(f"sqlglot cannot parse it ({exc})", source=unit.source) from None
    if not isinstance(tree, exp.Select) or tree.args.get("from_") or tree.args.get("from"):
        raise RuleError("the model's parameters must be one SELECT of literals, without FROM",
                        source=unit.source)
    defaults: dict[str, ParamValue] = {}
    for column in tree.expressions:
        value = literal_value(column.this) if isinstance(column, exp.Alias) else None
        if value is None:
            raise RuleError(f"parameter '{column.sql('duckdb')}' must be a literal with a name "
                            "(24 AS pairing_hours)", source=unit.source)
        defaults[column.alias.lower()] = value
    return defaults


def literal_value(node: exp.Expression) -> ParamValue | None:
    """The Python value of a literal (-5 included), or None for anything else."""
    from sqlglot import exp

    if isinstance(node, exp.Neg):
        inner = literal_value(node.this)
        return -inner if isinstance(inner, int | float) and not isinstance(inner, bool) else None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        text = str(node.this)
        return float(text) if any(c in text for c in ".eE") else int(text)
    return None


def model_values(unit: SqlUnit, params: Mapping[str, Any] | None) -> dict[str, ParamValue]:
    """The parameters' values for a run given `params`: its defaults, with the run's values
    for the names it sets, each turned into its default's type."""
    values = model_defaults(unit)
    for name, raw in (params or {}).items():
        if name not in values:
            continue  # a rule's parameter, or one meant for another pack
        try:
            values[name] = coerce(raw, values[name])
        except ValueError:
            kind = type(values[name]).__name__
            raise UsageError(f"parameter {name}={raw!r} is not a valid {kind} "
                             f"(default {values[name]!r})", source=unit.source) from None
    return values


def model_params_sql(unit: SqlUnit, params: Mapping[str, Any] | None) -> str:
    """The parameters unit's SQL for a run given `params`: unchanged when every value is
    its default, else one SELECT of the values as literals."""
    values = model_values(unit, params)
    if values == model_defaults(unit):
        return unit.sql
    from sqlglot import exp

    columns = ", ".join(f"{exp.convert(value).sql('duckdb')} AS {name}"
                        for name, value in values.items())
    return f"-- {MODEL_PARAMS} with the values of this run (pack/params.py)\nSELECT {columns}\n"


def with_model_params(units: Sequence[SqlUnit], params: Mapping[str, Any] | None
                      ) -> list[SqlUnit]:
    """`units` with the parameters unit installed for a run given `params`. Without
    `params` every value is its default, the unit as it is: readers (a trace) then never
    import sqlglot to read it (start time, issue 14)."""
    if not params:
        return list(units)
    return [dataclasses.replace(u, sql=model_params_sql(u, params)) if u.name == MODEL_PARAMS
            else u for u in units]
