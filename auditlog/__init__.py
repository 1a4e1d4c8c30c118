"""auditlog: from an anomalous charge to the change, the account and the moment responsible.

The notebook API (docs/python-api.md):

    import auditlog
    with auditlog.open("incident.duckdb") as inv:
        inv.ingest_world("sample_logs/")
        inv.run()
        inv.remediation()

The names below are imported on first use (PEP 562), so `import auditlog.cli` parses its
arguments before DuckDB, polars or the exporters are loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditlog.analysis.findings import RunReport
    from auditlog.errors import AuditlogError, InputError, RuleError, UsageError
    from auditlog.investigation import Investigation, open

# Public name -> the module that defines it.
_HOMES = {
    "AuditlogError": "auditlog.errors", "InputError": "auditlog.errors",
    "RuleError": "auditlog.errors", "UsageError": "auditlog.errors",
    "Investigation": "auditlog.investigation", "open": "auditlog.investigation",
    "RunReport": "auditlog.analysis.findings",
}

__all__ = [
    "AuditlogError", "InputError", "Investigation", "RuleError", "RunReport", "UsageError",
    "open",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
    else:
        # A subpackage reached as an attribute (auditlog.store.locking after `import
        # auditlog`), as an eager package import would have made it available.
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
