"""auditlog: from an anomalous charge to the change, the account and the moment responsible.

The notebook API (docs/python-api.md):

    import auditlog
    with auditlog.open("incident.duckdb") as inv:
        inv.ingest_world("sample_logs/")
        inv.run()
        inv.remediation()
"""

from auditlog.analysis.findings import RunReport
from auditlog.errors import AuditlogError, InputError, RuleError, UsageError
from auditlog.investigation import Investigation, open

__all__ = [
    "AuditlogError", "InputError", "Investigation", "RuleError", "RunReport", "UsageError",
    "open",
]
