"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered) as
window SQL in the portable subset (PORTABLE-SQL: RANGE windows over the event time with
an interval in seconds; a distinct count over a window as
array_length(list_distinct(list(x) OVER w))).

The events are the referenced rules' matches (build.matched_sql), one per source record,
with the group-by fields read from the record (through the rule's aliases). A finding is
the event at which the condition starts to hold within the timespan for its group (the
first event of a burst: the condition holds there and did not at the group's previous
event), its evidence every event of the window. temporal_ordered holds at an event of
the last rule when the rules' events occurred in their order within the timespan: the
latest start of such a chain is carried forward rule by rule with running maxima.
"""

from __future__ import annotations

from pathlib import Path

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.rule import SigmaRule

from auditlog.pack.sigma.convert import BuiltRule, check_built, metadata
from auditlog.pack.sigma.logsources import LogSource
from auditlog.pack.sigma.sql import Unsupported, json_path
from auditlog.sqltext import sql_string

OPERATORS = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">=", "EQ": "=", "NEQ": "<>"}
SUPPORTED = (SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT,
             SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED)


def simple_condition(rule: SigmaCorrelationRule) -> SigmaCorrelationCondition | None:
    """The rule's condition (one comparison), None when it has none."""
    condition = rule.condition
    if condition is None or isinstance(condition, SigmaCorrelationCondition):
        return condition
    raise Unsupported("a correlation condition with and/or/not is not supported")


def referenced(rule: SigmaCorrelationRule) -> list[SigmaRule]:
    rules = []
    for ref in rule.rules or []:
        base = getattr(ref, "rule", None)
        if base is None:
            raise Unsupported(f"it refers to rule '{ref.reference}', which is not among "
                              "the files imported")
        if not isinstance(base, SigmaRule):
            raise Unsupported("it correlates another correlation; only detection rules "
                              "are supported")
        rules.append(base)
    return rules


def group_field(rule: SigmaCorrelationRule, base: SigmaRule, name: str) -> str:
    """The field of `base` that the group-by `name` stands for (an alias or itself)."""
    alias = rule.aliases.aliases.get(name) if rule.aliases else None
    if alias is None:
        return name
    for ref, field in alias.mapping.items():
        if ref.reference in (base.name, str(base.id)):
            return str(field)
    raise Unsupported(f"its alias '{name}' names no field of rule '{base.title}'")


def record_value(field: str) -> str:
    return f"(record ->> {sql_string(json_path(field))})"


def correlation_sql(rule: SigmaCorrelationRule, source: LogSource,
                    bases: list[SigmaRule]) -> str:
    from auditlog.pack.sigma.build import condition_of, matched_sql

    if rule.type not in SUPPORTED:
        raise Unsupported(f"the correlation type {rule.type.name.lower()} is not supported "
                          "(event_count, value_count, temporal, temporal_ordered are)")
    groups = list(rule.group_by or [])
    seconds = int(rule.timespan.seconds)
    condition = simple_condition(rule)
    value_field = condition.fieldref if condition else None
    if rule.type == SigmaCorrelationType.VALUE_COUNT and not value_field:
        raise Unsupported("a value_count correlation needs a condition field")
    ctes, events = [], []
    for n, base in enumerate(bases):
        extra = "".join(f", {record_value(group_field(rule, base, g))} AS g{i}"
                        for i, g in enumerate(groups))
        if value_field:
            extra += f", {record_value(str(value_field))} AS v"
        ctes.append(f"r{n} AS (\n{matched_sql(source, condition_of(base), extra)}\n)")
        group_cols = "".join(f", g{i}" for i in range(len(groups)))
        events.append(f"  SELECT min(event_id) AS event_id, min(ts) AS ts, {n} AS step"
                      f"{group_cols}{', min(v) AS v' if value_field else ''}\n"
                      f"  FROM r{n} GROUP BY _file, _row{group_cols}")
    ctes.append("events AS (\n" + "\n  UNION ALL\n".join(events) + "\n)")
    partition = ", ".join(f"g{i}" for i in range(len(groups))) or "'all'"
    window = (f"PARTITION BY {partition} ORDER BY ts RANGE BETWEEN INTERVAL {seconds} "
              "SECONDS PRECEDING AND CURRENT ROW")
    if rule.type == SigmaCorrelationType.TEMPORAL_ORDERED:
        ctes += ordered_ctes(len(bases), partition, len(groups))
        holds = f"step = {len(bases) - 1} AND chain_start >= ts - INTERVAL {seconds} SECONDS"
        source_cte = f"chain{len(bases) - 1}"
        measure = "0"
    else:
        measure = {
            SigmaCorrelationType.EVENT_COUNT: f"count(*) OVER ({window})",
            SigmaCorrelationType.VALUE_COUNT:
                f"array_length(list_distinct(list(v) OVER ({window})))",
            SigmaCorrelationType.TEMPORAL:
                f"array_length(list_distinct(list(step) OVER ({window})))",
        }[rule.type]
        holds = f"n {condition_text(rule, len(bases))}"
        source_cte = "events"
    ctes.append(
        f"measured AS (\n  SELECT *, {measure} AS n, list(event_id) OVER ({window}) AS ids\n"
        f"  FROM {source_cte}\n)")
    ctes.append(
        f"judged AS (\n  SELECT *, coalesce({holds}, false) AS holds FROM measured\n)")
    ctes.append(
        "bursts AS (\n  SELECT *, lag(holds) OVER (PARTITION BY "
        f"{partition} ORDER BY ts, event_id) AS held FROM judged\n)")
    key_parts = " || '|' || ".join([*(f"coalesce(g{i}, '')" for i in range(len(groups))),
                                    "event_id"])
    return (
        f"-- Sigma correlation {rule.id}: {' '.join(rule.title.split())}\n"
        f"-- {rule.type.name.lower()} over {len(bases)} rule(s), timespan {rule.timespan.spec}"
        f"{', by ' + ', '.join(groups) if groups else ''}; converted by "
        "'auditlog rules import-sigma'.\n"
        "WITH " + ",\n".join(ctes) + "\n"
        "SELECT ts, CAST(NULL AS VARCHAR) AS change_id, CAST(NULL AS VARCHAR) AS actor,\n"
        "       CAST(NULL AS VARCHAR) AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,\n"
        f"       ids AS evidence, {key_parts} AS key\n"
        "FROM bursts\n"
        "WHERE holds AND NOT coalesce(held, false)\n"
    )


def condition_text(rule: SigmaCorrelationRule, rules: int) -> str:
    condition = simple_condition(rule)
    if condition is None:  # temporal without a condition: every rule occurred
        return f">= {rules}"
    return f"{OPERATORS[condition.op.name]} {int(condition.count)}"


def ordered_ctes(steps: int, partition: str, groups: int) -> list[str]:
    """chain<k>: events of steps 0..k, an event of step k carrying the latest start of a
    chain step 0 -> ... -> k ending at it (NULL when none)."""
    ctes = [("chain0 AS (\n  SELECT *, CASE WHEN step = 0 THEN ts END AS chain_start "
             "FROM events\n)")]
    for k in range(1, steps):
        ctes.append(
            f"chain{k} AS (\n  SELECT event_id, ts, step, "
            + "".join(f"g{i}, " for i in range(groups)) +
            f"CASE WHEN step = {k} THEN max(CASE WHEN step = {k - 1} THEN chain_start END) "
            f"OVER (PARTITION BY {partition} ORDER BY ts, step ROWS UNBOUNDED PRECEDING) "
            "ELSE chain_start END AS chain_start\n"
            f"  FROM chain{k - 1}\n)")
    return ctes


def build_correlation(rule: SigmaCorrelationRule, path: Path, rule_id: str) -> BuiltRule:
    from auditlog.pack.sigma.build import source_of

    bases = referenced(rule)
    sources = {source_of(b).pack: source_of(b) for b in bases}
    if len(sources) != 1:
        raise Unsupported("its rules read different logsources")
    (source,) = sources.values()
    sql = correlation_sql(rule, source, bases)
    if problem := check_built(rule_id, sql):
        raise Unsupported(f"its SQL is outside the portable subset ({problem})")
    from auditlog.pack.sigma.burst import correlation_cases

    cases = correlation_cases(rule, source, bases, rule_id)
    return BuiltRule(rule_id, source, path, rule.title, sql,
                     metadata(rule, rule_id, path, source, kind=rule.type.name.lower()),
                     cases)


