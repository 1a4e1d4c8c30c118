"""What every engine is: the Engine protocol, the one output wrapper of rule SQL, and the
one place a finding gets its id.

An engine runs a pack: it installs the shared units the rules read (`install`), runs the
rules and returns their findings as one polars frame with FINDING_COLUMNS (`run_rules`),
and says what SQL it runs for a rule (`sql_of`). findings.run_packs asks an engine for
that frame and knows nothing else of it: merging, the evidence index and the stored
attribution are the same whichever engine ran.

The output wrapper (`wrapped_sql`) is written once, in DuckDB's dialect: it casts the
rule's columns to their contract types, de-duplicates and sorts the evidence, applies
--since/--until to the findings (the rule itself still sees all history, for its
baselines) and orders them by key. Another engine runs it translated (engines/spark.py
through translate.py), so no engine can type or filter findings differently.

`EngineBase` gives an engine the loop over rules, the ids and the context manager; an
engine that subclasses it writes `install`, `rule_output`, `sql_of` and `close`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import polars as pl

from auditlog.errors import RuleError, rule_location
from auditlog.kinds import AMOUNT_SQL_TYPE
from auditlog.pack.model import OUTPUT_COLUMNS, Rule

if TYPE_CHECKING:
    from auditlog.pack.units import SqlUnit

FINDING_COLUMNS = ("finding_id", "rule_id", "severity", "title", *OUTPUT_COLUMNS)

# The polars types of a rule's output columns, as the wrapper casts them.
OUTPUT_SCHEMA: dict[str, Any] = {
    "ts": pl.Datetime("us", "UTC"), "change_id": pl.String, "actor": pl.String,
    "account": pl.String, "amount": pl.Decimal(18, 4), "evidence": pl.List(pl.String),
    "key": pl.String}


@runtime_checkable
class Engine(Protocol):
    """A way to run rule packs. Entering it checks that it can run (its database, lake or
    libraries) and opens nothing yet; `install` and `run_rules` open what they need;
    `close` (or leaving the `with` block) releases it."""

    name: str

    def install(self, units: Sequence[SqlUnit]) -> None:
        """Create `units` (in creation order, pack.units) for the rules to read."""
        ...

    def run_rules(self, rules: Sequence[Rule], params: dict[str, Any] | None = None,
                  since: datetime | None = None, until: datetime | None = None
                  ) -> pl.DataFrame:
        """The findings of `rules` (FINDING_COLUMNS), ordered by rule id then key."""
        ...

    def sql_of(self, rule: Rule) -> str:
        """The rule's query in this engine's SQL, as it runs inside the output wrapper
        (what `rules show --engine` prints)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


def finding_id(rule_id: str, key: str) -> str:
    """Stable across runs and engines: the same rule and key always give the same id."""
    digest = hashlib.sha256(f"{rule_id}\x1f{key}".encode()).hexdigest()
    return f"F-{digest[:16]}"


# finding_id in DuckDB's SQL, the rule id bound as $auditlog_rule_id: sha256() hashes a
# VARCHAR's UTF-8 bytes and spells the digest in lower-case hex, as hashlib does
# (tests/test_rules.py holds the two to the same ids). A rule with millions of findings
# then gets its ids in the query, in parallel, instead of a Python call per finding.
FINDING_ID_SQL = ("'F-' || substr(sha256(CAST($auditlog_rule_id AS VARCHAR) || chr(31)"
                  " || CAST(key AS VARCHAR)), 1, 16)")


# The DuckDB-only form of list_sort(list_distinct(evidence)): the list sorted once (in
# the query around the rule, under this name), then each item kept unless NULL or equal
# to the one before it. The same lists (equal items are neighbours once sorted; NULLs
# are dropped as list_distinct drops them, wherever the sort puts them), ~20% less
# CPU than hashing each list's items (issue 14: ~0.2 us a finding).
SORTED_EVIDENCE = "auditlog_sorted_evidence"
SORTED_DISTINCT = (f"list_filter({SORTED_EVIDENCE}, lambda e, i: e IS NOT NULL"
                   f" AND (i = 1 OR e IS DISTINCT FROM {SORTED_EVIDENCE}[i - 1]))")


