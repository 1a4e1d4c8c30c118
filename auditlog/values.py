"""How values are written for programs: UTC instants with Z, exact decimal strings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with `Z`, microseconds only when present."""
    if value is None:
        return None
    if value.tzinfo is None:  # DuckDB TIMESTAMP columns are UTC by construction here
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def decimal_text(value: Decimal | None, places: int = 2) -> str | None:
    """An exact amount as text with at least `places` decimals: 4.9900 → "4.99"."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(places, '0')}" if places else text
