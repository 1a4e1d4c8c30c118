"""Rules run under bounds: a time limit per rule and the sandbox's memory and spill
limits. A rule stopped by one is one sentence naming it, and the run stores nothing:
the findings, their triage and the runs stay as the previous run left them."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

import auditlog
from auditlog import store
from auditlog.analysis.findings import FindingFilter, list_findings, run_packs, triage
from auditlog.cli.common import flag
from auditlog.engines.bounds import DEFAULT_BOUNDS, RuleBounds, parse_size, watchdog
from auditlog.engines.cases import build_fixture
from auditlog.engines.runner import run_rule
from auditlog.engines.sandbox import open_sandbox
from auditlog.errors import RuleError, UsageError
from auditlog.pack import load_rules
from tests.test_rules import CHARGES_SQL, write_rule

ACTIONS = 2000  # 8e9 rows for a triple cross join: no machine finishes it in seconds

CROSS_SQL = """SELECT NULL AS ts, NULL AS change_id, NULL AS actor, NULL AS account,
    NULL AS amount, list_value(n) AS evidence, n AS key
FROM (SELECT CAST(count(*) AS VARCHAR) AS n
      FROM actions AS a CROSS JOIN actions AS b CROSS JOIN actions AS c
      WHERE a.event_id || b.event_id < c.event_id)"""

HOG_SQL = """SELECT NULL AS ts, NULL AS change_id, NULL AS actor, NULL AS account,
    NULL AS amount, list_sort(list(a.event_id || b.event_id || a.actor)) AS evidence,
    'all' AS key
FROM actions AS a CROSS JOIN actions AS b"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bounds") / "b.duckdb"
    build_fixture(path, {
        "actions": [{"event_id": "E00000", "ts": "2026-03-01T00:00:00Z",
                     "actor": "operator-0", "action": "login", "system": "crm"}],
        "charges": [{"charge_id": f"C{i}", "ts": "2026-03-01T00:00:00Z", "account": "A1",
                     "product": "P", "amount": f"{10 + i}.00"} for i in range(3)],
    })
    con = duckdb.connect(str(path))
    try:  # the other actions as copies of the first with their own ids and actors
        con.execute("INSERT INTO actions SELECT actions.* REPLACE (printf('E%05d', i) AS "
                    "event_id, 'operator-' || (i % 7) AS actor, i AS _row) "
                    "FROM actions, range(1, ?) AS r(i)", [ACTIONS])
    finally:
        con.close()
    return path


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    write_rule(tmp_path, "big_charge", CHARGES_SQL, extra="[params]\nmin_amount = 11")
    write_rule(tmp_path, "cross", CROSS_SQL)
    write_rule(tmp_path, "hog", HOG_SQL)
    return tmp_path / "custom"


