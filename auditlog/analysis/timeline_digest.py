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

import duckdb
import polars as pl

from auditlog.analysis.timeline import (
    COLUMNS,
    KINDS,
    empty_timeline,
    timeline_query,
    timeline_records,
)

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


# The timeline's total order (timeline.ORDER), with each kind's rank as SOURCES has it.
RANK = "CASE kind " + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(KINDS)) + " END"
EVENTS = "_timeline_events"
# What an event is: the first word of its summary (an action's name, a charge's type, a
# grant's operation, a change's kind).
WHAT = "split_part(summary, ' ', 1)"


def timeline_digest(con: duckdb.DuckDBPyConnection, limit: int | None,
                    **filters: Any) -> TimelineDigest:
    """The summary and at most `limit` key events (all when None) of the timeline that
    `timeline.timeline(con, **filters)` lists, computed in the database: however many
    events match, only the summary and the events shown reach Python."""
    sql, params = timeline_query(con, **filters)
    if not sql:
        return digest(empty_timeline(), limit)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {EVENTS} AS SELECT * FROM ({sql})", params)
    try:
        return digest_table(con, EVENTS, limit)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {EVENTS}")


def digest(frame: pl.DataFrame, limit: int | None) -> TimelineDigest:
    """The same for a timeline frame at hand (`timeline.timeline`'s, complete)."""
    con = duckdb.connect()
    try:
        con.register("_frame", frame)
        con.execute(f"CREATE TEMP TABLE {EVENTS} AS SELECT * FROM _frame")
        return digest_table(con, EVENTS, limit)
    finally:
        con.close()


def digest_table(con: duckdb.DuckDBPyConnection, table: str, limit: int | None
                 ) -> TimelineDigest:
    """The digest of a table of timeline events (timeline.COLUMNS), each numbered by its
    place in the timeline's total order."""
    numbered = (f"SELECT *, {WHAT} AS what, row_number() OVER (ORDER BY ts, {RANK}, event, "
                f"id) - 1 AS _at FROM {table}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _numbered AS {numbered}")
    try:
        ((total,),) = con.execute("SELECT count(*) FROM _numbered").fetchall()
        positions = list(range(total)) if limit is None or limit >= total else \
            key_positions(con, limit)
        return TimelineDigest(total, summarize(con), shown_events(con, positions),
                              gaps(positions), total - (positions[-1] if positions else -1) - 1)
    finally:
        con.execute("DROP TABLE IF EXISTS _numbered")


def summarize(con: duckdb.DuckDBPyConnection) -> tuple[EventGroup, ...]:
    """One group per (kind, event, what, system), in the order each first happened;
    money per currency, never added across currencies."""
    group = ", ".join(GROUP)
    rows = con.execute(f"""
        WITH money AS (
            SELECT {group}, list(struct_pack(currency := currency, amount := amount)
                                 ORDER BY currency NULLS FIRST) AS by_currency
            FROM (SELECT {group}, currency, sum(amount) AS amount FROM _numbered
                  WHERE amount IS NOT NULL GROUP BY ALL)
            GROUP BY ALL)
        SELECT g.*, m.by_currency FROM (
            SELECT {group}, count(*) AS events, count(*) FILTER (WHERE len(rules) > 0),
                   min(ts), max(ts), min(_at) AS start
            FROM _numbered GROUP BY ALL) AS g
        LEFT JOIN money AS m USING ({group}) ORDER BY start""").fetchall()
    return tuple(
        EventGroup(kind, event, what, system, events, flagged, first, last,
                   tuple((m["currency"], m["amount"]) for m in by_currency or ()))
        for kind, event, what, system, events, flagged, first, last, _, by_currency in rows)


def key_positions(con: duckdb.DuckDBPyConnection, limit: int) -> list[int]:
    """The positions of the events to show, by the priorities above, in time order."""
    group = ", ".join(GROUP)
    rows = con.execute(f"""
        SELECT _at FROM (
            SELECT _at, CASE WHEN kind IN {tuple(KEY_KINDS)} THEN 0
                             WHEN _at IN (first_at, last_at) THEN 1
                             WHEN len(rules) > 0 THEN 2 ELSE 3 END AS priority
            FROM (SELECT _at, kind, rules,
                         min(_at) OVER (PARTITION BY {group}) AS first_at,
                         max(_at) OVER (PARTITION BY {group}) AS last_at
                  FROM _numbered))
        ORDER BY priority, _at LIMIT $limit""", {"limit": limit}).fetchall()
    return sorted(at for (at,) in rows)


def shown_events(con: duckdb.DuckDBPyConnection, positions: list[int]
                 ) -> tuple[dict[str, Any], ...]:
    frame = con.sql(f"SELECT {', '.join(COLUMNS)} FROM _numbered "
                    "WHERE list_contains($at, _at) ORDER BY _at", params={"at": positions}).pl()
    return tuple(timeline_records(frame)) if positions else ()


def gaps(positions: list[int]) -> tuple[int, ...]:
    """How many events lie between each shown one and the one shown before it."""
    return tuple(at - previous - 1 for previous, at in zip([-1, *positions], positions,
                                                            strict=False))
