"""Loading log files into the database: read (sources: readers and standard adapters),
type (check), judge, store (loading), all through one staging schema (staging); the
pipeline module runs those steps in a line, for files and for rows handed over as data."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditlog.ingest.files import InputFile, discover
    from auditlog.ingest.pipeline import FileResult, ingest_paths, ingest_rows

__all__ = ["FileResult", "InputFile", "discover", "ingest_paths", "ingest_rows"]

# The pipeline pulls in the readers (pyarrow, polars): loaded on first use of its names,
# so a command that only reads a submodule (status reads coverage) never pays for them.
_HOMES = {"InputFile": "files", "discover": "files", "FileResult": "pipeline",
          "ingest_paths": "pipeline", "ingest_rows": "pipeline"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"auditlog.ingest.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'auditlog.ingest' has no attribute {name!r}")
