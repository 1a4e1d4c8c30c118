"""The timeline's cut for people: a summary of every event, then the key events (rare
kinds, where each run of like events starts and stops, the earliest evidence), with what
was left out counted where it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from auditlog.analysis.timeline import empty_timeline
from auditlog.analysis.timeline_digest import digest

START = datetime(2026, 9, 22, 12, 0, tzinfo=UTC)


def event(minute: int, kind: str, name: str, event_id: str, summary: str, *,
          amount: str | None = None, currency: str | None = None,
          rules: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"ts": START + timedelta(minutes=minute), "kind": kind, "event": name,
            "id": event_id, "actor": "svc", "account": None, "role": "actor",
            "system": "orders", "summary": summary, "change_id": None, "order_id": None,
            "amount": Decimal(amount) if amount else None, "currency": currency,
            "rules": list(rules)}


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=empty_timeline().schema)


def burst() -> pl.DataFrame:
    """60 charges a minute apart, a grant at minute 30 among them, five flagged sync
    actions after them."""
    rows = [event(m, "charges", "charge", f"CH{m:03}", "one_time ADDON via api",
                  amount="2.50", currency="EUR" if m % 2 else "USD") for m in range(60)]
    rows.insert(31, event(30, "privileges", "grant", "P1", "grant order:bulk"))
    rows += [event(100 + m, "actions", "action", f"EV{m}", "sync_orders queue",
                   rules=("r1",)) for m in range(5)]
    return frame(rows)


def test_the_cut_keeps_rare_kinds_and_where_each_run_starts_and_stops() -> None:
    found = digest(burst(), 5)
    assert [e["id"] for e in found.events] == ["CH000", "P1", "CH059", "EV0", "EV4"]
    # What was left out is counted before the event it preceded: nothing is lost. (The
    # grant shares minute 30 with CH030 and comes first: a grant before what it allows.)
    assert found.hidden_before == (0, 29, 29, 0, 3)
    assert found.shown + sum(found.hidden_before) + found.hidden_after == found.total == 66


def test_the_rest_of_the_budget_goes_to_the_earliest_evidence() -> None:
    found = digest(burst(), 6)
    assert [e["id"] for e in found.events] == ["CH000", "P1", "CH059", "EV0", "EV1", "EV4"]


def test_without_a_limit_every_event_is_shown() -> None:
    found = digest(burst(), None)
    assert found.shown == found.total == 66 and found.hidden_after == 0
    assert set(found.hidden_before) == {0}


def test_the_summary_counts_every_event_and_never_adds_two_currencies() -> None:
    groups = {(g.kind, g.what): g for g in digest(burst(), 3).groups}
    charges = groups[("charges", "one_time")]
    assert charges.events == 60 and charges.flagged == 0
    assert charges.by_currency == (("EUR", Decimal("75.00")), ("USD", Decimal("75.00")))
    assert (charges.first, charges.last) == (START, START + timedelta(minutes=59))
    assert groups[("actions", "sync_orders")].flagged == 5
    assert groups[("privileges", "grant")].events == 1


def test_an_empty_timeline_has_nothing_to_cut() -> None:
    found = digest(empty_timeline(), 20)
    assert (found.total, found.shown, found.groups, found.hidden_after) == (0, 0, (), 0)
