"""Every built-in rule's fire and quiet cases, one pytest case each (the same harness
as `auditlog rules test`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlog.engines.cases import Case, load_cases, run_case
from auditlog.pack import Rule, load_rules

# Each case builds its own database and needs no shared fixture, so pytest-xdist shares
# the cases out over the workers (conftest.py SPREAD_OVER_WORKERS).
RULES = load_rules()
CASES = [(rule, case) for rule in RULES for case in load_cases(rule)]


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[c.label for _, c in CASES])
def test_case(rule: Rule, case: Case, tmp_path: Path) -> None:
    result = run_case(rule, case, tmp_path)
    assert result.passed, result.message


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_every_rule_has_fire_and_quiet_cases(rule: Rule) -> None:
    expects = {c.expect for c in load_cases(rule)}
    assert expects == {"fire", "quiet"}
