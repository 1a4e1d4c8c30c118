"""How values are written for programs: UTC instants with Z, exact decimal strings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from auditlog.errors import UsageError


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


def json_value(value: Any) -> Any:
    """A value for JSON: instants as ISO 8601 UTC with Z, amounts as exact strings."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def as_json(value: Any) -> Any:
    """A typed record (a dataclass), or lists and mappings of them, as JSON-ready data:
    the fields in declaration order as keys, each value through `json_value`. The one
    serializer of the library's records, so every document writes times and amounts
    alike."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return json_value(value)


def parse_time(value: datetime | str | None, name: str) -> datetime | None:
    """A time argument: a datetime, or ISO 8601 text; without an offset it is UTC.
    `name` is the argument, named in the error as `{name}` (errors.AuditlogError)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError("{" + name + "} " + f"'{value}' is not an ISO 8601 time, "
                             "e.g. 2026-03-01T00:00:00Z", arguments=(name,)) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
