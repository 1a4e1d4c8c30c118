"""A parsed Sigma detection condition as one SQL predicate over an event's verbatim
record, in the portable subset (PORTABLE-SQL: DuckDB as written, Spark through sqlglot).

Semantics, the same in evaluate.py (the Python twin the cases are built with):
- a field is a dotted path into the record (`userIdentity.arn`); a missing field, or a
  JSON null, has no value, and a test on a field without value is false, so
  `not filter` holds for an event that lacks the filter's field;
- an object or array value is compared as its compact JSON text (what
  `requestParameters|contains` needs); numbers and booleans as their JSON text;
- strings match case-insensitively (Sigma's default), `|cased` case-sensitively;
  `*` and `?` are wildcards; `re` is a search (unanchored) with the rule's flags;
- `keywords` search the record's whole text.
Every leaf is wrapped in coalesce(..., false): SQL's NULL would otherwise make
`NOT (x = 'a')` drop an event without x, where Sigma keeps it.
"""

from __future__ import annotations

from collections.abc import Callable

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
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

from auditlog.sqltext import sql_string as literal


class Unsupported(Exception):
    """A construct this backend cannot express; its text is the one-sentence reason."""


# How a field is read: SQL giving the field's value as text (NULL when absent).
FieldReader = Callable[[str], str]

RE_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: "i",
            SigmaRegularExpressionFlag.MULTILINE: "m",
            SigmaRegularExpressionFlag.DOTALL: "s"}
COMPARE = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}


def json_path(field: str) -> str:
    """The JSON path of a dotted Sigma field name."""
    parts = field.split(".")
    for part in parts:
        if not part or not all(c.isascii() and (c.isalnum() or c == "_") for c in part):
            raise Unsupported(f"field name '{field}' is not a plain dotted path")
    return "$." + ".".join(parts)


def record_field(record: str) -> FieldReader:
    """Reads a field as a path into the JSON record column `record`."""
    return lambda field: f"({record} ->> {literal(json_path(field))})"


def condition_sql(node: ConditionItem | ConditionFieldEqualsValueExpression
                  | ConditionValueExpression, read: FieldReader, text: str) -> str:
    """`node` as a predicate; `read` gives a field's value, `text` the record's text."""
    if isinstance(node, ConditionAND | ConditionOR):
        joiner = " AND " if isinstance(node, ConditionAND) else " OR "
        parts = [condition_sql(a, read, text) for a in node.args]  # type: ignore[arg-type]
        return "(" + joiner.join(parts) + ")" if len(parts) > 1 else parts[0]
    if isinstance(node, ConditionNOT):
        return f"(NOT {condition_sql(node.args[0], read, text)})"  # type: ignore[arg-type]
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if node.field is None:
            return keyword_sql(node.value, text)
        return value_sql(read(node.field), node.value, read)
    if isinstance(node, ConditionValueExpression):
        return keyword_sql(node.value, text)
    raise Unsupported(f"the condition element {type(node).__name__} is not supported")


def keyword_sql(value: object, text: str) -> str:
    if isinstance(value, SigmaExpansion):
        return "(" + " OR ".join(keyword_sql(v, text) for v in value.values) + ")"
    if not isinstance(value, SigmaString):
        raise Unsupported(f"a keyword of type {type(value).__name__} is not supported")
    # A keyword matches anywhere in the record (Sigma: full-text search).
    return string_sql(text, value, anywhere=True)


def value_sql(column: str, value: object, read: FieldReader) -> str:
    if isinstance(value, SigmaExpansion):
        return "(" + " OR ".join(value_sql(column, v, read) for v in value.values) + ")"
    if isinstance(value, SigmaNull):
        return f"({column} IS NULL)"
    if isinstance(value, SigmaExists):
        return f"({column} IS {'NOT ' if value.exists else ''}NULL)"
    if isinstance(value, SigmaString):
        return string_sql(column, value)
    if isinstance(value, SigmaBool):
        return guarded(f"lower({column}) = {literal(str(value.boolean).lower())}")
    if isinstance(value, SigmaNumber):
        return guarded(f"{column} = {literal(str(value.number))}")
    if isinstance(value, SigmaCompareExpression):
        op = COMPARE[value.op.name]
        return guarded(f"TRY_CAST({column} AS DOUBLE) {op} {float(value.number.number)!r}")
    if isinstance(value, SigmaRegularExpression):
        flags = "".join(sorted(RE_FLAGS[f] for f in value.flags))
        pattern = (f"(?{flags})" if flags else "") + regexp_text(value)
        return guarded(f"regexp_matches({column}, {literal(pattern)})")
    if isinstance(value, SigmaCIDRExpression):
        if value.network.version != 4:
            raise Unsupported("an IPv6 cidr is not supported (only IPv4 networks)")
        prefixes = value.expand(wildcard="%")
        return "(" + " OR ".join(guarded(f"{column} LIKE {literal(p)}")
                                 for p in prefixes) + ")"
    if isinstance(value, SigmaFieldReference):
        other = read(value.field)
        if value.starts_with or value.ends_with:
            raise Unsupported("fieldref with startswith/endswith is not supported")
        return guarded(f"lower({column}) = lower({other})")
    raise Unsupported(f"a value of type {type(value).__name__} is not supported")


def guarded(predicate: str) -> str:
    """False, not NULL, for a field without value (see the module's docstring)."""
    return f"coalesce({predicate}, false)"


def string_sql(column: str, value: SigmaString, *, anywhere: bool = False) -> str:
    cased = isinstance(value, SigmaCasedString)
    if value.contains_placeholder():
        raise Unsupported("a %placeholder% value needs a pipeline that fills it in")
    target = column if cased else f"lower({column})"
    if not value.contains_special() and not anywhere:
        plain = value.to_plain()
        return guarded(f"{target} = {literal(plain if cased else plain.lower())}")
    pattern = "".join(like_part(p) for p in value.s)
    if anywhere:
        pattern = f"%{pattern}%"
    if not cased:
        pattern = pattern.lower()
    if pattern == "%":
        return f"({column} IS NOT NULL)"
    return guarded(f"{target} LIKE {literal(pattern)} ESCAPE '\\'")


def like_part(part: object) -> str:
    if part == SpecialChars.WILDCARD_MULTI:
        return "%"
    if part == SpecialChars.WILDCARD_SINGLE:
        return "_"
    if isinstance(part, SpecialChars):
        raise Unsupported(f"the special value {part.name} is not supported")
    return str(part).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def regexp_text(value: SigmaRegularExpression) -> str:
    """The pattern of a `re` value (pySigma 2 holds it as a SigmaString)."""
    regexp: object = value.regexp
    return regexp.to_plain() if isinstance(regexp, SigmaString) else str(regexp)
