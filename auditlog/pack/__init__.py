"""Rule packs as data: the rule model, the loader, the lint that checks rule SQL, and the
shared SQL units (views and controls) the rules build on, ordered by what they read.

What runs a pack lives in auditlog.engines; the packs themselves are the SQL and TOML
files under queries/.
"""

from auditlog.pack.loader import LoadResult, load_all, load_rules
from auditlog.pack.model import SEVERITIES, Rule, severity_rank
from auditlog.pack.units import SqlUnit, needed_units, raw_tables, shared_units

__all__ = ["SEVERITIES", "LoadResult", "Rule", "SqlUnit", "load_all", "load_rules",
           "needed_units", "raw_tables", "severity_rank", "shared_units"]
