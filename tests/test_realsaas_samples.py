"""Real SaaS samples through the CLI: a service principal's own Entra sign-in is that
principal's action (not the platform's), and a record of no format auditlog reads among
Okta events (a Jira Cloud audit record, read only through a mapping file) is quarantined
saying so (tests/data/azure/SOURCE.md, tests/data/jira)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from auditlog.cli import app

DATA = Path(__file__).parent / "data"
runner = CliRunner()


def test_service_principal_signin_is_the_principals_action(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    result = runner.invoke(app, ["ingest", str(DATA / "azure/elastic_service_principal_signin.log"),
                                 "--db", str(db)])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT actor, actor_type, action, result FROM actions").fetchall()
    assert rows == [("b029d485-a308-4311-8720-fb3192e5284e", "service", "Sign-in activity",
                     "success")] * 2


def test_record_of_no_format_among_okta_events_is_quarantined_as_such(tmp_path: Path) -> None:
    okta = (DATA / "okta/beats_okta-system-test.json.log").read_text().splitlines()[0]
    jira = (DATA / "jira/elastic_jira_test-audit-cloud.log").read_text().splitlines()[0]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(okta + "\n" + jira + "\n")
    db = tmp_path / "a.duckdb"
    result = runner.invoke(app, ["ingest", str(mixed), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM actions").fetchone() == (1,)
        (reason,) = con.execute("SELECT reason FROM quarantine").fetchone() or ("",)
    assert reason.startswith("a record of no format auditlog reads")
    assert "okta" in reason and "eventSource" in reason
