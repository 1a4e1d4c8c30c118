"""A Sigma finding is shown with what its Sigma rule says of itself (title, level, Sigma
id, ATT&CK tags) where findings are listed: `trace` (text and JSON) and the
accountability report (terminal, Markdown, HTML, JSON). SigmaHQ's real rule
aws_update_login_profile (tests/data/sigma, DRL 1.1) imported, run over the real Stratus
Red Team detonation of UpdateLoginProfile (tests/data/attacks, Apache-2.0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.investigation import Investigation

DATA = Path(__file__).parent / "data"
RULE = DATA / "sigma" / "cloudtrail" / "aws_update_login_profile.yml"
DETONATION = DATA / "attacks" / "aws.privilege-escalation.iam-update-user-login-profile.json"
SIGMA_ID = "055fb148-60f8-462d-ad16-26926ce050f1"
TITLE = "AWS User Login Profile Was Modified"
ACTOR = "christophe"  # the detonation's caller (userIdentity)
runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sigma-shown")
    packs = root / "packs"
    result = runner.invoke(app, ["rules", "import-sigma", str(RULE), "--out", str(packs)])
    assert result.exit_code == 0, result.output
    path = root / "x.duckdb"
    inv = Investigation(path, rules_dirs=[packs])
    inv.ingest([DETONATION])
    inv.run()
    return path, packs


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_trace_json_carries_the_sigma_rule_of_its_finding(db: tuple[Path, Path]) -> None:
    path, _ = db
    doc = json.loads(cli("trace", "account", ACTOR, "--db", str(path), "--format", "json"))
    assert "aws_update_login_profile" in doc["rules"]
    assert doc["sigma"] == [{
        "rule": "aws_update_login_profile", "id": SIGMA_ID, "title": TITLE,
        "level": "high",
        "tags": ["attack.persistence", "attack.privilege-escalation", "attack.t1098"]}]


def test_trace_text_names_the_sigma_title_id_level_and_tags(db: tuple[Path, Path]) -> None:
    path, _ = db
    text = cli("trace", "account", ACTOR, "--db", str(path))
    assert f"Sigma: {TITLE}" in text
    assert SIGMA_ID in text and "attack.t1098" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_a_trace_without_sigma_rules_has_no_sigma_key(db: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    # The same events run with the built-in packs only: the JSON reads as it did.
    path = tmp_path / "plain.duckdb"
    inv = Investigation(path)
    inv.ingest([DETONATION])
    inv.run()
    doc = json.loads(cli("trace", "account", ACTOR, "--db", str(path), "--format", "json"))
    assert doc["rules"] and "sigma" not in doc
    assert "Sigma" not in cli("trace", "account", ACTOR, "--db", str(path))


def test_the_report_shows_the_sigma_rule_in_every_format(db: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    path, _ = db
    table = cli("report", "accountability", "--db", str(path))
    assert f"Sigma: {TITLE}" in table and SIGMA_ID in table
    markdown = cli("report", "accountability", "--db", str(path), "--format", "md")
    assert f'Sigma rule "{TITLE}", id {SIGMA_ID}, level high' in markdown
    html = tmp_path / "r.html"
    cli("report", "accountability", "--db", str(path), "--format", "html", "--out", str(html))
    assert f"Sigma rule {TITLE} · id <code>{SIGMA_ID}</code>" in html.read_text()
    doc = json.loads(cli("report", "accountability", "--db", str(path), "--format", "json"))
    by_rule = {r["rule_id"]: r for r in doc["findings"]["by_rule"]}
    assert by_rule["aws_update_login_profile"]["sigma"]["id"] == SIGMA_ID
    assert by_rule["credential_for_other_account"]["sigma"] is None


def test_sigma_text_is_escaped_in_html_and_shown_literally_in_the_terminal(
        tmp_path: Path) -> None:
    # A rule's title is text from a file: never markup in the report or the terminal.
    hostile = tmp_path / "hostile_title.yml"
    hostile.write_text(RULE.read_text(encoding="utf-8").replace(
        f"title: {TITLE}", "title: '<b>[red]x[/red]</b>'"), encoding="utf-8")
    packs = tmp_path / "packs"
    result = runner.invoke(app, ["rules", "import-sigma", str(hostile), "--out", str(packs)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "h.duckdb"
    inv = Investigation(path, rules_dirs=[packs])
    inv.ingest([DETONATION])
    inv.run()
    assert "Sigma: <b>[red]x[/red]</b>" in cli("trace", "account", ACTOR, "--db", str(path))
    html = tmp_path / "h.html"
    cli("report", "accountability", "--db", str(path), "--format", "html", "--out", str(html))
    page = html.read_text()
    assert "Sigma rule &lt;b&gt;[red]x[/red]&lt;/b&gt;" in page and "<b>[red]" not in page
