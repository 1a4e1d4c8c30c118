"""Which controls failed, for a change, a privilege grant or an account.

Two sources, merged: the control views (queries/controls/*.sql: a change without
approver, approved by its implementer, started outside its window beyond the model's
grace; a grant without ticket or approver, or to oneself; an implementer who also granted
the privilege an account used), which the rules and `trace change` read too, so the
three always agree; and the stored findings of the rules whose metadata tags them with a
control (`control:separation-of-duties`, ...). A finding that confirms a check of the
views is attached to it; a finding of a control no check covers becomes its own entry. So
a new rule tagged with a control shows up here without touching this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cache

import duckdb
import polars as pl

from auditlog.pack import Rule, load_rules, severity_rank
from auditlog.report.model import ChangeSection, Control, Grant, RuleFindings

CONTROL_PREFIX = "control:"

# Packs whose findings speak about how a change, a grant or an account was controlled.
CHANGE_PACKS = ("change", "privilege")
ACCOUNT_PACKS = ("privilege", "operator")


@cache
def rule_index() -> dict[str, Rule]:
    """The built-in rules by id: the tags that say which control each one checks."""
    return {rule.id: rule for rule in load_rules()}


def control_tags(rule: Rule) -> list[str]:
    return [t.removeprefix(CONTROL_PREFIX) for t in rule.tags if t.startswith(CONTROL_PREFIX)]


def control_label(tag: str) -> str:
    """'separation-of-duties' -> 'Separation of duties'."""
    return tag.replace("-", " ").replace("_", " ").capitalize()


def entry(tag: str, check: str, text: str, source: str = "records") -> Control:
    return Control(tag, control_label(tag), check, text, source)


def change_checks(con: duckdb.DuckDBPyConnection, change: ChangeSection,
                  used_grants: Sequence[Grant]) -> list[Control]:
    """The checks a change fails (controls/change_controls.sql), approval before timing,
    then those of the grants its responsible accounts used that its implementer gave
    (controls/change_grant_controls.sql), in the order of `used_grants`."""
    rows = con.execute("""
        SELECT control, check_name, reason FROM change_controls WHERE change_id = ?
        ORDER BY control = 'change-window', control, check_name""",
                       [change.change_id]).fetchall()
    found = [entry(control, check, reason) for control, check, reason in rows]
    granted = {grant_id: entry(control, check, reason) for grant_id, control, check, reason in
               con.execute("""
        SELECT grant_event_id, control, check_name, reason FROM change_grant_controls
        WHERE change_id = ?""", [change.change_id]).fetchall()}
    return found + [granted[g.id] for g in used_grants if g.id in granted]


def grant_checks(con: duckdb.DuckDBPyConnection, grant: Grant) -> list[Control]:
    """The checks one grant's record fails (controls/grant_controls.sql)."""
    rows = con.execute("""
        SELECT control, check_name, reason FROM grant_controls WHERE grant_event_id = ?
        ORDER BY control, check_name""", [grant.id]).fetchall()
    return [entry(control, check, reason) for control, check, reason in rows]


def rule_counts(findings: pl.DataFrame, packs: Iterable[str]) -> list[tuple[Rule, int]]:
    """(rule, number of findings) for the findings of control rules of `packs`, most
    severe first; findings triaged as false positives do not count."""
    if findings.is_empty():
        return []
    kept = findings.filter(pl.col("status") != "false_positive")
    counts = kept.group_by("rule_id").len().sort("rule_id").iter_rows()
    rules = rule_index()
    chosen = [(rules[rule_id], int(n)) for rule_id, n in counts
              if rule_id in rules and rules[rule_id].pack in packs
              and control_tags(rules[rule_id])]
    return sorted(chosen, key=lambda rn: (-severity_rank(rn[0].severity), rn[0].id))


def with_findings(controls: Sequence[Control], counts: Sequence[tuple[Rule, int]]
                  ) -> list[Control]:
    """Attach each rule's findings to the first check from the records that shares one of
    its controls (the rule confirms it), or add the rule as an entry of its own; a
    control's severity is its most severe rule's."""
    entries = list(controls)
    found: dict[int, list[RuleFindings]] = {}
    for rule, count in counts:
        tags = control_tags(rule)
        index = next((i for i, c in enumerate(entries)
                      if c.source == "records" and c.control in tags), None)
        if index is None:
            entries.append(entry(tags[0], rule.id, rule.title + ".", source="rule"))
            index = len(entries) - 1
        found.setdefault(index, []).append(
            RuleFindings(rule.id, rule.title, rule.severity, count))
    out = []
    for index, control in enumerate(entries):
        rules = (*control.rules, *found.get(index, ()))
        severity = max((r.severity for r in rules), key=severity_rank, default=None)
        out.append(replace(control, rules=rules, severity=severity))
    return out


def rules_as_counts(rule_ids: Iterable[str], packs: Iterable[str]) -> list[tuple[Rule, int]]:
    """For an item known only by the rule ids that name it (a grant): one finding each."""
    frame = pl.DataFrame({"rule_id": list(rule_ids), "status": "open"},
                         schema={"rule_id": pl.String, "status": pl.String})
    return rule_counts(frame, packs)
