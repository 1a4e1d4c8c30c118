"""What an export holds before it is written in any format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from auditlog.pack.model import Rule

# A date for documents that must carry one (XLSX properties) when no run gives one.
FIXED_DOCUMENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ExportData:
    """The tables to write, in order, and what the OCSF events need besides them."""

    tables: dict[str, pl.DataFrame]
    rules: dict[str, Rule] = field(default_factory=dict)
    tool_version: str = "0+unknown"
    document_time: datetime = FIXED_DOCUMENT_TIME  # the last run's start, never "now"
    evidence_tables: tuple[str, ...] = ()

    def rows(self) -> dict[str, int]:
        return {name: frame.height for name, frame in self.tables.items()}

    def records(self, name: str) -> list[dict[str, Any]]:
        return list(self.tables[name].iter_rows(named=True))
