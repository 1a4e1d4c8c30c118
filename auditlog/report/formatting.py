"""How the report writes values for people: thousands separators, money with its
currency, times to the minute in UTC, durations in hours and minutes. The report's model
keeps the exact values (`datetime`, `Decimal`); only the renderers use these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def count(value: int | None) -> str:
    return "0" if value is None else f"{value:,}"


def money(amount: Decimal | str | None, currency: str | None = "") -> str:
    """3232.19, 'EUR' -> 'EUR 3,232.19', exact. The report passes its Decimal; the CLI
    passes a JSON document's exact decimal text. A null amount is a sum that does not
    exist (charges in several currencies), so it is '—', never 0.00."""
    if amount is None:
        return "—"
    return f"{currency or ''} {Decimal(amount):,.2f}".strip()


def moneys(rows: Sequence[Any], field: str = "amount") -> str:
    """Per-currency sums (`by_currency` rows: records, or mappings of a JSON document) as
    'EUR 3,378.38 + USD 512.10': two currencies are never added into one figure. No
    rows: nothing was charged."""
    if not rows:
        return money(Decimal(0))
    return " + ".join(money(_get(r, field) if _get(r, field) is not None else Decimal(0),
                            _get(r, "currency")) for r in rows)


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def utc(instant: datetime) -> datetime:
    """The instant in UTC (a naive one is UTC already: the database stores UTC)."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def when(instant: datetime | None) -> str:
    """2026-09-22T17:45:00Z -> '2026-09-22 17:45 UTC'."""
    if instant is None:
        return "—"
    return utc(instant).strftime("%Y-%m-%d %H:%M UTC")


def day(instant: datetime | None) -> str:
    return utc(instant).strftime("%a %d %b %Y") if instant is not None else "—"


def duration(start: datetime, end: datetime) -> str:
    """The time from start to end as '2 h 15 min' (or '3 d 4 h'), sign ignored."""
    minutes = abs(int((end - start).total_seconds() // 60))
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


def name(account: str | None, people: dict[str, dict[str, object]]) -> str:
    """'daan.vandijk' -> 'Daan van Dijk' when the directory knows a name, else the id."""
    if not account:
        return "—"
    known = (people.get(account) or {}).get("display_name")
    return str(known) if known else account


def and_join(items: Sequence[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    names = list(items)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
