"""Rule SQL cannot read or write files, attach databases, load extensions or change
settings: DuckDB enforces it on the sandbox connection, and the error names the rule."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from auditlog.engines.cases import build_fixture
from auditlog.engines.runner import run_rule
from auditlog.engines.sandbox import open_sandbox
from auditlog.errors import RuleError
from auditlog.pack import load_rules
from tests.test_rules import write_rule

OUTPUT = "NULL ts, NULL change_id, NULL actor, NULL account, NULL amount, [] evidence"


@pytest.fixture()
def sandbox(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    db = tmp_path / "s.duckdb"
    build_fixture(db, {})
    con = open_sandbox(db)
    yield con
    con.close()


@pytest.mark.parametrize("sql", [
    f"SELECT {OUTPUT}, column0 AS key FROM read_csv('/etc/passwd')",
    f"SELECT {OUTPUT}, content AS key FROM read_text('/etc/passwd')",
    f"SELECT {OUTPUT}, file AS key FROM glob('/etc/*')",
    "COPY (SELECT 1) TO '/tmp/auditlog-escape.csv'",
    "ATTACH '/tmp/auditlog-escape.duckdb' AS escape",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "CREATE TABLE findings_evil AS SELECT 1",
])
def test_escaping_rule_gets_an_error_naming_it(tmp_path: Path, sandbox: duckdb.DuckDBPyConnection,
                                               sql: str) -> None:
    path = write_rule(tmp_path, "escape", sql)
    # Refused when loaded (a function outside the portable subset, such as glob) or when
    # run (the sandbox): either way before it touches anything, naming the rule's file.
    with pytest.raises(RuleError) as info:
        (rule,) = load_rules([tmp_path / "custom"], builtin=False)
        run_rule(sandbox, rule)
    assert str(path) in str(info.value)
    assert not Path("/tmp/auditlog-escape.csv").exists()
    assert not Path("/tmp/auditlog-escape.duckdb").exists()


@pytest.mark.parametrize("statement", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "COPY (SELECT 1) TO '/tmp/auditlog-escape.csv'",
    "ATTACH '/tmp/auditlog-escape.duckdb' AS escape",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "CREATE TABLE evil AS SELECT 1",
    "DELETE FROM charges",
])
def test_the_connection_itself_refuses(sandbox: duckdb.DuckDBPyConnection,
                                       statement: str) -> None:
    # Even past the single-SELECT check, DuckDB itself refuses.
    with pytest.raises(duckdb.Error):
        sandbox.execute(statement)
    assert not Path("/tmp/auditlog-escape.csv").exists()


def test_sandbox_runs_in_utc(sandbox: duckdb.DuckDBPyConnection) -> None:
    assert sandbox.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
