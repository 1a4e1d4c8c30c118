"""A quarantined CSV/TSV record is shown as someone fixing the file needs it: at its file
line (the header is line 1, a quoted field may span lines, blank lines count) and with
its text as it was, not the fields re-rendered as JSON."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from auditlog import store
from auditlog.ingest.csv_lines import Placed, agrees, records_with_lines
from auditlog.ingest.files import InputFile
from auditlog.ingest.pipeline import ingest_paths

HEADER = "charge_id,ts,account,product,amount\n"


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = store.connect(tmp_path / "q.duckdb")
    yield connection
    connection.close()


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute("SELECT location, reason, raw FROM quarantine ORDER BY row_number"
                       ).fetchall()


def test_a_record_spanning_lines_is_shown_whole_at_its_lines(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "c1,2026-09-01T00:00:00Z,A,P,1.00\n"
                    '\n'
                    'c2,2026-09-01T00:00:00Z,"two\nlines",P,"12,50"\n'
                    "c3,2026-09-01T00:00:00Z,A,P,2.00\n")
    (result,) = ingest_paths(con, [path])
    assert (result.loaded, result.quarantined) == (2, 1)
    ((location, reason, raw),) = quarantine(con)
    assert location == "lines 4-5" and reason.startswith("invalid amount")
    assert raw == 'c2,2026-09-01T00:00:00Z,"two\nlines",P,"12,50"'


def test_gzipped_tsv_lines_and_control_characters_shown_escaped(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "c.tsv.gz"
    rows = HEADER.replace(",", "\t") + "c1\t2026-09-01T00:00:00Z\tA\tP\t1.00\n" \
        "c2\tnever\tA\x1b[2J\tP\t1.00\n"
    path.write_bytes(gzip.compress(rows.encode(), mtime=0))
    ingest_paths(con, [path])
    ((location, reason, raw),) = quarantine(con)
    assert location == "line 3" and "unparseable timestamp" in reason
    assert raw == "c2\tnever\tA\\x1b[2J\tP\t1.00"


def test_loading_the_same_file_again_quarantines_nothing_twice(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "c1,never,A,P,1.00\n")
    ingest_paths(con, [path])
    ingest_paths(con, [path])
    assert [row[0] for row in quarantine(con)] == ["line 2"]


def test_records_are_counted_as_the_readers_count_them(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "a,1\n\n" + 'b,"x\ny"\n' + "c,3\n")
    found = records_with_lines(InputFile(path, "csv", False), {1, 2, 3})
    assert found == {1: Placed(2, 2, "a,1"), 2: Placed(4, 5, 'b,"x\ny"'),
                     3: Placed(6, 6, "c,3")}
    assert found[2].location == "lines 4-5" and found[3].location == "line 6"


def test_a_record_is_placed_only_when_its_staged_fields_agree() -> None:
    placed = Placed(3, 3, "c2,,P")
    assert agrees('{"id": "c2", "account": null, "product": "P"}', placed, ",")
    assert not agrees('{"id": "c3", "account": null, "product": "P"}', placed, ",")
    assert agrees("c2,,P", placed, ",")  # a malformed record's own text
    assert not agrees(None, placed, ",")
