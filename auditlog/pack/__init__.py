"""Rule packs as data: the rule model, the loader and the lint that checks rule SQL.

What runs a pack lives in auditlog.engines; the packs themselves are the SQL and TOML
files under queries/.
"""

from auditlog.pack.loader import LoadResult, load_all, load_rules
from auditlog.pack.model import SEVERITIES, Rule, severity_rank

__all__ = ["SEVERITIES", "LoadResult", "Rule", "load_all", "load_rules", "severity_rank"]
