"""How the report writes values for people: thousands separators, money with its
currency, times to the minute in UTC, durations in hours and minutes. The report's data
keeps the exact values (ISO 8601 with Z, decimal strings); only the renderers use these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any


def count(value: int | None) -> str:
    return "0" if value is None else f"{value:,}"


def money(amount: str | None, currency: str | None = "") -> str:
    """'3232.19', 'EUR' -> 'EUR 3,232.19' (exact: formatted from the decimal string).
    A null amount is a sum that does not exist (charges in several currencies), so it is
    '—', never 0.00."""
    if amount is None:
        return "—"
    return f"{currency or ''} {Decimal(amount):,.2f}".strip()


def moneys(rows: Sequence[Mapping[str, Any]], field: str = "amount") -> str:
    """Per-currency sums (`by_currency` rows) as 'EUR 3,378.38 + USD 512.10': two
    currencies are never added into one figure. No rows: nothing was charged."""
    if not rows:
        return money("0")
    return " + ".join(money(r[field] if r[field] is not None else "0", r["currency"])
                      for r in rows)


def parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant)


def when(instant: str | None) -> str:
    """'2026-09-22T17:45:00Z' -> '2026-09-22 17:45 UTC'."""
    if not instant:
        return "—"
    return parse(instant).strftime("%Y-%m-%d %H:%M UTC")


def day(instant: str | None) -> str:
    return parse(instant).strftime("%a %d %b %Y") if instant else "—"


def duration(start: str, end: str) -> str:
    """The time from start to end as '2 h 15 min' (or '3 d 4 h'), sign ignored."""
    minutes = abs(int((parse(end) - parse(start)).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def person(account: str | None, people: dict[str, dict[str, object]]) -> str:
    """'daan.vandijk' -> 'Daan van Dijk (daan.vandijk)' when the directory knows a name."""
    if not account:
        return "—"
    name = (people.get(account) or {}).get("display_name")
    return f"{name} ({account})" if name and name != account else account
