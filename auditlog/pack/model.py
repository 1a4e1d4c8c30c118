"""The rule model: what one detection is, as data checked when it is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditlog.errors import UsageError
from auditlog.kinds import KINDS

# Every rule's SELECT returns exactly these columns (extra columns are ignored).
OUTPUT_COLUMNS = ("ts", "change_id", "actor", "account", "amount", "evidence", "key")

ParamValue = int | float | str | bool


@dataclass(frozen=True)
class Rule:
    """One detection: its SQL, its metadata, and where both came from."""

    id: str
    pack: str
    title: str
    severity: str
    description: str
    rationale: str
    investigate: str
    sql: str
    source: str  # the .sql file, named in every error about this rule
    tags: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    params: dict[str, ParamValue] = field(default_factory=dict)
    cases_source: str | None = None
    # A rule imported from Sigma (pack/sigma): the Sigma rule's own metadata (its .toml's
    # [sigma] table: id, title, level, status, tags, references, sha256, ...); else empty.
    sigma: dict[str, Any] = field(default_factory=dict)

    def bind(self, overrides: dict[str, Any] | None = None) -> dict[str, ParamValue]:
        """The rule's parameters with user overrides, coerced to the default's type."""
        values = dict(self.params)
        for name, raw in (overrides or {}).items():
            if name not in values:
                continue  # a --param meant for another rule
            try:
                values[name] = coerce(raw, values[name])
            except ValueError:
                kind = type(values[name]).__name__
                raise UsageError(f"{{params}} {name}={raw!r} is not a valid {kind} "
                                 f"(default {values[name]!r})", source=self.source,
                                 arguments=("params",)) from None
        return values


def coerce(raw: Any, default: ParamValue) -> ParamValue:
    """Turn a command-line string into the type of the parameter's default."""
    if not isinstance(raw, str):
        return raw  # type: ignore[no-any-return]
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def known_kinds() -> tuple[str, ...]:
    return tuple(KINDS)
