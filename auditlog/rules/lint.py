"""A lint for the portable SQL subset (see PORTABLE-SQL): constructs that DuckDB runs
but that sqlglot translates for Spark silently wrong, or not at all.

sqlglot does not flag these itself (it passes an ASOF join through, for one), so every
rule is checked here when it is loaded. Each problem names its line and the portable
form to write instead. Text patterns catch what sqlglot parses without complaint; the
parsed tree catches the rest (distinct window aggregates, divisions, functions sqlglot
does not know, timestamps turned into text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# (pattern, construct, what to write instead). Patterns run on lower-cased SQL with
# comments and strings blanked out (line breaks kept, so lines stay right).
NON_PORTABLE: tuple[tuple[str, str, str], ...] = (
    (r"\basof\s+(left\s+)?join\b", "ASOF JOIN",
     ("union both sides and carry the last key forward with last_value(x IGNORE NULLS) "
      "OVER (PARTITION BY k ORDER BY t ROWS UNBOUNDED PRECEDING), then join back")),
    (r"\bdate_diff\s*\(", "date_diff (Spark counts elapsed units, DuckDB boundaries)",
     ("compare with interval arithmetic (b >= a - INTERVAL 48 HOURS), or date_trunc both "
      "sides first")),
    (r"\bdatediff\s*\(", "datediff", "compare with interval arithmetic"),
    (r"\bepoch_(ms|us|ns)\s*\(", "epoch_ms/epoch_us/epoch_ns", "use interval arithmetic"),
    (r"\bepoch\s*\(", "epoch()", "use interval arithmetic"),
    (r"\btime_bucket\s*\(", "time_bucket", "use date_trunc"),
    (r"\bdate_sub\s*\(", "date_sub", "use interval arithmetic (ts - INTERVAL 5 MINUTES)"),
    (r"\blen\s*\(", "len(list)", "use array_length"),
    (r"\binterval\s+'?\s*\d+\s*'?\s*(day|days|month|months|year|years|week|weeks)\b",
     "a DAY/MONTH/YEAR interval (local-calendar arithmetic on Spark)",
     "use HOURS or MINUTES (INTERVAL 168 HOURS)"),
    (r"\binterval\s+\(?[^)\n]*\)?\s*(day|days|month|months|year|years|week|weeks)\b",
     "a DAY/MONTH/YEAR interval (local-calendar arithmetic on Spark)",
     "use HOURS or MINUTES (INTERVAL 168 HOURS)"),
    (r"\bto_(days|months|years|weeks)\s*\(", "to_days/to_months",
     "use to_hours or to_minutes"),
)

# Column names that hold instants in the kinds and the shared views.
TIME_COLUMN = re.compile(r"^(ts|t0|cause_time|.*_at|window_start|window_end)$")


def lint_sql(code: str) -> list[str]:
    """Every non-portable construct in `code`, as 'line N: ...; write ...' sentences."""
    found = sorted(set(pattern_problems(code)) | set(tree_problems(code)))
    return [f"line {line}: {construct} does not carry over to Spark; portable form: {portable}"
            for line, construct, portable in found]


def blank(code: str) -> str:
    """Comments and string literals replaced by spaces, line breaks kept."""
    def spaces(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    code = re.sub(r"--[^\n]*|/\*.*?\*/", spaces, code, flags=re.DOTALL)
    return re.sub(r"'(?:[^']|'')*'", lambda m: "'" + spaces(m)[1:-1] + "'", code)


def pattern_problems(code: str) -> Iterator[tuple[int, str, str]]:
    lowered = blank(code).lower()
    for pattern, construct, portable in NON_PORTABLE:
        for match in re.finditer(pattern, lowered):
            yield lowered.count("\n", 0, match.start()) + 1, construct, portable


def tree_problems(code: str) -> Iterator[tuple[int, str, str]]:
    """Problems seen in sqlglot's parse of the rule (none when it does not parse: then
    `rules validate` reports that it does not translate)."""
    try:
        trees = [t for t in sqlglot.parse(code, read="duckdb") if t is not None]
    except SqlglotError:
        return
    for tree in trees:
        for node in tree.walk():
            problem = node_problem(node)
            if problem:
                yield (line_of(node), *problem)


def node_problem(node: exp.Expression) -> tuple[str, str] | None:
    if isinstance(node, exp.Window) and node.this.find(exp.Distinct):
        return ("a DISTINCT aggregate over a window (count(DISTINCT) OVER)",
                "use array_length(list_distinct(list(x) OVER w)) for count(DISTINCT x) OVER w")
    # Table functions (FROM read_text(...)) are left to the sandbox, which refuses them.
    if isinstance(node, exp.Anonymous) and not isinstance(node.parent, exp.Table):
        return ((f"{node.name}(), a function sqlglot does not know (it would reach Spark "
                 "untranslated),"), "use a function both DuckDB and Spark know")
    if isinstance(node, exp.Div | exp.Avg) and not under_cast(node):
        what = "avg()" if isinstance(node, exp.Avg) else "a division"
        return (f"{what} without a cast (DOUBLE on DuckDB, DECIMAL on Spark)",
                ("cast the result explicitly, e.g. CAST(a / nullif(b, 0) AS DECIMAL(18, 4)), "
                 "or compare without dividing (sum(x) > k * count(*))"))
    if (isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.TEXT_TYPES)
            and is_instant(node.this)):
        return ("a timestamp cast to text ('... +00' on DuckDB, no zone on Spark)",
                "use strftime(ts, '%Y-%m-%d %H:%M:%S') || '+00'")
    return None


def under_cast(node: exp.Expression) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, exp.Cast)


def is_instant(node: exp.Expression) -> bool:
    """Whether an expression is (by its form or its column's name) a timestamp."""
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc | exp.CurrentTimestamp):
        return True
    return isinstance(node, exp.Column) and bool(TIME_COLUMN.match(node.name))


def line_of(node: exp.Expression) -> int:
    """The line sqlglot's tokens give the node (or its first located part)."""
    lines = [n.meta["line"] for n in node.walk() if "line" in n.meta]
    return min(lines) if lines else 1
