"""A matching and a non-matching event built from a Sigma rule's own detection, for the
rule's case file: a template record of the logsource (one that its adapter ingests),
changed just enough to satisfy the condition, then checked with evaluate.py. The
non-matching event is the matching one with one of the fields the detection tests
changed or removed, checked not to match.
"""

from __future__ import annotations

import copy
import json
import re
import re._parser as sre  # type: ignore[import-not-found]
from dataclasses import dataclass
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
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from auditlog.pack.sigma.evaluate import matches
from auditlog.pack.sigma.logsources import CLOUDTRAIL, KUBERNETES, LogSource
from auditlog.pack.sigma.sql import regexp_text

Record = dict[str, Any]
NON_MATCHING = "auditlog-non-matching"
KEYWORD_FIELD = "auditlogKeyword"

TEMPLATES: dict[str, Record] = {
    CLOUDTRAIL.pack: {
        "eventVersion": "1.08", "eventTime": "2026-01-05T10:00:00Z",
        "eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity",
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0", "eventType": "AwsApiCall",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDASIGMACASE",
                         "arn": "arn:aws:iam::111122223333:user/sigma-case",
                         "accountId": "111122223333", "userName": "sigma-case"},
        "requestID": "sigma-case-request", "recipientAccountId": "111122223333",
        "requestParameters": {"userName": "sigma-case-target", "policyName": "sigma-case-policy"},
    },
    KUBERNETES.pack: {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods",
        "verb": "get", "user": {"username": "sigma-case", "groups": ["system:authenticated"]},
        "sourceIPs": ["198.51.100.7"], "userAgent": "kubectl/v1.29.0",
        "objectRef": {"resource": "pods", "namespace": "default", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2026-01-05T10:00:00.000000Z",
        "stageTimestamp": "2026-01-05T10:00:00.100000Z",
    },
}


class NoCase(Exception):
    """No event could be built; the text says why."""


def case_events(tree: Any, source: LogSource, event_id: str) -> tuple[Record, Record]:
    """(matching, non-matching) records for the condition `tree`, with ids
    `<event_id>-fire` and `<event_id>-quiet`."""
    base = copy.deepcopy(TEMPLATES[source.pack])
    for record in candidates(tree, base):
        record[source.id_field] = f"{event_id}-fire"
        if complete(record, source) and matches(tree, record, json.dumps(record)):
            quiet = non_matching(tree, record, source)
            if quiet is not None:
                quiet[source.id_field] = f"{event_id}-quiet"
                return record, quiet
    raise NoCase("no event satisfying its detection could be built for its case")


def candidates(node: Any, record: Record) -> list[Record]:
    """Records derived from `record` that may satisfy `node` (checked by the caller)."""
    if isinstance(node, ConditionAND):
        records = [record]
        for arg in node.args:
            records = [r for rec in records for r in candidates(arg, rec)][:16]
        return records
    if isinstance(node, ConditionOR):
        return [r for arg in node.args for r in candidates(arg, copy.deepcopy(record))][:16]
    if isinstance(node, ConditionNOT):
        return falsified(node.args[0], copy.deepcopy(record))
    if isinstance(node, ConditionFieldEqualsValueExpression | ConditionValueExpression):
        field = getattr(node, "field", None) or KEYWORD_FIELD  # a keyword: any field
        out = []
        for value in samples(node.value):
            old = get(record, field)
            if isinstance(old, dict) and isinstance(value, str):  # an object's JSON text
                out.append(set_field(copy.deepcopy(record), field, within(old, value)))
            out.append(set_field(copy.deepcopy(record), field, value))
            if isinstance(old, str) and isinstance(value, str):  # contains|all: add to it
                out.append(set_field(copy.deepcopy(record), field, f"{old} {value}"))
        return out
    return []


def falsified(node: Any, record: Record) -> list[Record]:
    """Records derived from `record` where `node` may be false."""
    if isinstance(node, ConditionNOT):
        return candidates(node.args[0], record)
    if isinstance(node, ConditionOR):
        records = [record]
        for arg in node.args:
            records = [r for rec in records for r in falsified(arg, rec)][:16]
        return records
    if isinstance(node, ConditionAND):
        return [r for arg in node.args for r in falsified(arg, copy.deepcopy(record))][:16]
    if isinstance(node, ConditionFieldEqualsValueExpression) and node.field is not None:
        if isinstance(node.value, SigmaNull | SigmaExists):
            return [set_field(copy.deepcopy(record), node.field, NON_MATCHING)]
        return [set_field(copy.deepcopy(record), node.field, NON_MATCHING),
                remove_field(copy.deepcopy(record), node.field)]
    return [record]