def stored(db: Path) -> tuple[list[dict[str, object]], int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        findings = list_findings(con, FindingFilter(include_gone=True)).to_dicts()
        ((runs,),) = con.execute("SELECT count(*) FROM runs").fetchall()
    finally:
        con.close()
    return findings, runs


def test_a_triple_cross_join_is_stopped_by_the_time_limit_and_nothing_is_stored(
        db: Path, rules_dir: Path, tmp_path: Path) -> None:
    rules = {r.id: r for r in load_rules([rules_dir], builtin=False)}
    first = run_packs(db, [rules["big_charge"]])
    triage(db, first.new[0], "acknowledged", "seen")
    before = stored(db)
    with pytest.raises(RuleError) as info:
        run_packs(db, [rules["big_charge"], rules["cross"]], bounds=RuleBounds(timeout=1))
    # The library names the argument; worded as the CLI's flag, as asserted.
    assert info.value.worded(flag) == (f"{rules['cross'].source}: rule cross was stopped at "
                                       "its time limit of 1 s (--rule-timeout)")
    assert stored(db) == before
    assert before[0][0]["status"] == "acknowledged" and before[1] == 1


def test_a_memory_hog_is_stopped_by_the_memory_limit(db: Path, rules_dir: Path) -> None:
    (hog,) = [r for r in load_rules([rules_dir], builtin=False) if r.id == "hog"]
    bounds = RuleBounds(timeout=120, memory="64MB", spill="64MB")
    con = open_sandbox(db, bounds=bounds)
    try:
        with pytest.raises(RuleError) as info:
            run_rule(con, hog, bounds=bounds)
        # The connection stays usable: the next rule runs normally.
        assert con.execute("SELECT count(*) FROM actions").fetchall() == [(ACTIONS,)]
    finally:
        con.close()
    message = info.value.worded(flag)
    assert message.startswith(f"{hog.source}: rule hog was stopped at its ")
    assert ("memory limit of 64MB (--rule-memory)" in message
            or "disk spill limit of 64MB (--rule-spill)" in message)


def test_spilling_is_bounded_by_the_spill_limit(db: Path, tmp_path: Path) -> None:
    path = write_rule(tmp_path, "sorter", """SELECT NULL AS ts, NULL AS change_id,
    NULL AS actor, NULL AS account, NULL AS amount, [] AS evidence, k AS key
FROM (SELECT a.event_id || b.event_id || a.actor || a.actor || a.actor AS k
      FROM actions AS a CROSS JOIN actions AS b ORDER BY k)""")
    (rule,) = load_rules([tmp_path / "custom"], builtin=False)
    bounds = RuleBounds(timeout=120, memory="64MB", spill="16MB")
    con = open_sandbox(db, bounds=bounds)
    try:
        with pytest.raises(RuleError) as info:
            run_rule(con, rule, bounds=bounds)
    finally:
        con.close()
    assert re.search(r"limit of (64|16)MB \(--rule-(memory|spill)\)", info.value.worded(flag))
    assert str(info.value).startswith(f"{path}: rule sorter was stopped")


def test_the_sandbox_carries_the_limits_and_a_rule_cannot_lift_them(db: Path) -> None:
    con = open_sandbox(db, bounds=RuleBounds(memory="300MB", spill="1GB"))
    try:
        ((memory, spill),) = con.execute(
            "SELECT current_setting('memory_limit'), "
            "current_setting('max_temp_directory_size')").fetchall()
        with pytest.raises(duckdb.Error):
            con.execute("SET memory_limit = '100GB'")
    finally:
        con.close()
    assert memory.startswith("286.") and "MiB" in memory  # 300 MB in DuckDB's units
    assert spill.startswith("953.") and "MiB" in spill


def test_within_its_limits_a_rule_runs_as_before(db: Path, rules_dir: Path) -> None:
    (rule,) = [r for r in load_rules([rules_dir], builtin=False) if r.id == "big_charge"]
    con = open_sandbox(db, bounds=RuleBounds(timeout=60, memory="256MB"))
    try:
        assert run_rule(con, rule, bounds=RuleBounds(timeout=60))["key"].to_list() == [
            "C1", "C2"]
    finally:
        con.close()


def test_a_time_limit_beyond_what_a_timer_takes_is_no_error() -> None:
    with watchdog(lambda: None, 1e300) as fired:
        pass
    assert not fired()


def test_the_watchdog_never_interrupts_what_runs_after_it() -> None:
    con = duckdb.connect()
    try:
        with watchdog(con.interrupt, 0.05) as fired:
            con.execute("SELECT 1").fetchall()
        time.sleep(0.2)  # past the timer: it was cancelled, so nothing fires now
        assert con.execute("SELECT count(*) FROM range(1000000)").fetchall() == [(1000000,)]
        assert not fired()
    finally:
        con.close()


@pytest.mark.parametrize(("text", "spelled"), [
    ("2GB", "2GB"), ("512 mb", "512MB"), ("1.5GiB", "1.5GiB"), ("100kib", "100KiB")])
def test_sizes_are_read_as_duckdb_spells_them(text: str, spelled: str) -> None:
    assert parse_size(text, "rule_memory") == spelled


@pytest.mark.parametrize(("args", "option"), [
    ({"memory": "lots"}, "--rule-memory"), ({"memory": "0GB"}, "--rule-memory"),
    ({"spill": "1GB; SET x=1"}, "--rule-spill"), ({"timeout": 0}, "--rule-timeout"),
    ({"timeout": -5}, "--rule-timeout"), ({"timeout": float("inf")}, "--rule-timeout"),
    ({"timeout": float("nan")}, "--rule-timeout"),
])
def test_bad_bounds_are_a_usage_error_naming_the_option(args: dict[str, object],
                                                        option: str) -> None:
    with pytest.raises(UsageError) as info:
        RuleBounds.of(**args)  # type: ignore[arg-type]
    assert option in info.value.worded(flag)  # the CLI's flag for the library's argument
    assert RuleBounds.of() == DEFAULT_BOUNDS


def test_the_python_api_takes_the_same_bounds(db: Path, rules_dir: Path) -> None:
    with auditlog.open(db) as inv, pytest.raises(RuleError, match="time limit of 0.5 s"):
        inv.run(rules=["cross"], rules_dirs=[rules_dir], rule_timeout=0.5)
    with auditlog.open(db) as inv, pytest.raises(UsageError, match="^rule_memory 'a lot' is "):
        inv.run(rules=["cross"], rules_dirs=[rules_dir], rule_memory="a lot")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditlog", *args], capture_output=True,
                          text=True, check=False, env={**os.environ, "COLUMNS": "300"})


