"""Rule packs: the model, the loader, the sandboxed runner and the case harness."""

from auditlog.rules.loader import LoadResult, load_all, load_rules
from auditlog.rules.model import SEVERITIES, Rule, severity_rank
from auditlog.rules.runner import finding_id, run_rule, run_rules
from auditlog.rules.sandbox import open_sandbox

__all__ = [
    "SEVERITIES", "LoadResult", "Rule", "finding_id", "load_all", "load_rules", "open_sandbox",
    "run_rule", "run_rules", "severity_rank",
]
