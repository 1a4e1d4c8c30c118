"""`auditlog remediation` for a person: every anomalous charge at 80 columns with its ids
whole (two lines a charge), the same charges and money as `--format json`, and log text
shown as it was written, never as markup."""

from __future__ import annotations

import json
from pathlib import Path

from golden import cli_output, sample_db
from typer.testing import CliRunner

from auditlog.cli import app

__all__ = ["sample_db"]  # the fixture, imported for pytest

runner = CliRunner()


def test_every_charge_is_listed_whole_at_80_columns(sample_db: Path) -> None:
    screen = cli_output(["remediation"], sample_db)
    lines = screen.splitlines()
    assert max(len(line) for line in lines) <= 80
    records = json.loads(cli_output(["remediation", "--format", "json"], sample_db))
    assert lines[0] == f"charges ({len(records):,})"
    words = set(screen.split())
    for record in records:  # every id, account and product whole, on the screen
        assert {record["charge_id"], record["account"], record["product"]} <= words
        if record["change_id"]:
            assert {record["change_id"], record["actor"]} <= words
    owed = [r for r in records if r["outstanding"] != "0.00"]
    assert owed and screen.count("owed EUR") == len(owed)
    assert screen.count("refunded") == len(records) - len(owed)


def test_log_text_in_the_list_is_shown_as_written(tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    charges = tmp_path / "charges.csv"
    charges.write_text("charge_id,ts,account,product,amount,currency\n"
                       "X[1],2026-04-02T01:05:00Z,[bold]C1[/bold],\x1b[31mADDON,4.99,EUR\n",
                       encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(charges), "--db", db]).exit_code == 0
    result = runner.invoke(app, ["remediation", "--db", db], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "X[1]" in result.stdout and "[bold]C1[/bold]" in result.stdout
    assert "\x1b" not in result.stdout and "\\x1b[31mADDON" in result.stdout


def test_ids_too_long_for_the_columns_are_shown_whole_in_blocks(tmp_path: Path) -> None:
    # An ARN-like customer and a long product code do not fit the five columns at 80:
    # Rich would cut them (and the amount owed) with an ellipsis. Each charge becomes a
    # block of labelled lines instead, every field whole.
    db = str(tmp_path / "w.duckdb")
    charges = tmp_path / "charges.csv"
    account = "arn:aws:iam::123456789012:user/customer-0042"
    charges.write_text("charge_id,ts,account,product,amount,currency\n"
                       f"CH-1,2026-04-02T01:05:00Z,{account},ADDON_PREMIUM_TV_SPORTS,"
                       "1234.56,EUR\n", encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(charges), "--db", db]).exit_code == 0
    result = runner.invoke(app, ["remediation", "--db", db], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "…" not in result.stdout and max(len(line) for line in lines) <= 80
    assert lines[1].split() == ["CH-1", "2026-04-02", "01:05", "(UTC)", "EUR", "1,234.56",
                                "owed", "EUR", "1,234.56"]
    rest = " ".join(lines[2:]).split()  # a line too long folds between words
    assert rest[:4] == ["customer", account, "product", "ADDON_PREMIUM_TV_SPORTS"]
    assert rest[4:6] == ["change", "none"]
