"""A timeline a person can read: a summary of its events by what they are, then at most
`limit` of them, chosen so that the moments an investigation turns on stay in view.

Thousands of like events (a service's charges, one per order) bury the few that say what
happened (a grant, a change, a revocation). The cut keeps, in this order of priority:

1. every event of the rare kinds: changes (start, finish, window), privileges (grants,
   revocations) and accounts (created, disabled);
2. the first and the last event of each group of like events (kind, event, what, system):
   when a burst started and when it stopped;
3. then the earliest of the others, evidence of findings before the rest;

shown in time order, each with the number of events left out before it (and after the
last), so the cut is visible where it is. The summary counts every event, cut or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from auditlog.analysis.timeline import timeline_records

# Kinds whose every event is kept: there are few of them, and each is a turning point.
KEY_KINDS = ("changes", "privileges", "accounts")
GROUP = ("kind", "event", "what", "system")


@dataclass(frozen=True)
class EventGroup:
    """Like events of the timeline: how many, how many are evidence, when, how much."""

    kind: str
    event: str
    what: str | None
    system: str | None
    events: int
    flagged: int
    first: datetime
    last: datetime
    by_currency: tuple[tuple[str | None, Decimal], ...]


@dataclass(frozen=True)
class TimelineDigest:
    """The groups of all `total` events, and the events kept, each with `hidden_before`
    events left out between it and the one shown before it; `hidden_after` after the
    last one shown."""

    total: int
    groups: tuple[EventGroup, ...]
    events: tuple[dict[str, Any], ...]
    hidden_before: tuple[int, ...]
    hidden_after: int

    @property
    def shown(self) -> int:
        return len(self.events)


def with_groups(frame: pl.DataFrame) -> pl.DataFrame:
    """The timeline with its position (`_at`) and what each event is (`what`: the first
    word of its summary, an action's name, a charge's type, a grant's operation)."""
    return frame.with_row_index("_at").with_columns(
        what=pl.col("summary").str.split(" ").list.first())


def summarize(frame: pl.DataFrame) -> tuple[EventGroup, ...]:
    """One group per (kind, event, what, system), in the order each first happened."""
    groups = (frame.group_by(list(GROUP), maintain_order=True)
              .agg(events=pl.len(), flagged=(pl.col("rules").list.len() > 0).sum(),
                   first=pl.col("ts").min(), last=pl.col("ts").max(), start=pl.col("_at").min())
              .sort("start"))
    money = (frame.filter(pl.col("amount").is_not_null())
             .group_by([*GROUP, "currency"]).agg(pl.col("amount").sum())
             .sort("currency", nulls_last=False))
    sums: dict[tuple[Any, ...], list[tuple[str | None, Decimal]]] = {}
    for row in money.iter_rows(named=True):
        sums.setdefault(tuple(row[c] for c in GROUP), []).append(
            (row["currency"], row["amount"]))
    return tuple(
        EventGroup(row["kind"], row["event"], row["what"], row["system"], row["events"],
                   row["flagged"], row["first"], row["last"],
                   tuple(sums.get(tuple(row[c] for c in GROUP), ())))
        for row in groups.iter_rows(named=True))


def key_positions(frame: pl.DataFrame, limit: int) -> list[int]:
    """The positions of the events to show, by the priorities above, in time order."""
    bounds = frame.group_by(list(GROUP)).agg(first=pl.col("_at").min(),
                                             last=pl.col("_at").max())
    edges = set(bounds["first"].to_list()) | set(bounds["last"].to_list())
    ranked = frame.select(
        "_at",
        priority=pl.when(pl.col("kind").is_in(KEY_KINDS)).then(0)
        .when(pl.col("_at").is_in(sorted(edges))).then(1)
        .when(pl.col("rules").list.len() > 0).then(2)
        .otherwise(3),
    ).sort(["priority", "_at"]).head(limit)
    return sorted(ranked["_at"].to_list())


def digest(frame: pl.DataFrame, limit: int | None) -> TimelineDigest:
    """The summary and at most `limit` key events of a timeline (`timeline.timeline`'s
    frame, complete); all of them when `limit` is None."""
    framed = with_groups(frame)
    total = framed.height
    positions = list(range(total)) if limit is None or limit >= total else key_positions(
        framed, limit)
    events = timeline_records(frame[positions] if positions else frame.head(0))
    gaps, previous = [], -1
    for at in positions:
        gaps.append(at - previous - 1)
        previous = at
    return TimelineDigest(total, summarize(framed), tuple(events), tuple(gaps),
                          total - previous - 1)
