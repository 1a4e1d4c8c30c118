"""The functions rule SQL may call, on each engine, as sqlglot expression types.

A rule is checked against DUCKDB_FUNCTIONS as written (lint.py), and its Spark
translation, parsed again as Spark SQL, against SPARK_FUNCTIONS (engines/translate.py):
whatever sqlglot makes of a call, Spark never receives a function outside its list.
Both lists hold only functions that compute a value from their arguments: nothing that
reaches the host or the JVM (reflect, java_method, getenv, read_csv, read_files), and
nothing that differs from run to run (now, random, uuid), so findings stay reproducible.
A function sqlglot does not know (exp.Anonymous) is on neither list: it would reach the
other engine untranslated. Growing a list means checking the function's meaning on both
engines (PORTABLE-SQL.md) and adding it to the catalogue in tests/test_rules_lint.py.
"""

from __future__ import annotations

from sqlglot import exp

# Syntax that sqlglot models as functions: boolean connectors, CASE, CAST, EXISTS, lists.
SYNTAX: frozenset[type[exp.Expr]] = frozenset({
    exp.And, exp.Or, exp.Case, exp.If, exp.Cast, exp.TryCast, exp.Exists, exp.Extract,
    exp.Coalesce, exp.Nullif, exp.Array, exp.Struct, exp.Unnest, exp.Explode,
})
SCALAR: frozenset[type[exp.Expr]] = frozenset({
    # numbers
    exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Greatest, exp.Least, exp.Sign, exp.Sqrt,
    exp.Pow, exp.Ln,
    # text
    exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.Substring, exp.Concat, exp.ConcatWs,
    exp.Replace, exp.RegexpLike, exp.RegexpExtract, exp.RegexpReplace, exp.StartsWith,
    exp.EndsWith, exp.Left, exp.Right, exp.Pad, exp.StrPosition, exp.Reverse, exp.SplitPart,
    exp.Split, exp.MD5, exp.SHA2, exp.JSONExtract, exp.JSONExtractScalar,
    # lists
    exp.ArrayConcat, exp.ArrayContains, exp.ArrayDistinct, exp.ArraySize, exp.ArraySort,
    exp.ArrayFilter, exp.Transform, exp.Flatten,
    # time (UTC on both engines; see PORTABLE-SQL.md for intervals)
    exp.TimestampTrunc, exp.DateTrunc, exp.TimeToStr, exp.StrToTime, exp.Hour, exp.Minute,
})
AGGREGATE_AND_WINDOW: frozenset[type[exp.Expr]] = frozenset({
    exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.ArrayAgg, exp.CountIf, exp.AnyValue,
    exp.ArgMax, exp.ArgMin, exp.LogicalAnd, exp.LogicalOr, exp.StddevSamp,
    exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue,
})

DUCKDB_FUNCTIONS = SYNTAX | SCALAR | AGGREGATE_AND_WINDOW

# What the translations of those are when Spark SQL is parsed back (CAST reads back as
# TRY_CAST in sqlglot's Spark dialect, string_split as a regexp split, strftime's
# argument as a parsed time string).
SPARK_FUNCTIONS = DUCKDB_FUNCTIONS | {exp.RegexpSplit, exp.TimeStrToTime}


def called_name(node: exp.Func, code: str | None = None) -> str:
    """The function's name as the SQL spells it (from the parser's token, when `code` is
    the text that was parsed), else sqlglot's name for it; lower case."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    start, end = node.meta.get("start"), node.meta.get("end")
    if code is not None and isinstance(start, int) and isinstance(end, int):
        written = code[start:end + 1].strip('"`')
        if written.replace("_", "").isalnum():
            return written.lower()
    return node.sql_name().lower()