def wrapped_sql(rule: Rule, since: datetime | None, until: datetime | None, *,
                identified: bool = False) -> str:
    """The rule inside the output wrapper, in DuckDB's dialect, with $auditlog_since and
    $auditlog_until as markers when given; `identified` adds the finding_id column
    (FINDING_ID_SQL), for an engine that runs DuckDB itself.

    DuckDB's list_distinct drops NULLs and Spark's array_distinct keeps them: the
    evidence is filtered first, so both give the same list. The DuckDB-only form
    (`identified`) leaves the filter out, as DuckDB needs none: the same lists, a fifth
    less of the wrapper's time on a rule with millions of findings."""
    body = rule.sql.strip().rstrip(";")
    identity = f", {FINDING_ID_SQL} AS finding_id" if identified else ""
    evidence = (SORTED_DISTINCT if identified else "list_sort(list_distinct(list_filter("
                "CAST(evidence AS VARCHAR[]), lambda e: e IS NOT NULL)))")
    if identified:
        body = (f"SELECT *, list_sort(CAST(evidence AS VARCHAR[])) AS {SORTED_EVIDENCE}\n"
                f"FROM (\n{body}\n) AS rule_query")
    where = []
    if since is not None:
        where.append("ts >= CAST($auditlog_since AS TIMESTAMPTZ)")
    if until is not None:
        where.append("ts < CAST($auditlog_until AS TIMESTAMPTZ)")
    return (
        "SELECT CAST(ts AS TIMESTAMPTZ) AS ts, CAST(change_id AS VARCHAR) AS change_id,"
        " CAST(actor AS VARCHAR) AS actor, CAST(account AS VARCHAR) AS account,"
        f" CAST(amount AS {AMOUNT_SQL_TYPE}) AS amount,"
        f" {evidence} AS evidence,"
        f" CAST(key AS VARCHAR) AS key{identity}\n"
        f"FROM (\n{body}\n) AS rule_output"
        + (f"\nWHERE {' AND '.join(where)}" if where else "")
        + "\nORDER BY key"
    )


def with_identity(rule: Rule, frame: pl.DataFrame) -> pl.DataFrame:
    """A rule's output rows (OUTPUT_COLUMNS) as findings: checked keys, ids, metadata.
    A frame that already has finding_id (wrapped_sql's `identified`) keeps it."""
    if frame["key"].null_count():
        raise RuleError("returned a finding with a NULL key", location=rule_location(rule))
    if frame["key"].n_unique() != frame.height:
        dup = frame.filter(frame["key"].is_duplicated())["key"][0]
        raise RuleError(f"returned the key {dup!r} more than once; keys must be unique",
                        location=rule_location(rule))
    ids = frame["finding_id"] if "finding_id" in frame.columns else \
        pl.Series("finding_id", [finding_id(rule.id, k) for k in frame["key"]], pl.String)
    return frame.with_columns(
        ids,
        pl.lit(rule.id).alias("rule_id"),
        pl.lit(rule.severity).alias("severity"),
        pl.lit(rule.title).alias("title"),
    ).select(FINDING_COLUMNS)


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema={"finding_id": pl.String, "rule_id": pl.String,
                                "severity": pl.String, "title": pl.String, **OUTPUT_SCHEMA})


def concat_findings(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Findings frames one after the other; the typed empty frame when there are none."""
    return pl.concat(frames, how="vertical_relaxed") if frames else empty_findings()


class EngineBase(ABC):
    """The part every engine shares: rules run one by one in id order, each output
    turned into findings by with_identity, and the context manager. An engine that
    does not say how to run one rule (rule_output) cannot be made."""

    name = "engine"

    @abstractmethod
    def rule_output(self, rule: Rule, params: dict[str, Any] | None,
                    since: datetime | None, until: datetime | None) -> pl.DataFrame:
        """One rule's wrapped output (OUTPUT_COLUMNS, ordered by key)."""

    def check(self) -> None:
        """Raise when the engine cannot run (a missing database, lake or library)."""

    def close(self) -> None:
        """Release what install and run_rules opened."""

    def run_rules(self, rules: Sequence[Rule], params: dict[str, Any] | None = None,
                  since: datetime | None = None, until: datetime | None = None
                  ) -> pl.DataFrame:
        return concat_findings(
            [with_identity(rule, self.rule_output(rule, params, since, until))
             for rule in sorted(rules, key=lambda r: r.id)])

    def __enter__(self) -> Self:
        self.check()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
