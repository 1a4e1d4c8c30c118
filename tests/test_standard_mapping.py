"""Mapping files through the CLI: the shipped examples read their exports exactly, and a
broken mapping is one sentence naming the file and key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "mappings"
runner = CliRunner()


def ingest(db: Path, path: Path, *options: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--format", "json",
                                 *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = store.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(("name", "data", "tz", "kind"), [
    ("sap_role_changes", "sap_role_changes.csv", "Europe/Berlin", "privileges"),
    ("billing_export_nl", "billing_export_nl.csv", "Europe/Amsterdam", "charges"),
    ("legacy_operator_log", "legacy_operator_log.tsv", "UTC", "actions"),
])
def test_every_example_reads_its_export(tmp_path: Path, name: str, data: str, tz: str,
                                        kind: str) -> None:
    (result,) = ingest(tmp_path / "d.duckdb", EXAMPLES / data,
                       "--mapping", str(EXAMPLES / f"{name}.toml"), "--tz", tz)
    assert (result["kind"], result["quarantined"]) == (kind, 0)
    assert result["loaded"] == result["rows_read"] > 0


def test_renames_codes_constants_and_local_times(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    ingest(db, EXAMPLES / "sap_role_changes.csv", "--mapping",
           str(EXAMPLES / "sap_role_changes.toml"), "--tz", "Europe/Berlin")
    assert query(db, "SELECT strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), actor, subject, privilege, "
                     "operation, system, ticket, extra ->> '$.Mandant' FROM privileges "
                     "ORDER BY ts") == [
        ("2026-03-03T08:14:05Z", "BASIS_ADM", "MUELLER_K", "Z_FI_AP_CLERK", "grant",
         "sap-erp", "CHG-1042", "100"),
        ("2026-03-03T08:15:00Z", "BASIS_ADM", "MUELLER_K", "SAP_ALL", "grant", "sap-erp",
         None, "100"),
        ("2026-03-04T16:40:00Z", "BASIS_ADM", "MUELLER_K", "SAP_ALL", "revoke", "sap-erp",
         "CHG-1043", "100"),
    ]


def test_zoned_formats_ignore_tz_and_unknown_codes_pass_through(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    ingest(db, EXAMPLES / "legacy_operator_log.tsv", "--mapping",
           str(EXAMPLES / "legacy_operator_log.toml"), "--tz", "Asia/Tokyo")
    assert query(db, "SELECT strftime(ts, '%H:%M:%S'), action, result FROM actions "
                     "ORDER BY ts") == [
        ("08:02:11", "subscribe", "success"), ("08:03:40", "confirm_order", "failure"),
        ("08:05:02", "LOOKUP", "success")]


@pytest.mark.parametrize(("text", "fragment"), [
    ('kind = "privileges"\n[colums]\nx = "ts"\n', "mapping key 'colums' is not known"),
    ('kind = "grants"\n', "mapping key 'kind' is 'grants'"),
    ('[timestamps]\nts = "dd.mm.yyyy"\n', "mapping key 'timestamps.ts' must be a strptime"),
    ("[columns\n", "not valid TOML"),
])
def test_a_broken_mapping_is_one_sentence_naming_file_and_key(
        tmp_path: Path, text: str, fragment: str) -> None:
    mapping = tmp_path / "broken.toml"
    mapping.write_text(text, encoding="utf-8")
    process = subprocess.run(
        [sys.executable, "-m", "auditlog", "ingest", str(EXAMPLES / "sap_role_changes.csv"),
         "--db", str(tmp_path / "d.duckdb"), "--mapping", str(mapping)],
        capture_output=True, text=True, check=False)
    assert process.returncode == 2 and process.stdout == ""
    message = " ".join(process.stderr.split())
    assert fragment in message and "broken.toml" in message
    assert "Traceback" not in message


def test_every_format_of_a_list_is_tried_in_order_a_zone_name_before_an_offset(
        tmp_path: Path) -> None:
    # A billing export made by Rails (Recurly's, Chargebee's) writes times as Ruby does,
    # "2024-03-01 10:00:00 UTC" or with an offset "+0100", in one column: each row is
    # read by the format that fits it, whichever comes first in the list.
    data = tmp_path / "transactions.csv"
    data.write_text("uuid,created_at,account_code,plan_code,amount_in_cents,currency\n"
                    "t1,2024-03-01 10:00:00 UTC,acc-1,gold,1999,USD\n"
                    "t2,2024-03-01 10:00:00 +0100,acc-1,gold,1999,USD\n"
                    "t3,2024-03-01 10:00:00 -0530,acc-1,gold,500,JPY\n", encoding="utf-8")
    mapping = tmp_path / "recurly.toml"
    mapping.write_text('kind = "charges"\n[columns]\nuuid = "charge_id"\ncreated_at = "ts"\n'
                       'account_code = "account"\nplan_code = "product"\n'
                       'amount_in_cents = "amount"\n[timestamps]\n'
                       'ts = ["%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S %z"]\n'
                       '[minor_units]\namount = "currency"\n', encoding="utf-8")
    db = tmp_path / "d.duckdb"
    (result,) = ingest(db, data, "--mapping", str(mapping))
    assert (result["loaded"], result["quarantined"]) == (3, 0)
    assert query(db, "SELECT charge_id, strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), "
                     "CAST(amount AS VARCHAR) FROM charges ORDER BY charge_id") == [
        ("t1", "2024-03-01T10:00:00Z", "19.9900"), ("t2", "2024-03-01T09:00:00Z", "19.9900"),
        ("t3", "2024-03-01T15:30:00Z", "500.0000")]
