"""The rule model, the loader's validation and the runner's output contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlog.engines.base import finding_id
from auditlog.engines.cases import build_fixture
from auditlog.engines.runner import rule_output, run_rule
from auditlog.engines.sandbox import open_sandbox
from auditlog.errors import RuleError, UsageError
from auditlog.pack import load_all, load_rules
from auditlog.pack.lint import lint_sql

META = """
title = "t"
severity = "{severity}"
description = "d"
rationale = "r"
investigate = "i"
{extra}
"""


def write_rule(root: Path, rule_id: str, sql: str, *, severity: str = "low",
               extra: str = "") -> Path:
    pack = root / "custom"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / f"{rule_id}.sql").write_text(sql)
    (pack / f"{rule_id}.toml").write_text(META.format(severity=severity, extra=extra))
    return pack / f"{rule_id}.sql"


CHARGES_SQL = """SELECT ts, NULL AS change_id, NULL AS actor, account, amount,
    list_value(charge_id) AS evidence, charge_id AS key
FROM charges WHERE amount >= CAST($min_amount AS DECIMAL(18, 4))"""


@pytest.fixture()
def charges_db(tmp_path: Path) -> Path:
    db = tmp_path / "c.duckdb"
    build_fixture(db, {"charges": [
        {"charge_id": "A", "ts": "2026-03-01T00:00:00Z", "account": "C1", "product": "P",
         "amount": "5.00"},
        {"charge_id": "B", "ts": "2026-03-02T00:00:00Z", "account": "C2", "product": "P",
         "amount": "50.00"},
    ]})
    return db


def test_builtin_packs_load_without_errors() -> None:
    result = load_all()
    assert result.errors == []
    assert {r.pack for r in result.rules} == {"billing", "privilege", "change", "operator",
                                             "credentials", "exposure", "kubernetes"}
    assert len(result.rules) >= 20


def test_validate_reports_every_broken_rule_with_its_file(tmp_path: Path) -> None:
    write_rule(tmp_path, "good", CHARGES_SQL, extra="[params]\nmin_amount = 1")
    bad_severity = write_rule(tmp_path, "bad_severity", CHARGES_SQL, severity="urgent",
                              extra="[params]\nmin_amount = 1")
    undeclared = write_rule(tmp_path, "undeclared_param", CHARGES_SQL)
    asof = write_rule(tmp_path, "asof", "SELECT * FROM charges c ASOF JOIN actions a "
                      "ON c.ts >= a.ts")
    (tmp_path / "custom" / "no_meta.sql").write_text("SELECT 1")
    result = load_all([tmp_path / "custom"], builtin=False)
    assert [r.id for r in result.rules] == ["good"]
    messages = [str(e) for e in result.errors]
    assert len(messages) == 4
    assert any("severity 'urgent'" in m and "bad_severity.toml" in m for m in messages)
    assert any("$min_amount" in m and str(undeclared) in m for m in messages)
    assert any("ASOF" in m and str(asof) in m for m in messages)
    assert any("no_meta.sql" in m and "missing metadata" in m for m in messages)
    assert bad_severity.exists()


@pytest.mark.parametrize(("sql", "problem"), [
    ("SELECT * FROM a ASOF JOIN b ON a.t >= b.t", "ASOF"),
    ("SELECT count(DISTINCT x) OVER (PARTITION BY y) FROM t", "count(DISTINCT)"),
    ("SELECT ts - INTERVAL 7 DAYS FROM t", "DAY/MONTH"),
    ("SELECT date_diff('minute', a, b) FROM t", "date_diff"),
    ("SELECT epoch_ms(ts) FROM t", "epoch_ms"),
])
def test_lint_flags_non_portable_sql(sql: str, problem: str) -> None:
    assert any(problem in p for p in lint_sql(sql))


def test_lint_accepts_the_portable_forms() -> None:
    assert lint_sql("SELECT ts - INTERVAL 168 HOURS, "
                    "array_length(list_distinct(list(x) OVER w)) FROM t") == []


def test_params_are_bound_with_defaults_and_overrides(tmp_path: Path, charges_db: Path) -> None:
    write_rule(tmp_path, "big", CHARGES_SQL, extra="[params]\nmin_amount = 10")
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    con = open_sandbox(charges_db)
    assert run_rule(con, rule)["key"].to_list() == ["B"]
    assert run_rule(con, rule, {"min_amount": "1"})["key"].to_list() == ["A", "B"]
    with pytest.raises(UsageError, match="not a valid int"):
        run_rule(con, rule, {"min_amount": "0) OR (1=1"})
    con.close()


def test_text_params_are_values_never_sql(tmp_path: Path, charges_db: Path) -> None:
    write_rule(tmp_path, "one", CHARGES_SQL.replace(
        "amount >= CAST($min_amount AS DECIMAL(18, 4))", "account = $account"),
        extra='[params]\naccount = "C1"')
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    con = open_sandbox(charges_db)
    assert run_rule(con, rule)["key"].to_list() == ["A"]
    assert run_rule(con, rule, {"account": "C1' OR '1'='1"}).is_empty()
    con.close()


def test_finding_ids_are_stable_and_distinct_per_rule() -> None:
    assert finding_id("r1", "CH-1") == finding_id("r1", "CH-1")
    assert finding_id("r1", "CH-1") != finding_id("r2", "CH-1")
    assert finding_id("r1", "CH-1").startswith("F-") and len(finding_id("r1", "x")) == 18


# Keys of every shape a rule returns: non-ASCII text, quotes, separators, empty, long.
ODD_KEYS = ["CH-1", "é|ü~r12", "a'b\"c", "", "x" * 500, "C1|2026-03-01 10:00:00+00", "日本"]


def test_finding_ids_computed_in_sql_are_the_python_ones(tmp_path: Path, charges_db: Path) -> None:
    """The DuckDB engine computes ids in its query (base.FINDING_ID_SQL): they must be
    the ids finding_id() gives, which Spark, the cases and older databases use."""
    values = ", ".join(f"({i}, '{k.replace(chr(39), chr(39) * 2)}')" for i, k in enumerate(ODD_KEYS))
    write_rule(tmp_path, "odd_keys", "SELECT CAST(NULL AS TIMESTAMPTZ) AS ts, NULL AS change_id, "
               "NULL AS actor, NULL AS account, NULL AS amount, list_value(k) AS evidence, "
               f"k AS key FROM (VALUES {values}) AS t(i, k)")
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    con = open_sandbox(charges_db)
    frame = run_rule(con, rule)
    computed = rule_output(con, rule)  # the ids come out of the query itself
    con.close()
    assert computed["finding_id"].to_list() == frame["finding_id"].to_list()
    assert sorted(frame["key"].to_list()) == sorted(ODD_KEYS)
    assert frame["finding_id"].to_list() == [finding_id("odd_keys", k) for k in frame["key"]]


def test_evidence_drops_nulls_and_duplicates_and_is_sorted(tmp_path: Path,
                                                          charges_db: Path) -> None:
    """The DuckDB form of the wrapper leaves out the NULL filter Spark needs: still no NULL,
    no duplicate, sorted; a NULL list stays NULL."""
    write_rule(tmp_path, "lists", "SELECT CAST(NULL AS TIMESTAMPTZ) AS ts, NULL AS change_id, "
               "NULL AS actor, NULL AS account, NULL AS amount, e AS evidence, k AS key "
               "FROM (VALUES ('a', ['b', NULL, 'a', 'b']), ('b', [NULL]), "
               "('c', CAST(NULL AS VARCHAR[]))) AS t(k, e)")
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    con = open_sandbox(charges_db)
    frame = run_rule(con, rule)
    con.close()
    assert frame["evidence"].to_list() == [["a", "b"], [], None]


def test_output_is_cast_to_the_contract_types(tmp_path: Path, charges_db: Path) -> None:
    write_rule(tmp_path, "loose", "SELECT '2026-03-01T00:00:00Z' AS ts, 1 AS change_id, "
               "NULL AS actor, 'C1' AS account, 4.99 AS amount, ['x', 'x', 'a'] AS evidence, "
               "42 AS key")
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    con = open_sandbox(charges_db)
    frame = run_rule(con, rule)
    con.close()
    row = frame.row(0, named=True)
    assert row["key"] == "42" and row["change_id"] == "1"
    assert str(row["amount"]) == "4.9900"
    assert row["evidence"] == ["a", "x"]
    assert row["ts"].isoformat() == "2026-03-01T00:00:00+00:00"


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT ts, account FROM charges", "must return the columns"),
    (("SELECT ts, NULL change_id, NULL actor, account, amount, [charge_id] evidence, "
     "account AS key FROM charges UNION ALL SELECT ts, NULL, NULL, account, amount, "
     "[charge_id], account FROM charges"), "more than once"),
    ("SELECT 1; SELECT 2", "exactly one SELECT"),
    ("DELETE FROM charges", "exactly one SELECT"),
])
def test_broken_rule_output_names_the_rule(tmp_path: Path, charges_db: Path, sql: str,
                                           message: str) -> None:
    path = write_rule(tmp_path, "broken", sql)
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    con = open_sandbox(charges_db)
    with pytest.raises(RuleError, match=message) as info:
        run_rule(con, rule)
    con.close()
    assert str(path) in str(info.value)


def test_since_until_filter_findings_not_history(tmp_path: Path, charges_db: Path) -> None:
    from datetime import UTC, datetime
    write_rule(tmp_path, "all", CHARGES_SQL, extra="[params]\nmin_amount = 0")
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    con = open_sandbox(charges_db)
    since = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert run_rule(con, rule, since=since)["key"].to_list() == ["B"]
    assert run_rule(con, rule, until=since)["key"].to_list() == ["A"]
    con.close()


def test_validate_checks_cases_and_execution(tmp_path: Path) -> None:
    from auditlog.engines.validate import validate
    write_rule(tmp_path, "no_cases", "SELECT ts, NULL change_id, NULL actor, account, amount, "
               "[charge_id] evidence, charge_id AS key FROM charges")
    write_rule(tmp_path, "bad_column", "SELECT ts, nope FROM charges")
    valid, errors = validate([tmp_path / "custom"], builtin=False)
    assert valid == []
    text = "\n".join(str(e) for e in errors)
    assert "no_cases.sql: has no case file" in text
    assert "bad_column.sql" in text and "nope" in text


def test_builtin_rules_validate_clean() -> None:
    from auditlog.engines.validate import validate
    valid, errors = validate()
    assert errors == [] and len(valid) == len(load_rules())
