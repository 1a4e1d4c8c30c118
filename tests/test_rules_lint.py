"""The portable-SQL lint and the Spark translation work on the parsed tree, with an
allow-list of functions on each engine: no string, comment or spelling hides a call
such as reflect() from them, and every function a rule may call means the same on both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from auditlog.engines.translate import check_spark, to_spark
from auditlog.engines.validate import validate
from auditlog.errors import RuleError
from auditlog.pack import load_all
from auditlog.pack.functions import DUCKDB_FUNCTIONS
from auditlog.pack.lint import lint_sql, parameters
from auditlog.pack.loader import check_sql
from tests.test_rules import write_rule

OUTPUT = "NULL AS ts, NULL AS change_id, NULL AS actor, NULL AS account, NULL AS amount"

# (SQL, the function it hides, the line it is on): the reported bypass and variants.
BYPASSES = [
    ((f"SELECT {OUTPUT}, [] AS evidence,\n"
     "  '--' || reflect('java.lang.System','getenv','HOME') AS key FROM charges"),
     "reflect", 2),
    ((f"SELECT {OUTPUT}, [] AS evidence, '/*' AS a,\n"
     "  reflect('java.lang.System','getenv','HOME') AS key, '*/' AS b FROM charges"),
     "reflect", 2),
    ((f"SELECT {OUTPUT}, [] AS evidence, 'it''s -- a comment' AS a,\n"
     "  java_method('java.lang.System','getenv','HOME') AS key FROM charges"),
     "java_method", 2),
    ((f"SELECT {OUTPUT}, [] AS evidence,\n  -- a comment */ hiding nothing\n"
     "  upper(coalesce(REFLECT('java.lang.System','getenv','HOME'), 'x')) AS key FROM charges"),
     "reflect", 3),
    ((f"SELECT {OUTPUT}, [] AS evidence, charge_id AS key FROM charges\n"
     "WHERE charge_id <> Java_Method('java.lang.System', 'getenv', 'HOME')"),
     "java_method", 2),
    ((f"WITH x AS (SELECT \"reflect\"('java.lang.System','getenv','HOME') AS k)\n"
     f"SELECT {OUTPUT}, [] AS evidence, k AS key FROM x"), "reflect", 1),
    ((f"SELECT {OUTPUT}, [] AS evidence,\n"
     "  CASE WHEN false THEN try_reflect('java.lang.System','getenv','HOME') END AS key\n"
     "FROM charges"), "try_reflect", 2),
    (f"SELECT {OUTPUT}, [] AS evidence, path AS key\nFROM read_files('/etc/passwd')",
     "read_files", 2),
]


@pytest.mark.parametrize(("sql", "function", "line"), BYPASSES)
def test_validate_refuses_the_call_naming_rule_line_and_function(
        tmp_path: Path, sql: str, function: str, line: int) -> None:
    path = write_rule(tmp_path, "evil", sql)
    valid, errors = validate([tmp_path / "custom"], builtin=False)
    assert valid == []
    messages = [str(e) for e in errors if "allow-list" in str(e)]
    assert messages, [str(e) for e in errors]
    assert messages[0].startswith(str(path))
    assert f"line {line}: {function}()" in messages[0]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditlog", *args], capture_output=True,
                          text=True, check=False, env={**os.environ, "COLUMNS": "300"})


@pytest.mark.parametrize(("sql", "function", "line"), [BYPASSES[0], BYPASSES[2]])
def test_run_and_rules_show_refuse_it_without_printing_the_translation(
        tmp_path: Path, sql: str, function: str, line: int) -> None:
    path = write_rule(tmp_path, "evil", sql)
    for args in (["run", "--db", str(tmp_path / "none.duckdb")],
                 ["rules", "show", "evil", "--engine", "spark"]):
        result = cli(*args, "--rules-dir", str(tmp_path / "custom"))
        assert result.returncode == 2, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
        (message,) = result.stderr.splitlines()
        assert str(path) in message and f"line {line}: {function}()" in message


@pytest.mark.parametrize("call", [
    "reflect('java.lang.System', 'getenv', 'HOME')",
    "java_method('java.lang.System', 'getenv', 'HOME')",
    "upper(coalesce(reflect('java.lang.System', 'getenv', 'HOME'), 'x'))",
])
def test_the_spark_translation_refuses_functions_outside_its_allow_list(call: str) -> None:
    # The gate of the Spark side itself, whatever the DuckDB lint let through.
    with pytest.raises(RuleError) as info:
        to_spark(f"SELECT 'a' AS a,\n  {call} AS key FROM charges", "rules/evil.sql")
    message = str(info.value)
    assert message.startswith("rules/evil.sql: ") and "allow-list" in message
    assert "calls REFLECT()" in message or "calls JAVA_METHOD()" in message
    assert "(line 2)" in message


@pytest.mark.parametrize(("sql", "reads"), [
    ("SELECT * FROM prod.customers", "prod.customers"),
    ("SELECT * FROM charges JOIN secrets ON true", "secrets"),
])
def test_the_spark_translation_reads_only_kinds_views_and_ctes(sql: str, reads: str) -> None:
    with pytest.raises(RuleError, match=f"reads {reads}, which is neither"):
        to_spark(sql, "r.sql")
    assert to_spark("WITH c AS (SELECT 1 AS x) SELECT * FROM c, charges").endswith(
        "FROM c, charges")


@pytest.mark.parametrize("spark_sql", [
    "SELECT TRANSFORM(ts) USING 'cat' AS (k) FROM charges",
    "SELECT /*+ BROADCAST(charges) */ ts FROM charges",
])
def test_the_spark_gate_refuses_script_transforms_and_hints(spark_sql: str) -> None:
    # No DuckDB rule translates to these; the gate still refuses them, should one ever.
    with pytest.raises(RuleError, match="which a rule may not use"):
        check_spark(spark_sql, spark_sql, "r.sql")


def test_comments_never_reach_spark() -> None:
    # Spark reads /*+ ... */ as a hint; a comment has nothing to say to the cluster.
    spark = to_spark("SELECT /*+ REPARTITION(100000) */ charge_id -- note */ x\nFROM charges")
    assert "/*" not in spark and "--" not in spark
    assert spark == "SELECT charge_id FROM charges"


@pytest.mark.parametrize(("call", "name"), [
    ("now()", "now"), ("current_timestamp", "current_timestamp"), ("random()", "random"),
    ("uuid()", "uuid"), ("hash(charge_id)", "hash"), ("getenv('HOME')", "getenv"),
    ("current_setting('memory_limit')", "current_setting"),
])
def test_host_and_changing_functions_are_refused(call: str, name: str) -> None:
    (problem,) = lint_sql(f"SELECT {call} AS v FROM charges")
    assert f"{name}()" in problem and "allow-list" in problem


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM range(10)",
])
def test_table_functions_are_refused_when_loaded(sql: str) -> None:
    problems = lint_sql(sql)
    assert problems and all("allow-list" in p for p in problems)


def test_sql_sqlglot_cannot_parse_cannot_be_checked_so_it_is_refused() -> None:
    (problem,) = lint_sql("SELECT a FROM t WHERE (")
    assert "cannot parse" in problem


def test_parameters_come_from_the_tree_not_the_text() -> None:
    assert parameters("SELECT '--' || $shown AS a, '$hidden' AS b, x -- $comment") == {"shown"}
    assert check_sql("SELECT '--' || $limit AS x FROM t", {}) == [
        "SQL uses $limit which is not declared in params"]


# Every function the allow-list admits, as a rule would call it: each must pass the lint
# and translate to functions on Spark's allow-list.
CATALOGUE = [
    "abs(amount)", "round(amount, 2)", "floor(amount)", "ceil(amount)",
    "greatest(amount, 1)", "least(amount, 1)", "sign(amount)", "sqrt(amount)",
    "power(amount, 2)", "ln(amount)", "coalesce(actor, account)", "nullif(actor, '')",
    "if(amount > 1, 'a', 'b')", "CASE WHEN amount > 1 THEN 'a' END", "CAST(amount AS INT)",
    "TRY_CAST(actor AS INT)", "lower(actor)", "upper(actor)", "trim(actor)",
    "length(actor)", "substring(actor, 1, 2)", "concat(actor, account)",
    "concat_ws(',', actor, account)", "replace(actor, 'a', 'b')",
    "regexp_matches(actor, 'a')", "regexp_extract(actor, '(a)', 1)",
    "regexp_replace(actor, 'a', 'b')", "starts_with(actor, 'a')", "ends_with(actor, 'a')",
    "left(actor, 2)", "right(actor, 2)", "lpad(actor, 3, '0')", "strpos(actor, 'a')",
    "reverse(actor)", "split_part(actor, ',', 1)", "string_split(actor, ',')",
    "md5(actor)", "sha256(actor)", "json_extract_string(extra, '$.a')",
    "json_extract(extra, '$.a')", "list_value(actor, account)",
    "list_concat([actor], [account])", "list_contains([actor], account)",
    "list_distinct([actor])", "array_length([actor])", "list_sort([actor])",
    "list_filter([amount], lambda x: x > 1)", "list_transform([amount], lambda x: x + 1)",
    "flatten([[actor]])", "struct_pack(a := actor)", "unnest([actor])",
    "date_trunc('hour', ts)", "date_trunc('day', CAST(ts AS DATE))",
    "strftime(ts, '%Y-%m-%d %H:%M:%S')", "strptime(actor, '%Y-%m-%d')", "hour(ts)",
    "minute(ts)", "extract(hour FROM ts)", "count(*)", "sum(amount)", "min(ts)", "max(ts)",
    "CAST(avg(amount) AS DECIMAL(18, 4))", "list(actor)", "count_if(amount > 1)",
    "any_value(actor)", "max_by(actor, ts)", "min_by(actor, ts)", "bool_and(amount > 1)",
    "bool_or(amount > 1)", "CAST(stddev_samp(amount) AS DOUBLE)",
    "row_number() OVER (ORDER BY ts)", "rank() OVER (ORDER BY ts)",
    "dense_rank() OVER (ORDER BY ts)", "lag(ts) OVER (ORDER BY ts)",
    "lead(ts) OVER (ORDER BY ts)", "first_value(ts) OVER (ORDER BY ts)",
    "last_value(ts IGNORE NULLS) OVER (ORDER BY ts ROWS UNBOUNDED PRECEDING)",
    "EXISTS (SELECT 1 FROM actions) AND amount > 1 OR amount < 0",
]


@pytest.mark.parametrize("call", CATALOGUE)
def test_every_allowed_function_passes_and_translates_within_spark_allow_list(
        call: str) -> None:
    sql = f"SELECT {call} AS v FROM charges"
    assert lint_sql(sql) == []
    to_spark(sql, "catalogue")  # raises naming the function if Spark's list lacks it


def test_the_catalogue_covers_the_whole_allow_list() -> None:
    seen = {type(node) for call in CATALOGUE
            for node in sqlglot.parse_one(f"SELECT {call} FROM charges, unnest([1]) AS u(x)",
                                          read="duckdb").walk()
            if isinstance(node, exp.Func)}
    assert DUCKDB_FUNCTIONS - seen == set()


def test_the_builtin_packs_still_load_under_the_tree_lint() -> None:
    # A load checks the built-ins' SQL only when asked (pack/loader.py): this is where.
    result = load_all(check_builtin=True)
    assert [str(e) for e in result.errors] == []
    assert len(result.rules) >= 20


@pytest.mark.parametrize("sql", ["", "-- nothing here\n", "/* nor here */ ;"])
def test_a_rule_of_comments_only_is_empty(sql: str) -> None:
    assert check_sql(sql, {}) == ["SQL file is empty"]
