"""The kind of a file is detected from its columns; ambiguity is an error naming them."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from auditlog.cli.common import flag
from auditlog.errors import InputError
from auditlog.ingest import ingest_paths
from tests.conftest import write_rows

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
