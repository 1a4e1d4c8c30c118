"""The cases of a correlation rule: a burst of its rules' events that makes the
condition hold within the timespan, and one that falls short (one event too few, a rule
missing, or the rules out of order), each event built by synth.py and spaced a second
apart, all in one group.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType
from sigma.rule import SigmaRule

from auditlog.pack.sigma.correlation import simple_condition
from auditlog.pack.sigma.evaluate import matches
from auditlog.pack.sigma.logsources import LogSource
from auditlog.pack.sigma.synth import NoCase, case_events, set_field

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def correlation_cases(rule: SigmaCorrelationRule, source: LogSource, bases: list[SigmaRule],
                      rule_id: str) -> list[dict[str, Any]]:
    from auditlog.pack.sigma.build import condition_of, dumps

    trees = [condition_of(b) for b in bases]
    firing = [case_events(t, source, f"sigma-{rule_id}-{n}")[0] for n, t in enumerate(trees)]
    fire, quiet = bursts(rule, firing, trees)
    out: list[list[dict[str, Any]]] = []
    for events in (fire, quiet):
        stamped = []
        for n, (record, _) in enumerate(events):
            record = copy.deepcopy(record)
            record[source.id_field] = f"sigma-{rule_id}-{len(out)}-{n}"
            at = (START + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for field in source.time_fields:
                record[field] = at
            stamped.append(record)
        out.append(stamped)
    fire_ids = [r[source.id_field] for r in out[0]]
    return [
        {"name": f"a burst its {rule.type.name.lower()} condition holds on", "expect": "fire",
         "count": 1, "evidence": fire_ids, "records": [dumps(r) for r in out[0]]},
        {"name": "a burst that falls short", "expect": "quiet",
         "records": [dumps(r) for r in out[1]]},
    ]


Burst = list[tuple[dict[str, Any], Any]]


def bursts(rule: SigmaCorrelationRule, firing: list[dict[str, Any]], trees: list[Any]
           ) -> tuple[Burst, Burst]:
    """(events that fire, events that do not), each event with its rule's condition."""
    kind = rule.type
    if kind in (SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED):
        events = list(zip(firing, trees, strict=True))
        if kind == SigmaCorrelationType.TEMPORAL_ORDERED and len(events) > 1:
            return events, events[::-1]
        return events, events[:-1]
    condition = simple_condition(rule)
    if condition is None:
        raise NoCase("a count correlation without a condition has no case")
    op, count = condition.op.name, int(condition.count)
    needed = {"GTE": count, "GT": count + 1, "EQ": count}.get(op)
    if needed is None or needed < 1:
        raise NoCase(f"no case is built for a '{op.lower()}' condition")
    if kind == SigmaCorrelationType.EVENT_COUNT:
        events = [(firing[0], trees[0])] * needed
        return events, events[:-1]
    field = str(condition.fieldref)
    events = []
    for n in range(needed):  # value_count: each event with a value of its own
        record = set_field(copy.deepcopy(firing[0]), field, f"sigma-value-{n}")
        if not matches(trees[0], record, json.dumps(record)):
            raise NoCase(f"its events cannot vary '{field}' and still match")
        events.append((record, trees[0]))
    return events, events[:-1]
