"""Public Azure role-assignment fixtures (issue 12: tests/data/azure/SOURCE.md, Panther's
Apache-2.0 test events) through the CLI, row by row: what each record grants to whom, by
whom and when, and which privilege rules `auditlog run` fires on them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app

DATA = Path(__file__).parent / "data"
PANTHER_AZURE = DATA / "azure/panther_azure_role_assignment_privileged_or_elevated.jsonl"

runner = CliRunner()

# The caller of lines 1-3: the records carry no claims, only the object id whose role
# assignment authorised the call (identity.authorization.evidence.principalId).
EVIDENCE_CALLER = "6b6d44f0-b13a-46a0-bfde-161324d4c34d"
SUBSCRIPTION = "/subscriptions/12345678-1234-1234-1234-123456789abc"

# line -> (ts, actor, subject, privilege, scope, role definition id as logged)
EXPECTED = {
    1: (datetime(2024, 12, 17, 10, 30, tzinfo=UTC), EVIDENCE_CALLER,
        "770797c4-e05a-43f9-bda2-1f1f379987ae", "Owner", SUBSCRIPTION,
        "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    2: (datetime(2024, 12, 17, 13, 30, tzinfo=UTC), EVIDENCE_CALLER,
        "22222222-3333-4444-5555-666666666666", "Reader", SUBSCRIPTION,
        "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"),
    3: (datetime(2024, 12, 17, 14, 0, tzinfo=UTC), EVIDENCE_CALLER,
        "33333333-4444-5555-6666-777777777777", "Storage Blob Data Owner",
        SUBSCRIPTION + "/resourcegroups/storage-rg/providers/Microsoft.Storage/"
        "storageAccounts/mystorageacct",
        "/providers/Microsoft.Authorization/roleDefinitions/b7e6dc6d-f1e8-4753-8033-0f276bb0955b"),
    # elevateAccess: the Global Administrator gives itself User Access Administrator at
    # the root scope.
    4: (datetime(2024, 12, 24, 15, 45, tzinfo=UTC), "attacker@example.com",
        "attacker@example.com", "User Access Administrator", "/",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"),
}


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "json" in args else result.stdout


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    db = tmp_path_factory.mktemp("panther_azure") / "d.duckdb"
    files = cli("ingest", str(PANTHER_AZURE), "--db", str(db), "--format", "json")
    return db, files


def _rows(db: Path) -> dict[int, tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT _row, ts, actor, subject, privilege, operation, system, "
            "extra ->> '$.scope', extra ->> '$.role_definition_id', "
            "(extra ->> '$.source_carries_approval')::BOOLEAN, event_id FROM privileges"
        ).fetchall()
        actions = con.execute("SELECT count(*) FROM actions").fetchall()[0][0]
    finally:
        con.close()
    assert actions == 0  # every record is a grant: none is left as a bare action
    return {r[0]: r[1:] for r in rows}


def test_every_record_loads_as_a_grant(loaded: tuple[Path, list[dict[str, Any]]]) -> None:
    db, files = loaded
    (entry,) = files
    lines = PANTHER_AZURE.read_text(encoding="utf-8").splitlines()
    assert (entry["rows_read"], entry["loaded"], entry["duplicates"], entry["quarantined"]) \
        == (len(lines), len(lines), 0, 0)
    rows = _rows(db)
    assert sorted(rows) == sorted(EXPECTED)


@pytest.mark.parametrize("line", sorted(EXPECTED))
def test_each_row_names_who_granted_what_to_whom_and_when(
        loaded: tuple[Path, list[dict[str, Any]]], line: int) -> None:
    ts, actor, subject, privilege, scope, role_id = EXPECTED[line]
    got = _rows(loaded[0])[line]
    # A role assignment applies to its scope, not to one provider: system is empty, and
    # the record has no place for an approval.
    assert got[:9] == (ts, actor, subject, privilege, "grant", None, scope, role_id, False)
    record = json.loads(PANTHER_AZURE.read_text(encoding="utf-8").splitlines()[line - 1])
    assert datetime.fromisoformat(record["time"].replace("0000000Z", "+00:00")) == ts


@pytest.fixture(scope="module")
def findings(loaded: tuple[Path, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    db = loaded[0]
    cli("run", "--db", str(db))
    return list(cli("findings", "--db", str(db), "--format", "json"))


def _ids(db: Path, *lines: int) -> list[list[str]]:
    rows = _rows(db)
    return [[rows[n][9]] for n in lines]


def test_admin_grant_fires_on_owner_and_on_elevated_access_only(
        loaded: tuple[Path, list[dict[str, Any]]], findings: list[dict[str, Any]]) -> None:
    admin = sorted((f for f in findings if f["rule_id"] == "admin_grant"),
                   key=lambda f: f["evidence"])
    expected = sorted(zip(_ids(loaded[0], 1, 4), [
        (EVIDENCE_CALLER, EXPECTED[1][2]),
        ("attacker@example.com", "attacker@example.com")], strict=True))
    # Reader and Storage Blob Data Owner are not administrator roles.
    assert [(f["evidence"], (f["actor"], f["account"])) for f in admin] == expected


def test_self_grant_fires_on_the_elevation_only(
        loaded: tuple[Path, list[dict[str, Any]]], findings: list[dict[str, Any]]) -> None:
    selfish = [f for f in findings if f["rule_id"] == "self_grant"]
    assert [(f["evidence"], f["actor"]) for f in selfish] == [
        (_ids(loaded[0], 4)[0], "attacker@example.com")]


def test_grant_without_approval_stays_quiet(findings: list[dict[str, Any]]) -> None:
    # Azure Activity cannot carry an approval: its silence is not a missing one.
    assert [f for f in findings if f["rule_id"] == "grant_without_approval"] == []
    assert {f["rule_id"] for f in findings} == {"admin_grant", "self_grant"}


def test_a_saved_rest_page_reads_like_its_records(tmp_path: Path) -> None:
    # The Activity log REST API (and Microsoft Graph) answer with a page: the records in
    # `value`, beside paging keys. Saved as returned, it reads as the records themselves.
    records = [json.loads(x) for x in PANTHER_AZURE.read_text(encoding="utf-8").splitlines()]
    page = tmp_path / "activity_page.json"
    page.write_text(json.dumps({"value": records, "nextLink": "https://management.azure.com/"
                                "subscriptions/s/providers/Microsoft.Insights/eventtypes/"
                                "management/values?$skiptoken=x"}), encoding="utf-8")
    db = tmp_path / "d.duckdb"
    (entry,) = cli("ingest", str(page), "--db", str(db), "--format", "json")
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (4, 4, 0)
    got = {n: row[:4] for n, row in _rows(db).items()}
    assert got == {n: e[:3] + (e[3],) for n, e in EXPECTED.items()}


def test_an_object_with_a_value_list_and_other_keys_is_no_page(tmp_path: Path) -> None:
    # Only paging keys may sit beside `value`: anything else makes it a record of its own.
    other = tmp_path / "one.json"
    other.write_text(json.dumps({"kind": "inventory", "value": [{"time": "x"}]}),
                     encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(other), "--db", str(tmp_path / "d.duckdb")])
    assert result.exit_code != 0
    assert "cannot tell which kind" in result.output + str(result.exception)
