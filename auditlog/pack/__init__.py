"""Rule packs as data: the rule model, the loader, the lint that checks rule SQL, and the
shared SQL units (views and controls) the rules build on, ordered by what they read.

What runs a pack lives in auditlog.engines; the packs themselves are the SQL and TOML
files under queries/.

The names below are imported on first use (PEP 562): the command line reads the rule
model's severities while it parses its options, before sqlglot (the loader, the lint,
the units) is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditlog.pack.loader import LoadResult, load_all, load_rules
    from auditlog.pack.model import Rule
    from auditlog.pack.severity import SEVERITIES, severity_rank
    from auditlog.pack.units import SqlUnit, needed_units, raw_tables, shared_units

# Public name -> the module that defines it.
_HOMES = {
    "LoadResult": "loader", "load_all": "loader", "load_rules": "loader",
    "SEVERITIES": "severity", "Rule": "model", "severity_rank": "severity",
    "SqlUnit": "units", "needed_units": "units", "raw_tables": "units",
    "shared_units": "units",
}

__all__ = ["SEVERITIES", "LoadResult", "Rule", "SqlUnit", "load_all", "load_rules",
           "needed_units", "raw_tables", "severity_rank", "shared_units"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