def samples(value: Any) -> list[Any]:
    """Values that satisfy `value` (a SigmaType); the first few of an expansion."""
    if isinstance(value, SigmaExpansion):
        return [s for v in value.values[:3] for s in samples(v)]
    if isinstance(value, SigmaString):
        return [string_sample(value)]
    if isinstance(value, SigmaBool):
        return [value.boolean]
    if isinstance(value, SigmaNumber):
        return [value.number]
    if isinstance(value, SigmaCompareExpression):
        n = value.number.number
        return [{"LT": n - 1, "LTE": n, "GT": n + 1, "GTE": n}[value.op.name]]
    if isinstance(value, SigmaRegularExpression):
        return [regex_sample(regexp_text(value))]
    if isinstance(value, SigmaCIDRExpression):
        return [str(value.network.network_address)]
    if isinstance(value, SigmaExists):
        return ["sigma-case"] if value.exists else [REMOVE]
    if isinstance(value, SigmaNull):
        return [REMOVE]
    if isinstance(value, SigmaFieldReference):
        return [FieldRef(value.field)]
    return []


@dataclass(frozen=True)
class FieldRef:
    """A sample that is another field's value (fieldref)."""

    field: str


REMOVE = object()  # a sample meaning: the field is absent


def within(obj: Record, text: str) -> Record:
    """`obj` with `text` in its compact JSON text: quoted parts ('"Allow"') as strings of
    a list, the rest as one string; the object's other keys kept (an adapter may need
    them: the userName of a policy call)."""
    parts = re.findall(r'"([^"]*)"', text) if '"' in text else [text]
    kept = obj.get(TEXT_KEY, [])
    return {**obj, TEXT_KEY: [*kept, *parts]}


TEXT_KEY = "auditlogText"


def string_sample(value: SigmaString) -> str:
    return "".join("" if p == SpecialChars.WILDCARD_MULTI else "x"
                   if p == SpecialChars.WILDCARD_SINGLE else str(p) for p in value.s)


def set_field(record: Record, field: str, value: Any) -> Record:
    """`record` with `field` (a dotted path) set to `value`, the objects on the way made."""
    if value is REMOVE:
        return remove_field(record, field)
    if isinstance(value, FieldRef):  # the same value as the field it refers to
        if get(record, value.field) is None:
            set_field(record, value.field, "sigma-case-reference")
        value = get(record, value.field)
    parts = field.split(".")
    node = record
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    return record


def get(record: Any, field: str) -> Any:
    for part in field.split("."):
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    return record


def remove_field(record: Record, field: str) -> Record:
    parts = field.split(".")
    node: Any = record
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return record
        node = node[part]
    if isinstance(node, dict):
        node.pop(parts[-1], None)
    return record


def complete(record: Record, source: LogSource) -> bool:
    """Whether the record still has what its adapter needs to read it."""
    return all(get(record, f) is not None for f in source.required)


def non_matching(tree: Any, record: Record, source: LogSource) -> Record | None:
    """`record` with one tested field changed or removed, so that it does not match."""
    for field in tested_fields(tree):
        for change in ("set", "remove"):
            quiet = copy.deepcopy(record)
            if change == "set":
                set_field(quiet, field, NON_MATCHING)
            else:
                remove_field(quiet, field)
            if complete(quiet, source) and not matches(tree, quiet, json.dumps(quiet)):
                return quiet
    return None


def tested_fields(node: Any) -> list[str]:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return [node.field or KEYWORD_FIELD]
    if isinstance(node, ConditionValueExpression):
        return [KEYWORD_FIELD]
    if isinstance(node, ConditionNOT):
        return []
    return [f for a in getattr(node, "args", []) for f in tested_fields(a)]


def regex_sample(pattern: str) -> str:
    """A string the regular expression finds a match in."""
    return "".join(regex_part(op, arg) for op, arg in sre.parse(pattern))


def regex_part(op: Any, arg: Any) -> str:
    name = str(op)
    if name == "LITERAL":
        return chr(arg)
    if name == "ANY":
        return "a"
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, _high, item = arg
        return "".join(regex_part(o, a) for o, a in item) * max(low, 0)
    if name == "SUBPATTERN":
        return "".join(regex_part(o, a) for o, a in arg[-1])
    if name == "BRANCH":
        return "".join(regex_part(o, a) for o, a in arg[1][0])
    if name == "IN":
        for o, a in arg:
            if str(o) == "LITERAL":
                return chr(a)
            if str(o) == "RANGE":
                return chr(a[0])
            if str(o) == "CATEGORY":
                return category_sample(a)
        return "a"
    if name == "CATEGORY":
        return category_sample(arg)
    return ""  # anchors and assertions


def category_sample(category: Any) -> str:
    name = str(category)
    if "DIGIT" in name:
        return "0" if "NOT" not in name else "a"
    if "SPACE" in name:
        return " " if "NOT" not in name else "a"
    return "a" if "NOT" not in name else " "
