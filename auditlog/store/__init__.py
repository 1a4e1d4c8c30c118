"""The database on disk: schema and connections (database.py), who may write it
(locking.py), the read snapshot a writer leaves for readers (snapshot.py), the stored
attribution's bookkeeping (attribution.py) and the Parquet lake (lake.py).

`from auditlog import store` gives the connection functions of database.py.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditlog.store.database import (
        DEFAULT_DB,
        SCHEMA_VERSION,
        configure,
        connect,
        create_schema,
        default_db_path,
        first_line,
        table_ddl,
    )

__all__ = ["DEFAULT_DB", "SCHEMA_VERSION", "configure", "connect", "create_schema",
           "default_db_path", "first_line", "table_ddl"]


def __getattr__(name: str) -> Any:
    """database.py (and DuckDB with it) loads on first use of one of its names, so a
    command that opens no database (`--help`, `--version`) never imports DuckDB."""
    if name in __all__:
        return getattr(importlib.import_module("auditlog.store.database"), name)
    raise AttributeError(f"module 'auditlog.store' has no attribute {name!r}")
