"""A lint for the portable SQL subset (see PORTABLE-SQL): constructs that DuckDB runs
but that sqlglot translates for Spark silently wrong, or not at all."""

from __future__ import annotations

import re

# (pattern, what to write instead). Patterns run on SQL with comments/strings removed.
NON_PORTABLE: tuple[tuple[str, str], ...] = (
    (r"\basof\s+(left\s+)?join\b", "ASOF JOIN; carry the last key forward with a window"),
    (r"\bcount\s*\(\s*distinct\b[^)]*\)\s*over\b",
     "count(DISTINCT) OVER; use array_length(list_distinct(list(x) OVER w))"),
    (r"\bdate_diff\s*\(", "date_diff; compare with interval arithmetic or date_trunc first"),
    (r"\bdatediff\s*\(", "datediff; compare with interval arithmetic"),
    (r"\bepoch_(ms|us|ns)\s*\(", "epoch_ms/us/ns; use interval arithmetic"),
    (r"\btime_bucket\s*\(", "time_bucket; use date_trunc"),
    (r"\bdate_sub\s*\(", "date_sub; use interval arithmetic"),
    (r"\blen\s*\(", "len(list); use array_length"),
    (r"\binterval\s+'?\s*\d+\s*'?\s*(day|days|month|months|year|years|week|weeks)\b",
     "DAY/MONTH intervals; use HOURS or MINUTES"),
    (r"\binterval\s+\(?[^)\n]*\)?\s*(day|days|month|months|year|years|week|weeks)\b",
     "DAY/MONTH intervals; use HOURS or MINUTES"),
    (r"\bto_(days|months|years|weeks)\s*\(", "to_days/to_months; use to_hours or to_minutes"),
)


def lint_sql(code: str) -> list[str]:
    """Every non-portable construct found in `code` (comments and strings removed)."""
    lowered = code.lower()
    return [advice for pattern, advice in NON_PORTABLE if re.search(pattern, lowered)]
