"""Creating the shared units on an engine, and the error for a missing database: apart
from base.py, which holds the engines' polars frames, so that a reader installing the
views for one trace never imports polars (start time, issue 14)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from auditlog.errors import RuleError, UsageError
from auditlog.store import first_line

if TYPE_CHECKING:
    from auditlog.pack.units import SqlUnit


def missing_database(path: Path) -> UsageError:
    return UsageError(f"no database at {path}; load logs first with 'auditlog ingest PATH'")


def install_units(units: Iterable[SqlUnit], create: Callable[[SqlUnit], None],
                  where: str = "") -> None:
    """Create each unit in order with `create`; a unit that fails is a RuleError naming
    its file (`where` says on which engine, when not DuckDB)."""
    for unit in units:
        try:
            create(unit)
        except RuleError:
            raise
        except Exception as exc:  # noqa: BLE001  (each engine's driver raises its own kinds)
            raise RuleError(f"shared view '{unit.name}' is broken{where}: {first_line(exc)}",
                            source=unit.source) from None