def test_the_cli_says_in_one_sentence_which_rule_hit_which_limit(db: Path,
                                                                 rules_dir: Path) -> None:
    before = stored(db)
    result = cli("run", "--db", str(db), "--rules-dir", str(rules_dir), "--rule", "cross",
                 "--rule-timeout", "1")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        (f"error: {rules_dir / 'cross.sql'}: rule cross was stopped at its time limit of 1 s "
        "(--rule-timeout)")]
    assert stored(db) == before
    for args, option in ((["--rule-memory", "12XB"], "--rule-memory"),
                         (["--engine", "spark", "--rule-memory", "2GB"], "--rule-memory")):
        result = cli("run", "--db", str(db), *args)
        assert result.returncode == 2 and option in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.spark
def test_a_rule_on_spark_is_cancelled_at_its_time_limit(db: Path, rules_dir: Path,
                                                        tmp_path: Path) -> None:
    from auditlog.engines.spark import register_lake, run_rule_spark, start_session
    from auditlog.store.lake import export_lake

    con = store.connect(db, read_only=True)
    try:
        export_lake(con, tmp_path / "lake")
    finally:
        con.close()
    spark = start_session()
    try:
        register_lake(spark, tmp_path / "lake")
        rules = {r.id: r for r in load_rules([rules_dir], builtin=False)}
        with pytest.raises(RuleError) as info:
            run_rule_spark(spark, rules["cross"], timeout=5)
        assert info.value.worded(flag) == (f"{rules['cross'].source}: rule cross was stopped "
                                           "at its time limit of 5 s (--rule-timeout)")
        # Only that rule's jobs were cancelled: the session runs the next rule.
        assert run_rule_spark(spark, rules["big_charge"], timeout=120)["key"].to_list() == [
            "C1", "C2"]
    finally:
        end_spark_jvm()


def end_spark_jvm() -> None:
    """Kill this process's Spark JVM; the next session starts a new one. Spark cancels a
    job, but a task inside the cross join's generated loop never looks at its interrupt:
    it went on computing its 8e9 rows on one of CI's two cores for the rest of the run
    (tens of minutes), as it would in a user's long-lived local session (README, Spark)."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):  # py4j raises many kinds once the JVM is gone
        gateway.shutdown()
    if proc is not None:
        proc.kill()
        proc.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
