"""A lint for the portable SQL subset (see PORTABLE-SQL) that works on sqlglot's parse
of the rule, never on its text: a string or a comment cannot hide a call from it.

Every function a rule calls must be on the allow-list (functions.py): functions both
engines run alike, nothing that reaches the host (reflect, getenv, read_csv) and nothing
that changes from run to run (now, random). Constructs that DuckDB runs but sqlglot
translates for Spark silently wrong are named with the portable form to write instead.
A rule sqlglot cannot parse cannot be checked, so it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from auditlog.pack.functions import DUCKDB_FUNCTIONS, called_name

# (construct, what to write instead) for known functions outside the portable subset.
ADVICE: dict[type[exp.Expr], tuple[str, str]] = {
    exp.DateDiff: ("date_diff (Spark counts elapsed units, DuckDB boundaries)",
                   ("compare with interval arithmetic (b >= a - INTERVAL 48 HOURS), or "
                    "date_trunc both sides first")),
    exp.UnixToTime: ("epoch_ms/epoch_us/epoch_ns", "use interval arithmetic"),
    exp.TimeToUnix: ("epoch()", "use interval arithmetic"),
    exp.DateBin: ("time_bucket", "use date_trunc"),
    exp.ToDays: ("to_days/to_months", "use INTERVAL n HOURS or INTERVAL n MINUTES"),
    exp.DayOfWeek: ("dayofweek (Sunday is 0 on DuckDB, 1 on Spark)",
                    "compare strftime(ts, '%a') with day names"),
}
# The same for functions sqlglot does not know, by name.
ANONYMOUS_ADVICE: dict[str, tuple[str, str]] = {
    "date_sub": ("date_sub", "use interval arithmetic (ts - INTERVAL 5 MINUTES)"),
    "epoch_us": ADVICE[exp.UnixToTime], "epoch_ns": ADVICE[exp.UnixToTime],
    **{f"to_{unit}": ADVICE[exp.ToDays] for unit in ("months", "years", "weeks")},
}
CALENDAR_UNITS = re.compile(r"^(day|month|year|week|quarter|decade|century)s?$", re.IGNORECASE)
CALENDAR_INTERVAL = ("a DAY/MONTH/YEAR interval (local-calendar arithmetic on Spark)",
                     "use HOURS or MINUTES (INTERVAL 168 HOURS)")

# Column names that hold instants in the kinds and the shared views.
TIME_COLUMN = re.compile(r"^(ts|t0|cause_time|.*_at|window_start|window_end)$")


def lint_sql(code: str) -> list[str]:
    """Every non-portable construct in `code`, as 'line N: ...; write ...' sentences."""
    return list(_lint(code))


@lru_cache(maxsize=512)
def _lint(code: str) -> tuple[str, ...]:
    # By text, like parse(): walking every node of every rule is most of a lint.
    return tuple(f"line {line}: {problem}"
                 for line, problem in sorted(set(tree_problems(code))))


def not_portable(construct: str, portable: str) -> str:
    return f"{construct} does not carry over to Spark; portable form: {portable}"


def not_allowed(name: str, why: str) -> str:
    return (f"{name}(), {why}, is not on the allow-list of functions a rule may call; "
            "use one it lists (auditlog/pack/functions.py, docs/spark.md)")


@lru_cache(maxsize=512)
def parse(code: str) -> tuple[exp.Expr, ...]:
    """sqlglot's DuckDB parse of `code`, every statement (SqlglotError when it fails).

    Kept by text (issue 14): loading a pack asks four questions of each rule's SQL (its
    parameters, its lint, whether it is empty, what it reads) and a process loads the
    rules more than once (`findings` lists them after the run selected them; a notebook
    or the tests many times), while parsing the 29 built-in rules costs ~0.1 s a pass.
    The trees are shared: callers only walk them, never change them."""
    return tuple(t for t in sqlglot.parse(code, read="duckdb")
                 if t is not None and not isinstance(t, exp.Semicolon))  # a lone ';'


def is_empty(code: str) -> bool:
    """Whether `code` holds no statement at all (blanks and comments only)."""
    try:
        return not parse(code)
    except SqlglotError:
        return False


def parameters(code: str) -> set[str]:
    """The $names the SQL binds (none when it does not parse: lint_sql says so)."""
    return set(_parameters(code))


@lru_cache(maxsize=512)
def _parameters(code: str) -> frozenset[str]:
    try:
        trees = parse(code)
    except SqlglotError:
        return frozenset()
    return frozenset(p.name for t in trees for p in t.find_all(exp.Placeholder) if p.name)


def tree_problems(code: str) -> Iterator[tuple[int, str]]:
    try:
        trees = parse(code)
    except SqlglotError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        yield 1, f"sqlglot cannot parse it ({reason}), so it cannot be checked"
        return
    for tree in trees:
        for node in tree.walk():
            problem = node_problem(node, code)
            if problem:
                yield line_of(node), problem


def node_problem(node: exp.Expr, code: str) -> str | None:
    if isinstance(node, exp.Func):
        return function_problem(node, code)
    if isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() == "ASOF":
        return not_portable(
            "ASOF JOIN", ("union both sides and carry the last key forward with last_value(x "
                          "IGNORE NULLS) OVER (PARTITION BY k ORDER BY t ROWS UNBOUNDED "
                          "PRECEDING), then join back"))
    if isinstance(node, exp.Window) and node.this.find(exp.Distinct):
        return not_portable(
            "a DISTINCT aggregate over a window (count(DISTINCT) OVER)",
            "use array_length(list_distinct(list(x) OVER w)) for count(DISTINCT x) OVER w")
    if isinstance(node, exp.Interval) and CALENDAR_UNITS.match(node.text("unit")):
        return not_portable(*CALENDAR_INTERVAL)
    if isinstance(node, exp.Div) and not under_cast(node):
        return division_problem("a division")
    return None


def function_problem(node: exp.Func, code: str) -> str | None:
    name = called_name(node, code)
    if isinstance(node, exp.Anonymous):
        if name in ANONYMOUS_ADVICE:
            return not_portable(*ANONYMOUS_ADVICE[name])
        return not_allowed(name, "a function sqlglot does not know (it would reach Spark "
                                 "untranslated)")
    if type(node) in ADVICE:
        return not_portable(*ADVICE[type(node)])
    if type(node) not in DUCKDB_FUNCTIONS:
        return not_allowed(name, "a function that can reach the host, differs from run to "
                                 "run, or is not checked on both engines")
    if isinstance(node, exp.Length) and name == "len":
        return not_portable("len(list)", "use array_length")
    if isinstance(node, exp.Avg) and not under_cast(node):
        return division_problem("avg()")
    if (isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.TEXT_TYPES)
            and is_instant(node.this)):
        return not_portable("a timestamp cast to text ('... +00' on DuckDB, no zone on Spark)",
                            "use strftime(ts, '%Y-%m-%d %H:%M:%S') || '+00'")
    return None


def division_problem(what: str) -> str:
    return not_portable(f"{what} without a cast (DOUBLE on DuckDB, DECIMAL on Spark)",
                        ("cast the result explicitly, e.g. CAST(a / nullif(b, 0) AS "
                         "DECIMAL(18, 4)), or compare without dividing (sum(x) > k * count(*))"))


def under_cast(node: exp.Expr) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, exp.Cast)


def is_instant(node: exp.Expr) -> bool:
    """Whether an expression is (by its form or its column's name) a timestamp."""
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc | exp.CurrentTimestamp):
        return True
    return isinstance(node, exp.Column) and bool(TIME_COLUMN.match(node.name))


def line_of(node: exp.Expr) -> int:
    """The line sqlglot's tokens give the node (or its first located part)."""
    lines = [n.meta["line"] for n in node.walk() if "line" in n.meta]
    return min(lines) if lines else 1
