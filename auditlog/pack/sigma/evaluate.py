"""A parsed Sigma detection evaluated over one JSON record in Python, with the semantics
sql.py writes in SQL (see its docstring). The rule cases are built with it (synth.py):
an event is kept as the case's matching event only when this says it matches.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from auditlog.pack.sigma.sql import regexp_text

RE_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
            SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
            SigmaRegularExpressionFlag.DOTALL: re.DOTALL}


def field_text(record: Any, field: str) -> str | None:
    """The field's value as text, None when absent or null (sql.py's `->>`)."""
    value = record
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return as_text(value)


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def matches(node: Any, record: dict[str, Any], text: str) -> bool:
    """Whether `record` (whose verbatim text is `text`) satisfies the condition `node`."""
    if isinstance(node, ConditionAND):
        return all(matches(a, record, text) for a in node.args)
    if isinstance(node, ConditionOR):
        return any(matches(a, record, text) for a in node.args)
    if isinstance(node, ConditionNOT):
        return not matches(node.args[0], record, text)
    if isinstance(node, ConditionFieldEqualsValueExpression) and node.field is not None:
        return value_matches(field_text(record, node.field), node.value, record)
    if isinstance(node, ConditionFieldEqualsValueExpression | ConditionValueExpression):
        return keyword_matches(node.value, text)
    raise TypeError(f"unknown condition element {type(node).__name__}")


def keyword_matches(value: Any, text: str) -> bool:
    if isinstance(value, SigmaExpansion):
        return any(keyword_matches(v, text) for v in value.values)
    return bool(string_regex(value).search(text))  # a keyword: anywhere in the text


def value_matches(actual: str | None, value: Any, record: dict[str, Any]) -> bool:
    if isinstance(value, SigmaExpansion):
        return any(value_matches(actual, v, record) for v in value.values)
    if isinstance(value, SigmaNull):
        return actual is None
    if isinstance(value, SigmaExists):
        return (actual is not None) == value.exists
    if actual is None:
        return False
    if isinstance(value, SigmaString):
        return bool(string_regex(value).fullmatch(actual))
    if isinstance(value, SigmaBool):
        return actual.lower() == str(value.boolean).lower()
    if isinstance(value, SigmaNumber):
        return actual == str(value.number)
    if isinstance(value, SigmaCompareExpression):
        return compare(actual, value)
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= RE_FLAGS[flag]
        return bool(re.search(regexp_text(value), actual, flags))
    if isinstance(value, SigmaCIDRExpression):
        return any(actual.startswith(p.rstrip("*")) for p in value.expand(wildcard="*"))
    if isinstance(value, SigmaFieldReference):
        other = field_text(record, value.field)
        return other is not None and actual.lower() == other.lower()
    raise TypeError(f"unknown value type {type(value).__name__}")


def compare(actual: str, value: SigmaCompareExpression) -> bool:
    try:
        number = float(actual)
    except ValueError:
        return False
    limit = float(value.number.number)
    return {"LT": number < limit, "LTE": number <= limit, "GT": number > limit,
            "GTE": number >= limit}[value.op.name]


def string_regex(value: SigmaString) -> re.Pattern[str]:
    """A Sigma string as a regular expression (fullmatch: equality with wildcards)."""
    pattern = "".join(".*" if p == SpecialChars.WILDCARD_MULTI
                      else "." if p == SpecialChars.WILDCARD_SINGLE
                      else re.escape(str(p)) for p in value.s)
    flags = re.DOTALL | (0 if isinstance(value, SigmaCasedString) else re.IGNORECASE)
    return re.compile(pattern, flags)


