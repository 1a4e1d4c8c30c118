"""The kind of a file is detected from its columns; ambiguity is an error naming them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.cli.common import flag
from auditlog.errors import InputError
from auditlog.ingest import ingest_paths
from tests.conftest import write_rows

runner = CliRunner()

EXAMPLES = {
    "actions": {"ts": "2026-09-01T00:00:00Z", "actor": "op", "action": "login",
                "system": "crm", "target_account": "C1"},
    "privileges": {"ts": "2026-09-01T00:00:00Z", "actor": "admin", "subject": "svc",
                   "privilege": "orders:write", "operation": "grant", "ticket": "T-1"},
    "changes": {"change_id": "CHG-1", "system": "orders", "implementer": "dev",
                "started_at": "2026-09-01T00:00:00Z", "status": "success"},
    "charges": {"charge_id": "ch-1", "ts": "2026-09-01T00:00:00Z", "account": "C1",
                "product": "P", "amount": "1.00"},
    "accounts": {"account": "op", "display_name": "Op Erator", "team": "counter",
                 "account_type": "human"},
}


@pytest.mark.parametrize("kind", EXAMPLES)
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_each_kind_is_detected(tmp_path: Path, con: duckdb.DuckDBPyConnection, kind: str,
                               fmt: str) -> None:
    (result,) = ingest_paths(con, [write_rows(tmp_path / f"x.{fmt}", [EXAMPLES[kind]])])
    assert (result.kind, result.loaded) == (kind, 1)


def test_ambiguous_columns_name_the_kinds_that_matched(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    row = {**EXAMPLES["actions"], **EXAMPLES["privileges"]}
    path = write_rows(tmp_path / "both.jsonl", [row])
    with pytest.raises(InputError) as info:
        ingest_paths(con, [path])
    # The library names the argument (kind); the CLI its flag, as asserted.
    assert re.search("ambiguous kind.*actions and privileges.*--kind", info.value.worded(flag))
    (result,) = ingest_paths(con, [path], kind="privileges")
    assert (result.kind, result.loaded) == ("privileges", 1)


def test_unknown_columns_say_what_to_do(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "x.csv", [{"foo": "1", "bar": "2"}])
    with pytest.raises(InputError) as info:
        ingest_paths(con, [path])
    assert re.search("x.csv.*cannot tell which kind.*--kind", info.value.worded(flag))


def test_named_kind_quarantines_rows_missing_its_columns(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "x.jsonl", [EXAMPLES["accounts"]])
    (result,) = ingest_paths(con, [path], kind="charges")
    assert (result.loaded, result.quarantined) == (0, 1)


@pytest.mark.parametrize(("name", "text"), [
    ("empty.jsonl", ""), ("blank.ndjson", "\n  \n\n"), ("records.json", '{"Records": []}'),
    ("array.json", "[]"),
])
def test_a_file_without_rows_loads_nothing_and_needs_no_kind(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, name: str, text: str
) -> None:
    # An export of a quiet day: nothing to detect a kind from, and nothing is lost.
    empty = tmp_path / name
    empty.write_text(text)
    rows = write_rows(tmp_path / "a.jsonl", [{"ts": "2026-09-01T00:00:00Z", "actor": "a",
                                              "action": "x", "system": "s"}])
    first, second = sorted(ingest_paths(con, [empty, rows]), key=lambda r: r.path != str(empty))
    assert (first.kind, first.rows_read, first.loaded, first.quarantined) == ("empty", 0, 0, 0)
    assert (second.kind, second.loaded) == ("actions", 1)


@pytest.mark.parametrize("kind", EXAMPLES)
@pytest.mark.parametrize(("fmt", "name"), [("jsonl", "x.log"), ("csv", "x.txt"),
                                           ("tsv", "export"), ("parquet", "part-0000"),
                                           ("jsonl.gz", "x.log.gz")])
def test_each_kind_is_detected_whatever_the_file_is_named(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, kind: str, fmt: str, name: str) -> None:
    # The format is told by the content (files.identify), the kind by the columns.
    written = write_rows(tmp_path / f"x.{fmt}", [EXAMPLES[kind]])
    (result,) = ingest_paths(con, [written.rename(tmp_path / name)])
    assert (result.kind, result.loaded) == (kind, 1)


# A billing export under its own names: no kind's required columns, but each of charges'
# under a name exports commonly give it.
EXPORT = {"id": "inv-1", "Created At": "2026-09-01T00:00:00Z", "customer_id": "C1",
          "sku": "ADDON", "amount": "4.99", "currency": "EUR"}


def test_columns_under_other_names_get_the_mapping_that_reads_them(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "export.csv", [EXPORT])
    with pytest.raises(InputError) as info:
        ingest_paths(con, [path])
    said = info.value.worded(flag)
    assert "they look like charges under other names" in said and "--kind" in said
    columns = re.search(r"\[columns\] says (.*) reads it", said)
    assert columns is not None
    db = str(tmp_path / "a.duckdb")
    # What it says is a mapping file's [columns] that loads the file as it is.
    mapping = tmp_path / "export.toml"
    mapping.write_text("[columns]\n" + columns.group(1).replace(", ", "\n") + "\n",
                       encoding="utf-8")
    loaded = runner.invoke(app, ["ingest", str(path), "--mapping", str(mapping), "--db", db,
                                 "--format", "json"])
    assert loaded.exit_code == 0, loaded.output
    (report,) = json.loads(loaded.stdout)
    assert (report["kind"], report["loaded"]) == ("charges", 1)


def test_a_named_kind_whose_columns_are_absent_says_so_and_what_may_hold_them(
        tmp_path: Path) -> None:
    path = write_rows(tmp_path / "export.csv", [EXPORT, {**EXPORT, "id": "inv-2"}])
    result = runner.invoke(app, ["ingest", str(path), "--kind", "charges",
                                 "--db", str(tmp_path / "a.duckdb"), "--format", "json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert (report["loaded"], report["quarantined"]) == (0, 2)  # the contract: quarantined
    said = result.stderr.replace("\n", " ")
    assert ("export.csv has no column named charge_id, ts, account or product (required "
            "for charges), so each of its rows was quarantined; a mapping file whose "
            '[columns] says "id" = "charge_id", "Created At" = "ts", "customer_id" = '
            '"account", "sku" = "product" reads them') in said


def test_a_charges_export_missing_columns_is_not_taken_for_the_accounts_directory(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Its `account` column is all the accounts directory requires, but charge_id and
    # amount are charges' columns: loading it as accounts would file customers as
    # operator accounts and leave the charges unjudged.
    path = write_rows(tmp_path / "x.csv", [{"charge_id": "ch-1", "account": "C1",
                                            "amount": "1.00", "when": "2026-09-01"}])
    with pytest.raises(InputError) as info:
        ingest_paths(con, [path])
    worded = info.value.worded(flag)
    assert "required columns of accounts (account) but more of those of charges" in worded
    assert "which needs ts and product too" in worded and "--kind" in worded
    (result,) = ingest_paths(con, [write_rows(tmp_path / "a.csv", [EXAMPLES["accounts"]])])
    assert result.kind == "accounts"  # a directory is still one


def test_a_csv_whose_only_record_has_too_many_fields_is_no_empty_file(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # The reader sets such a record aside until the rows are checked: the file still
    # holds a row, so its columns must name a kind (it would be listed as empty, its row
    # neither loaded nor quarantined).
    path = tmp_path / "x.csv"
    path.write_text("foo,bar\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot tell which kind"):
        ingest_paths(con, [path])
    (result,) = ingest_paths(con, [path], kind="charges")
    assert (result.rows_read, result.quarantined) == (1, 1)
