"""The Sigma side of a finding's rule: what a rule imported from Sigma says of itself
(its Sigma id, title, level and ATT&CK tags, kept by the run in store/rule_sources), so
a trace and the report can name a Sigma finding as the Sigma rule does, not only by the
file stem auditlog gave it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb

from auditlog.store.rule_sources import sigma_metadata


@dataclass(frozen=True)
class SigmaRule:
    rule: str  # the auditlog rule id (the Sigma file's stem)
    id: str | None  # the Sigma rule's own `id` (a UUID)
    title: str | None
    level: str | None
    tags: tuple[str, ...]  # `attack.t1098`, `attack.persistence`, ...

    @classmethod
    def of(cls, rule: str, meta: dict[str, Any]) -> SigmaRule:
        tags = meta.get("tags") or ()
        return cls(rule=rule, id=text_or_none(meta.get("id")),
                   title=text_or_none(meta.get("title")),
                   level=text_or_none(meta.get("level")),
                   tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else ())


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def sigma_rules(con: duckdb.DuckDBPyConnection, rule_ids: Iterable[str]
                ) -> tuple[SigmaRule, ...]:
    """The rules of `rule_ids` imported from Sigma, in rule id order; () when none is
    (a database without a run, or rules written for auditlog)."""
    found = sigma_metadata(con, rule_ids)
    return tuple(SigmaRule.of(rule, found[rule]) for rule in sorted(found))
