"""Sigma files -> BuiltRule (the SQL, metadata and cases of one auditlog rule) or
Refused (why not), with pySigma's parser: its rule model, modifiers and correlations.

A detection rule's SQL: the rows of the logsource's kinds whose record matches the
condition (sql.py), one finding per source record: key = the event id, evidence = the
event ids of its rows (a Kubernetes binding with N subjects is N privilege rows of one
record), actor, and account = the account acted on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import SigmaRuleLocation

from auditlog.pack.sigma.convert import (
    BuiltRule,
    Refused,
    check_built,
    metadata,
    rule_id_of,
)
from auditlog.pack.sigma.logsources import LogSource, logsource_for, supported
from auditlog.pack.sigma.sql import FieldReader, Unsupported, condition_sql, record_field
from auditlog.pack.sigma.synth import NoCase, case_events
from auditlog.sqltext import sql_string

RECORD_TEXT = "CAST(record AS VARCHAR)"
# The account a row acts on, per kind (kinds.py).
ACCOUNT = {"actions": "target_account", "privileges": "subject"}


def build_rules(files: Sequence[Path]) -> Iterator[BuiltRule | Refused]:
    collections = []
    for path in files:
        try:
            collections.append(SigmaCollection.from_yaml(
                path.read_text(encoding="utf-8"), collect_errors=True,
                source=SigmaRuleLocation(path)))
        except (UnicodeDecodeError, yaml.YAMLError, SigmaError) as exc:
            yield Refused(str(path), path.name,
                          f"it is not a Sigma rule file ({one_sentence(exc)})")
    collection = SigmaCollection.merge(collections)
    try:
        collection.resolve_rule_references()
    except SigmaError:
        pass  # each correlation with a missing reference is refused below
    hidden = {id(ref.rule) for rule in collection.rules
              if isinstance(rule, SigmaCorrelationRule) and not rule.generate
              for ref in rule.rules or [] if getattr(ref, "rule", None) is not None}
    per_file: dict[str, int] = {}
    for rule in collection.rules:
        path = Path(str(rule.source.path)) if rule.source and rule.source.path else Path("?")
        per_file[str(path)] = per_file.get(str(path), 0) + 1
        if id(rule) in hidden:
            continue  # a correlation's rule that does not alert alone (generate: false)
        rule_id = rule_id_of(path)
        if per_file[str(path)] > 1:  # several rules in one file (a correlation's own)
            rule_id = rule_id_of(Path(f"{rule_id}_{rule.name or per_file[str(path)]}"))
        try:
            yield build_one(rule, path, rule_id)
        except (Unsupported, NoCase, SigmaError) as exc:
            yield Refused(str(path), getattr(rule, "title", "") or path.name, one_sentence(exc))
        except Exception as exc:  # noqa: BLE001  (pySigma raises many kinds on odd rules)
            yield Refused(str(path), getattr(rule, "title", "") or path.name,
                          f"pySigma could not read it ({type(exc).__name__}: {exc})")


def one_sentence(exc: Exception) -> str:
    return str(exc).splitlines()[0].rstrip(".") if str(exc) else type(exc).__name__


def build_one(rule: SigmaRule | SigmaCorrelationRule, path: Path, rule_id: str
              ) -> BuiltRule:
    if rule.errors:
        raise Unsupported(f"pySigma refused it: {one_sentence(rule.errors[0])}")
    if isinstance(rule, SigmaCorrelationRule):
        from auditlog.pack.sigma.correlation import build_correlation
        return build_correlation(rule, path, rule_id)
    source = source_of(rule)
    tree = condition_of(rule)
    sql = detection_sql(rule, source, tree)
    if problem := check_built(rule_id, sql):
        raise Unsupported(f"its SQL is outside the portable subset ({problem})")
    fire, quiet = case_events(tree, source, f"sigma-{rule_id}")
    cases: list[dict[str, Any]] = [
        {"name": "the event its detection describes", "expect": "fire", "count": 1,
         "evidence": [fire[source.id_field]], "records": [dumps(fire)]},
        {"name": "the same event with a tested field changed", "expect": "quiet",
         "records": [dumps(quiet)]},
    ]
    return BuiltRule(rule_id, source, path, rule.title, sql,
                     metadata(rule, rule_id, path, source), cases)


def dumps(record: dict[str, Any]) -> str:
    import json

    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def source_of(rule: SigmaRule) -> LogSource:
    logsource = rule.logsource
    source = logsource_for(logsource.product, logsource.service)
    if source is None:
        named = "/".join(x for x in (logsource.category, logsource.product, logsource.service)
                         if x) or "none"
        raise Unsupported(f"its logsource ({named}) is not one auditlog reads ({supported()})")
    return source


def condition_of(rule: SigmaRule) -> Any:
    conditions = rule.detection.parsed_condition
    if len(conditions) != 1:
        raise Unsupported(f"it has {len(conditions)} conditions; one is supported")
    return conditions[0].parse()


def reader(source: LogSource, kind: str) -> FieldReader:
    """A field's value: its typed column when the kind has one, else its record path."""
    from_record = record_field("record")

    def read(field: str) -> str:
        typed = source.typed.get(field, {}).get(kind)
        return f"({typed})" if typed else from_record(field)
    return read


def marker(source: LogSource) -> str:
    """True for a record of `source`: read by its adapter."""
    return f"source_format = {sql_string(source.adapter)}"


def matched_sql(source: LogSource, tree: Any, extra: str = "") -> str:
    """The rows of the source's kinds whose record satisfies `tree`: event_id, ts, actor,
    account, _file, _row (and `extra` columns, SQL over the record)."""
    selects = []
    for kind in source.kinds:
        where = condition_sql(tree, reader(source, kind), RECORD_TEXT)
        selects.append(
            f"  SELECT event_id, ts, actor, {ACCOUNT[kind]} AS account, _file, _row{extra}\n"
            f"  FROM {kind}_with_record\n"
            f"  WHERE {marker(source)}\n    AND {where}")
    return "\n  UNION ALL\n".join(selects)


def detection_sql(rule: SigmaRule, source: LogSource, tree: Any) -> str:
    return (
        f"-- Sigma rule {rule.id}: {one_line(rule.title)}\n"
        "-- Converted by 'auditlog rules import-sigma'; the Sigma YAML is beside this file.\n"
        f"WITH matched AS (\n{matched_sql(source, tree)}\n)\n"
        "SELECT min(ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, min(actor) AS actor,\n"
        "       min(account) AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,\n"
        "       list(event_id) AS evidence, min(event_id) AS key\n"
        "FROM matched\n"
        "GROUP BY _file, _row\n"
    )


def one_line(text: str) -> str:
    return " ".join(text.split())
