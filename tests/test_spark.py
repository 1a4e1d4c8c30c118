"""The rule packs on Apache Spark give exactly what they give on DuckDB.

Every rule's fire cases (and with AUDITLOG_SPARK_ALL_CASES=1 its quiet ones) run on both
engines with identical sorted findings; so
do a hand-made fixture around a daylight-saving change and a small generated world whose
billing export is in local time across the end of summer time. A whole `run --engine
spark` then leaves the same findings (ids included) and remediation as a DuckDB run.

One Spark session serves the whole module (it takes ~30 s and GBs to start). These tests
need pyspark and Java 17; CI installs both (marker `spark`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from typer.testing import CliRunner

from auditlog import Investigation, store
from auditlog.analysis.attribution import remediation, remediation_records
from auditlog.analysis.findings import FindingFilter, findings_records, list_findings, run_packs
from auditlog.cli import app
from auditlog.engines import open_engine
from auditlog.engines.batch import Fixture, run_fixtures
from auditlog.engines.cases import Case, Tables, build_fixture, judge, load_cases
from auditlog.engines.runner import run_rule
from auditlog.engines.sandbox import open_sandbox
from auditlog.engines.spark import (
    install_shared_views,
    register_lake,
    require_spark,
    run_rule_spark,
    run_rules_spark,
    start_session,
)
from auditlog.engines.translate import to_spark
from auditlog.engines.validate import validate
from auditlog.errors import RuleError, UsageError
from auditlog.ingest.world import load_world
from auditlog.pack import Rule, load_rules
from auditlog.pack.lint import lint_sql
from auditlog.pack.units import shared_units
from auditlog.store.lake import export_lake
from auditlog.world import generate_world

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RULES = load_rules()
CASES = [(rule, case) for rule in RULES for case in load_cases(rule)]
# The case matrix on Spark: by default each rule's first fire case, where it has findings
# whose ids must match (the quiet side is the whole generated world's run below, with
# identical findings on both engines); AUDITLOG_SPARK_ALL_CASES=1 (make test-spark-all)
# runs every case. One Spark batch's planning grows with its size: all 47 fire cases
# took ~4 of the 15 minutes CI has; every case runs on DuckDB in test_rule_cases.py.
ALL_CASES = os.environ.get("AUDITLOG_SPARK_ALL_CASES") == "1"
FIRST_FIRE = {rule.id: (rule, case) for rule, case in reversed(CASES) if case.expect == "fire"}
SPARK_CASES = (CASES if ALL_CASES else
               [pair for pair in CASES if FIRST_FIRE.get(pair[0].id) == pair])


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = start_session("local[2]")
    yield session
    session.catalog.clearCache()


def on_duckdb(rules: list[Rule], tables: Tables, workdir: Path,
              params: dict[str, Any] | None = None,
              records: tuple[str, ...] = ()) -> tuple[pl.DataFrame, Path]:
    """The findings of `rules` on a fixture on DuckDB (its rows, and its source records
    ingested like a user's log), and the fixture's database."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "fixture.duckdb"
    build_fixture(db, tables, records=records)
    sandbox = open_sandbox(db, params=params or {})  # a case's model parameters too
    try:
        return pl.concat([run_rule(sandbox, r, params) for r in rules]), db
    finally:
        sandbox.close()


def on_spark_lake(spark: SparkSession, rules: list[Rule], db: Path, workdir: Path,
                  params: dict[str, Any] | None = None) -> pl.DataFrame:
    """The same fixture exported to a lake, and `rules` run on it as a Spark run does."""
    con = store.connect(db, read_only=True)
    export_lake(con, workdir / "lake")
    con.close()
    register_lake(spark, workdir / "lake")
    install_shared_views(spark)
    return run_rules_spark(spark, rules, params)


def sorted_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.sort(["rule_id", "key"]).to_dicts()


@pytest.fixture(scope="module")
def case_results(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
                 ) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """The cases on DuckDB, and all of them on Spark in one batch: label -> (duck, spark)."""
    root = tmp_path_factory.mktemp("cases")
    duck, fixtures = [], []
    for n, (rule, case) in enumerate(SPARK_CASES):
        found, db = on_duckdb([rule], case.tables, root / str(n), case.params, case.records)
        duck.append(found)
        fixtures.append(Fixture(db, [rule], case.params))
    return {case.label: (d, s) for (_, case), d, s
            in zip(SPARK_CASES, duck, run_fixtures(spark, fixtures), strict=True)}


@pytest.mark.spark
@pytest.mark.parametrize(("rule", "case"), SPARK_CASES, ids=[c.label for _, c in SPARK_CASES])
def test_case_gives_identical_findings_on_spark(
        case_results: dict[str, tuple[pl.DataFrame, pl.DataFrame]], rule: Rule,
        case: Case) -> None:
    duck, on_spark = case_results[case.label]
    assert sorted_rows(on_spark) == sorted_rows(duck)
    passed, message = judge(case, on_spark["key"].to_list(), on_spark["evidence"].to_list())
    assert passed, message


@pytest.mark.spark
def test_one_fixture_on_a_lake_gives_what_the_batch_gives(
        spark: SparkSession, case_results: dict[str, tuple[pl.DataFrame, pl.DataFrame]],
        tmp_path: Path) -> None:
    rule, case = next((r, c) for r, c in CASES if r.id == "stacked_subscription"
                      and c.expect == "fire")
    _, db = on_duckdb([rule], case.tables, tmp_path, case.params, case.records)
    alone = on_spark_lake(spark, [rule], db, tmp_path, case.params)
    assert sorted_rows(alone) == sorted_rows(case_results[case.label][1])
    assert alone.height > 0


# Summer time in Amsterdam ends 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC): the local
# hour 02:00-03:00 happens twice. The rules work in UTC instants and UTC hours, so the
# repeated local hour must neither merge nor split their windows on either engine.
DST = "2026-10-25"


def dst_tables() -> Tables:
    actions = []
    for i, minute in enumerate((10, 20, 30, 40, 50)):
        for hour in ("00", "01"):  # 02:xx CEST then 02:xx CET
            actions.append({"event_id": f"E-{hour}-{i}", "ts": f"{DST}T{hour}:{minute}:00Z",
                            "actor": "op-night", "action": "subscribe", "system": "crm",
                            "target_account": f"C{hour}{i}", "object": "ADDON",
                            "order_id": f"O-{hour}-{i}", "actor_type": "human"})
    charges = [{"charge_id": f"CH-{a['event_id']}", "ts": a["ts"].replace(":00Z", ":30Z"),
                "account": a["target_account"], "product": "ADDON", "amount": "4.99",
                "order_id": a["order_id"], "currency": "EUR"} for a in actions]
    # Without order ids, caused by account/product within 24 hours (not one local day).
    charges += [{"charge_id": "CH-late", "ts": "2026-10-25T23:30:00Z", "account": "C-tv",
                 "product": "TV", "amount": "9.99", "currency": "EUR"},
                {"charge_id": "CH-late2", "ts": "2026-10-25T23:59:00Z", "account": "C-tv",
                 "product": "TV", "amount": "9.99", "currency": "EUR"}]
    actions += [{"event_id": "E-tv", "ts": "2026-10-24T23:45:00Z", "actor": "svc-orders",
                 "action": "subscribe", "system": "orders", "target_account": "C-tv",
                 "object": "TV", "actor_type": "service"},
                {"event_id": "E-tv2", "ts": "2026-10-25T00:05:00Z", "actor": "svc-orders",
                 "action": "subscribe", "system": "orders", "target_account": "C-tv",
                 "object": "TV", "actor_type": "service"}]
    changes = [{"change_id": "CHG-dst", "system": "orders", "implementer": "eng",
                "started_at": "2026-10-18T00:50:00Z", "window_start": "2026-10-18T00:00:00Z",
                "window_end": "2026-10-18T02:00:00Z"}]
    privileges = [{"event_id": "P-1", "ts": "2026-10-25T00:55:00Z", "actor": "admin",
                   "subject": "op-night", "privilege": "orders:write", "system": "crm",
                   "operation": "grant", "expires_at": "2026-10-25T01:55:00Z"}]
    return {"actions": actions, "charges": charges, "changes": changes,
            "privileges": privileges}


@pytest.mark.spark
def test_daylight_saving_fixture_identical_on_both_engines(spark: SparkSession,
                                                           tmp_path: Path) -> None:
    params = {"customers_per_hour": 5}
    duck, db = on_duckdb(RULES, dst_tables(), tmp_path, params)
    on_spark = on_spark_lake(spark, RULES, db, tmp_path, params)
    assert sorted_rows(on_spark) == sorted_rows(duck)
    # Both UTC hours around the repeated local hour are their own bursts of 5 customers,
    # and the charges 24h after their actions (a 25-hour local day) still pair with them.
    keys = set(on_spark.filter(pl.col("rule_id") == "operator_many_customers")["key"])
    assert keys == {f"op-night|{DST} 00:00:00+00", f"op-night|{DST} 01:00:00+00"}
    unordered = on_spark.filter(pl.col("rule_id") == "unauthorized_unordered_charge")
    assert sorted(unordered["key"]) == ["CH-late", "CH-late2"]


# ------------------------------------------------------------ a whole run, both engines


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world (other seed than sample_logs) over the end of summer time."""
    root = tmp_path_factory.mktemp("world")
    generate_world(root / "logs", customers=100, seed=23, days=60,
                   billing_tz="Europe/Amsterdam")
    db = root / "world.duckdb"
    con = store.connect(db)
    load_world(con, root / "logs")
    con.close()
    return db


def stored_state(db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    con = store.connect(db, read_only=True)
    found = findings_records(list_findings(con, FindingFilter(include_gone=True)))
    rows = remediation_records(remediation(con))
    con.close()
    keep = ("first_seen", "last_seen")
    return [{k: v for k, v in f.items() if k not in keep} for f in found], rows


@pytest.mark.spark
def test_run_on_spark_stores_what_a_duckdb_run_stores(spark: SparkSession, world_db: Path,
                                                      tmp_path: Path) -> None:
    duck_db, spark_db = tmp_path / "duck.duckdb", tmp_path / "spark.duckdb"
    shutil.copy(world_db, duck_db)
    shutil.copy(world_db, spark_db)
    duck_report = run_packs(duck_db, RULES)
    spark_report = run_packs(spark_db, RULES, engine="spark", session=spark)
    assert spark_report.as_dict() == duck_report.as_dict()
    assert duck_report.findings > 0
    assert stored_state(spark_db) == stored_state(duck_db)
    # A DuckDB run after the Spark run finds nothing new and nothing gone.
    again = run_packs(spark_db, RULES)
    assert (again.new, again.disappeared) == ([], [])


@pytest.mark.spark
def test_spark_runs_through_the_same_door(spark: SparkSession, world_db: Path,
                                          tmp_path: Path) -> None:
    # The command line and the library on Spark give the run report the library gives on
    # DuckDB. (Here beside the module's Spark session, which `--engine spark` joins,
    # rather than starting a JVM of its own in another file.)
    db = tmp_path / "door.duckdb"
    shutil.copy(world_db, db)
    Investigation(db).run()  # then each run below finds what is stored: none new, none gone
    on_duckdb = Investigation(db).run(packs=["change"]).as_dict()
    result = CliRunner().invoke(app, ["run", "--engine", "spark", "--pack", "change",
                                      "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    on_spark = Investigation(db, engine="spark").run(packs=["change"]).as_dict()
    for doc in (on_duckdb, shown, on_spark):
        doc.pop("run_id")
    assert shown == on_spark == on_duckdb and shown["findings"] > 0


@pytest.mark.spark
def test_run_reads_a_given_lake(spark: SparkSession, world_db: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    con = store.connect(world_db, read_only=True)
    export_lake(con, lake)
    con.close()
    db = tmp_path / "findings.duckdb"  # only findings: the logs are in the lake
    billing = [r for r in RULES if r.pack == "billing"]
    report = run_packs(db, billing, engine="spark", lake=lake, session=spark)
    expected = run_packs(shutil.copy(world_db, tmp_path / "duck.duckdb"), billing)
    assert report.new == expected.new and report.findings == expected.findings > 0


@pytest.mark.spark
def test_rule_failing_on_spark_names_its_file(spark: SparkSession) -> None:
    bad = Rule(id="bad", pack="t", title="t", severity="low", description="d", rationale="r",
               investigate="i", source="my_rules/bad.sql",
               sql="SELECT ts, NULL change_id, actor, NULL account, NULL amount, [] evidence,"
                   " event_id AS key FROM actions WHERE no_such_column > 1")
    with pytest.raises(RuleError, match=r"my_rules/bad\.sql: failed on Spark"):
        run_rule_spark(spark, bad)


@pytest.mark.spark
def test_missing_lake_is_one_sentence(tmp_path: Path) -> None:
    engine = open_engine("spark", tmp_path / "db.duckdb", lake=tmp_path / "nowhere")
    with pytest.raises(UsageError, match="no lake at .*lake export"), engine:
        engine.run_rules(RULES)


def test_translation_binds_parameters_as_markers() -> None:
    rule = next(r for r in RULES if r.id == "stacked_subscription")
    sql = to_spark(rule.sql, rule.source)
    assert ":window_hours" in sql and "$" not in sql
    json.dumps(sql)


# ------------------------------------------------ the lint for the portable subset


PORTABLE_META = """title = "t"
severity = "low"
description = "d"
rationale = "r"
investigate = "i"
"""


@pytest.mark.parametrize(("sql", "line", "construct", "portable"), [
    (("SELECT c.ts, NULL AS change_id, a.actor, c.account, c.amount,\n"
      "    list_value(c.charge_id) AS evidence, c.charge_id AS key\n"
      "FROM charges AS c ASOF JOIN actions AS a\n"
      "  ON a.target_account = c.account AND a.ts <= c.ts"),
     3, "ASOF JOIN", "last_value(x IGNORE NULLS)"),
    (("SELECT ts, NULL AS change_id, actor, NULL AS account, NULL AS amount,\n"
      "    list_value(event_id) AS evidence, event_id AS key\n"
      "FROM (SELECT *, count(DISTINCT target_account) OVER (\n"
      "    PARTITION BY actor ORDER BY ts RANGE INTERVAL 1 HOURS PRECEDING) AS n FROM actions)\n"
      "WHERE n > 10"),
     3, "count(DISTINCT) OVER", "array_length(list_distinct(list(x) OVER w))"),
])
def test_validate_rejects_non_portable_rules_naming_line_and_portable_form(
        tmp_path: Path, sql: str, line: int, construct: str, portable: str) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "odd.sql").write_text(sql)
    (pack / "odd.toml").write_text(PORTABLE_META)
    valid, errors = validate([pack], builtin=False)
    assert valid == []
    (message,) = [str(e) for e in errors if "not portable" in str(e)]
    assert message.startswith(str(pack / "odd.sql"))
    assert f"line {line}: " in message and construct in message and portable in message


@pytest.mark.parametrize(("sql", "construct"), [
    ("SELECT sum(amount) / count(*) AS x FROM charges", "a division without a cast"),
    ("SELECT avg(amount) FROM charges", "avg() without a cast"),
    ("SELECT CAST(date_trunc('hour', ts) AS VARCHAR) FROM actions", "timestamp cast to text"),
    ("SELECT CAST(started_at AS VARCHAR) FROM changes", "timestamp cast to text"),
    ("SELECT frobnicate(ts) FROM actions", "frobnicate(), a function sqlglot does not know"),
    ("SELECT ts - INTERVAL 2 DAYS FROM actions", "DAY/MONTH/YEAR interval"),
    ("SELECT time_bucket(INTERVAL 1 HOURS, ts) FROM actions", "time_bucket"),
])
def test_lint_flags_what_does_not_carry_over(sql: str, construct: str) -> None:
    assert any(construct in p for p in lint_sql(sql)), lint_sql(sql)


def test_lint_accepts_portable_forms_and_sees_no_code_in_comments() -> None:
    assert lint_sql("-- an ASOF JOIN would be wrong here\n"
                    "SELECT CAST(sum(amount) / nullif(count(*), 0) AS DECIMAL(18, 4)),\n"
                    "  strftime(date_trunc('hour', ts), '%Y-%m-%d %H:%M:%S') || '+00',\n"
                    "  'date_diff(' AS text, ts - INTERVAL 168 HOURS FROM charges") == []


def test_every_builtin_rule_and_shared_view_is_portable() -> None:
    _, errors = validate()
    assert [str(e) for e in errors] == []
    for unit in shared_units():
        assert lint_sql(unit.sql) == []


# ------------------------------------------------ without pyspark or Java


def test_missing_pyspark_is_one_sentence_saying_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(UsageError, match=r"needs pyspark.*pip install 'auditlog\[spark\]'"):
        require_spark()


@pytest.mark.spark
def test_missing_java_is_one_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(UsageError, match="needs Java 17 or later.*JAVA_HOME"):
        require_spark()
