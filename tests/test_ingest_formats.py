"""Every input format and time-zone form of the contract loads to the same rows."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from auditlog import store
from auditlog.ingest import ingest_paths
from tests.conftest import table_rows, write_rows

CHARGES = [
    {"charge_id": "ch-1", "ts": "2026-09-01T10:00:00Z", "account": "C1", "product": "ADDON",
     "amount": "4.99", "currency": "EUR", "order_id": "o-1", "invoice_no": "INV-1"},
    {"charge_id": "ch-2", "ts": "2026-09-01T11:30:00Z", "account": "C2", "product": "PLAN-S",
     "amount": "19.9000", "currency": "eur", "type": "recurring", "invoice_no": "INV-2"},
    {"charge_id": "ch-3", "ts": "2026-09-02T00:00:00Z", "account": "C1", "product": "ADDON",
     "amount": "4.99", "type": "refund", "refund_of": "ch-1"},
]

FORMATS = [
    "x.jsonl", "x.jsonl.gz", "x.ndjson", "x.json", "x.json.gz", "x.csv", "x.csv.gz",
    "x.tsv", "x.tsv.gz", "x.parquet",
]


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_loads_the_same_rows(tmp_path: Path, name: str) -> None:
    reference = store.connect(tmp_path / "ref.duckdb")
    ingest_paths(reference, [write_rows(tmp_path / "ref.jsonl", CHARGES)])
    con = store.connect(tmp_path / "t.duckdb")
    (result,) = ingest_paths(con, [write_rows(tmp_path / name, CHARGES)])
    assert (result.kind, result.rows_read, result.loaded, result.quarantined) == (
        "charges", 3, 3, 0)
    assert table_rows(con, "charges") == table_rows(reference, "charges")


@pytest.mark.parametrize("wrapper", ["Records", "records", "events"])
def test_json_object_wrappers(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                              wrapper: str) -> None:
    path = write_rows(tmp_path / "x.json", CHARGES, wrapper=wrapper)
    (result,) = ingest_paths(con, [path])
    assert result.loaded == 3


def test_types_are_exact(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    ingest_paths(con, [write_rows(tmp_path / "x.csv", CHARGES)])
    rows = con.execute(
        "SELECT charge_id, amount, currency, type, extra->>'invoice_no' FROM charges "
        "ORDER BY charge_id").fetchall()
    assert rows == [
        ("ch-1", Decimal("4.9900"), "EUR", "one_time", "INV-1"),  # type defaults to one_time
        ("ch-2", Decimal("19.9000"), "EUR", "recurring", "INV-2"),  # currency upper-cased
        ("ch-3", Decimal("4.9900"), None, "refund", None),
    ]


def test_row_numbers_point_at_the_source(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "x.jsonl"
    lines = [f'{{"charge_id":"c{i}","ts":"2026-09-01T00:00:00Z","account":"A",'
             f'"product":"P","amount":"1"}}' for i in range(3)]
    path.write_text(lines[0] + "\n\n" + lines[1] + "\n   \n" + lines[2] + "\n")
    ingest_paths(con, [path])
    assert con.execute("SELECT charge_id, _row FROM charges ORDER BY 1").fetchall() == [
        ("c0", 1), ("c1", 3), ("c2", 5)]
    (sha,) = con.execute("SELECT DISTINCT _file FROM charges").fetchone()  # type: ignore[misc]
    assert con.execute("SELECT path FROM ingested_files WHERE sha256 = ?", [sha]).fetchone() == (
        str(path),)


def test_column_names_match_case_insensitively(tmp_path: Path,
                                               con: duckdb.DuckDBPyConnection) -> None:
    rows = [{"Charge_ID": "c1", "TS": "2026-09-01T00:00:00Z", "Account": "A",
             "PRODUCT": "P", "Amount": "2.5"}]
    (result,) = ingest_paths(con, [write_rows(tmp_path / "x.csv", rows)])
    assert (result.kind, result.loaded) == ("charges", 1)
    assert con.execute("SELECT amount FROM charges").fetchone() == (Decimal("2.5"),)


def test_extra_columns_are_kept_with_their_json_types(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [{"ts": "2026-09-01T00:00:00Z", "actor": "op", "action": "login", "system": "crm",
             "geo": {"country": "NL", "city": "Delft"}, "risk": 3, "tags": ["a", "b"]}]
    ingest_paths(con, [write_rows(tmp_path / "x.jsonl", rows)])
    (extra,) = con.execute("SELECT extra FROM actions").fetchone()  # type: ignore[misc]
    assert json.loads(extra) == {"geo": {"country": "NL", "city": "Delft"}, "risk": 3,
                                 "tags": ["a", "b"]}


def test_directory_loads_every_log_file_below_it(tmp_path: Path,
                                                 con: duckdb.DuckDBPyConnection) -> None:
    (tmp_path / "logs" / "billing").mkdir(parents=True)
    write_rows(tmp_path / "logs" / "billing" / "a.csv", CHARGES[:2])
    write_rows(tmp_path / "logs" / "b.jsonl.gz", CHARGES[2:])
    (tmp_path / "logs" / "README.md").write_text("not a log")
    results = ingest_paths(con, [tmp_path / "logs"])
    # README.md is passed over; files come in path order, so loads are reproducible
    assert [Path(r.path).name for r in results] == ["b.jsonl.gz", "a.csv"]
    assert sum(r.loaded for r in results) == 3


# --- time-zone forms --------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "tz", "expected"),
    [
        ("2026-09-01T10:00:00Z", "UTC", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-09-01T10:00:00z", "Asia/Tokyo", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-09-01T12:00:00+02:00", "UTC", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-09-01T15:30:00+0530", "UTC", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-09-01 05:00:00-05", "UTC", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-09-01T10:00:00.250Z", "UTC", datetime(2026, 9, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        # naive: read in --tz, daylight saving included
        ("2026-09-01T10:00:00", "UTC", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-09-01 12:00:00", "Europe/Amsterdam", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-12-01 12:00:00", "Europe/Amsterdam", datetime(2026, 12, 1, 11, 0, tzinfo=UTC)),
        ("2026-09-01T19:00:00", "Asia/Seoul", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("2026-09-01T06:00", "America/New_York", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        # epoch: magnitude decides seconds or milliseconds
        ("1788256800", "Asia/Tokyo", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("1788256800000", "Asia/Tokyo", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        ("1788256800.5", "UTC", datetime(2026, 9, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        (1788256800, "UTC", datetime(2026, 9, 1, 10, 0, tzinfo=UTC)),
        (1788256800123, "UTC", datetime(2026, 9, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_timestamp_forms(tmp_path: Path, con: duckdb.DuckDBPyConnection, given: object,
                         tz: str, expected: datetime, fmt: str) -> None:
    if fmt != "jsonl" and not isinstance(given, str):
        given = str(given)
    rows = [{"ts": given, "actor": "op", "action": "login", "system": "crm"}]
    (result,) = ingest_paths(con, [write_rows(tmp_path / f"x.{fmt}", rows)], tz=tz)
    assert result.loaded == 1, con.execute("SELECT reason FROM quarantine").fetchall()
    (ts,) = con.execute("SELECT ts FROM actions").fetchone()  # type: ignore[misc]
    assert ts == expected


def test_parquet_native_timestamps_and_decimals(tmp_path: Path,
                                                con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "native.parquet"
    duckdb.execute(
        f"""COPY (SELECT 'c1' AS charge_id,
                   TIMESTAMPTZ '2026-09-01 12:00:00+02' AS ts, 'A' AS account,
                   'P' AS product, CAST(4.99 AS DECIMAL(18, 6)) AS amount,
                   TIMESTAMP '2026-09-01 12:00:00' AS naive_extra)
            TO '{path}' (FORMAT parquet)"""
    )
    (result,) = ingest_paths(con, [path], tz="Europe/Amsterdam")
    assert result.loaded == 1
    assert con.execute("SELECT ts, amount FROM charges").fetchone() == (
        datetime(2026, 9, 1, 10, 0, tzinfo=UTC), Decimal("4.99"))


# --- CSV as spreadsheets and exporters write it -------------------------------------

HEADER = "charge_id,ts,account,product,amount"
NUL_RECORD = "c-nul,2026-09-01T10:00:00Z,C\x00,P,1\n"


def _csv_both_ways(tmp_path: Path, text: str) -> list[tuple[object, ...]]:
    """Load `text` as a .csv file twice, by DuckDB's reader and, with a NUL byte in one
    more record, by the salvage reader: what each stored and quarantined (that record
    aside). A file must load alike whichever reader its bytes send it to."""
    seen = []
    for name, data in (("fast.csv", text), ("salvaged.csv", text + NUL_RECORD)):
        path = tmp_path / name
        path.write_bytes(data.encode())
        con = store.connect(tmp_path / f"{name}.duckdb")
        ingest_paths(con, [path])
        seen.append((
            con.execute("SELECT charge_id, amount, CAST(extra AS VARCHAR) FROM charges "
                        "ORDER BY 1").fetchall(),
            con.execute("SELECT row_number, location, reason, raw FROM quarantine "
                        "WHERE raw NOT LIKE 'c-nul%' ORDER BY 1").fetchall()))
        con.close()
    assert seen[0] == seen[1]
    return seen[0]


def test_a_header_naming_a_column_twice_keeps_the_names_and_conflicts_stay_apart(
        tmp_path: Path) -> None:
    # DuckDB's reader renamed the second `note` to `note_1` and kept the first `amount`
    # of two, silently.
    text = (f"{HEADER},amount,note,note\n"
            "c1,2026-09-01T10:00:00Z,C1,P,4.99,4.99,a,a\n"
            "c2,2026-09-01T10:00:00Z,C2,P,4.99,,a,\n"
            "c3,2026-09-01T10:00:00Z,C3,P,4.99,5.99,a,a\n"
            "c4,2026-09-01T10:00:00Z,C4,P,4.99,4.99,a,b\n")
    stored, quarantined = _csv_both_ways(tmp_path, text)
    assert stored == [("c1", Decimal("4.99"), '{"note":"a"}'),
                      ("c2", Decimal("4.99"), '{"note":"a"}')]
    assert [(row, where, reason) for row, where, reason, _ in quarantined] == [
        (3, "line 4", "conflicting values for amount under the keys amount, amount"),
        (4, "line 5", ('conflicting values for "note", a column the header names more '
                       "than once (columns 7, 8)")),
    ]
    assert quarantined[1][3] == "c4,2026-09-01T10:00:00Z,C4,P,4.99,4.99,a,b"


def test_header_names_are_trimmed_by_either_reader(tmp_path: Path) -> None:
    # The salvage reader kept " note " in extra where DuckDB's kept "note".
    stored, _ = _csv_both_ways(
        tmp_path, " charge_id , TS ,account,product,amount, note \n"
                  "c1,2026-09-01T10:00:00Z,C1,P,1,x\n")
    assert stored == [("c1", Decimal(1), '{"note":"x"}')]


def test_a_column_without_a_name_is_kept_under_the_empty_name(tmp_path: Path) -> None:
    # (DuckDB's reader calls it column5.)
    stored, _ = _csv_both_ways(tmp_path, f"{HEADER},\nc1,2026-09-01T10:00:00Z,C1,P,1,x\n")
    assert stored == [("c1", Decimal(1), '{"":"x"}')]


def test_a_trailing_delimiter_on_every_record_is_no_field(tmp_path: Path) -> None:
    # The salvage reader refused these records as malformed, DuckDB's took them.
    text = (f"{HEADER}\nc1,2026-09-01T10:00:00Z,C1,P,1,\nc2,2026-09-01T10:00:00Z,C2,P,2,,\n"
            "c3,2026-09-01T10:00:00Z,C3,P,x,\n")
    stored, quarantined = _csv_both_ways(tmp_path, text)
    assert stored == [("c1", Decimal(1), None), ("c2", Decimal(2), None)]
    assert [(where, raw) for _, where, _, raw in quarantined] == [
        ("line 4", "c3,2026-09-01T10:00:00Z,C3,P,x,")]


def test_a_line_of_spaces_is_no_record(tmp_path: Path) -> None:
    # DuckDB's reader rejected "   " as a record of 1 field of 5, four times over in
    # one reason, and numbered the records after it so that none could be placed.
    text = (f"{HEADER}\nc1,2026-09-01T10:00:00Z,C1,P,1\n   \n \t\n"
            "c2,2026-09-01T10:00:00Z,C2,P,x\nc3,2026-09-01T10:00:00Z,C3,P,1\n  \n")
    stored, quarantined = _csv_both_ways(tmp_path, text)
    assert [charge for charge, _, _ in stored] == ["c1", "c3"]
    assert [(row, where, raw) for row, where, _, raw in quarantined] == [
        (2, "line 5", "c2,2026-09-01T10:00:00Z,C2,P,x")]


@pytest.mark.parametrize(("name", "text", "said"), [
    # A spreadsheet in a European locale separates by ';' (its decimal comma in amounts).
    ("semicolons.csv", "charge_id;ts;account;product;amount\nc1;2026-09-01;C1;P;4,99\n",
     ("separated by ';' where a .csv file is separated by ','; export it again "
      "separated by ','")),
    ("tabs.csv", "charge_id\tts\taccount\tproduct\tamount\nc1\t2026-09-01\tC1\tP\t1\n",
     "separated by tabs where a .csv file is separated by ','; name it .tsv"),
    # Excel's hint line, which no other reader takes for what it is.
    ("hinted.csv", f"sep=,\n{HEADER}\nc1,2026-09-01,C1,P,1\n",
     ('its first line, "sep=,", is a spreadsheet\'s hint naming its delimiter, not a '
      "header; remove that line")),
    ("hinted_semicolons.csv", "sep=;\ncharge_id;ts\nc1;2026-09-01\n",
     "remove that line, and export it again separated by ','"),
    ("commas.tsv", f"{HEADER}\nc1,2026-09-01,C1,P,1\n",
     "separated by ',' where a .tsv file is separated by tabs; name it .csv"),
    ("salvaged.csv", ("charge_id;ts;account;product;amount\nc1;2026-09-01;C1;P;1\n"
                      "c2;2026-09-01;C2;P;1\nc3;2026-09-01;C\x00;P;1\n"), "separated by ';'"),
])
def test_a_table_separated_otherwise_than_its_name_says_is_refused_naming_the_delimiter(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, name: str, text: str,
        said: str) -> None:
    from auditlog.errors import InputError
    from tests.conftest import snapshot

    before = snapshot(con)
    path = tmp_path / name
    path.write_bytes(text.encode())
    for kind in (None, "charges"):
        with pytest.raises(InputError) as failure:
            ingest_paths(con, [path], kind=kind)
        assert name in str(failure.value) and said in str(failure.value)
    assert snapshot(con) == before


def test_a_one_column_table_is_not_taken_for_another_delimiter(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("account\nsvc;batch\n")
    (result,) = ingest_paths(con, [path])
    assert (result.kind, result.loaded) == ("accounts", 1)


# --- Exports joined (`cat a.csv b.csv > all.csv`) and paginated ------------------------

BOM = "\ufeff"
MALFORMED_RECORD = "c-bad,2026-09-01T10:00:00Z,C,P\n"  # a field short: DuckDB rejects it


def _joined_every_way(tmp_path: Path, text: str, fmt: str = "csv") -> list[tuple[object, ...]]:
    """Load `text` (comma-separated; written with tabs for tsv) as the lazy fast path
    reads it, as DuckDB's reader stages it as a table (one malformed record more), as
    the salvage reader reads it (a NUL byte in one record more) and gzip-compressed:
    what each counted, said and stored, those extra records aside. All must agree."""
    def written(extra: str) -> bytes:
        data = text + extra
        return (data.replace(",", "\t") if fmt == "tsv" else data).encode()

    variants = [(f"fast.{fmt}", written("")), (f"table.{fmt}", written(MALFORMED_RECORD)),
                (f"salvaged.{fmt}", written(NUL_RECORD)),
                (f"zipped.{fmt}.gz", gzip.compress(written("")))]
    seen = []
    for name, data in variants:
        path = tmp_path / name
        path.write_bytes(data)
        con = store.connect(tmp_path / f"{name}.duckdb")
        (result,) = ingest_paths(con, [path])
        extra = name.startswith(("table", "salvaged"))
        seen.append((
            (result.rows_read - extra, result.loaded, result.quarantined - extra,
             result.repeated_headers, result.first_header_line),
            con.execute("SELECT charge_id, account, _row FROM charges ORDER BY _row").fetchall(),
            con.execute("SELECT row_number, location, reason, raw FROM quarantine WHERE raw "
                        "NOT LIKE 'c-nul%' AND raw NOT LIKE 'c-bad%' ORDER BY 1").fetchall()))
        con.close()
    assert all(other == seen[0] for other in seen[1:]), seen
    return seen[0]


def test_a_header_repeated_by_joined_files_is_no_row(tmp_path: Path) -> None:
    # Before: each repeated header was quarantined as a row of bad values, its raw text
    # keeping b.csv's invisible byte order mark; the first field of b.csv's first record
    # kept it when b.csv had no header (an id starting with U+FEFF).
    a = f"{HEADER}\nc1,2026-09-01T10:00:00Z,C1,P,1\n"
    b = f"{BOM}{HEADER}\nc2,2026-09-01T10:00:00Z,C2,P,2\n"
    page = f" {HEADER.upper().replace(',', ' , ')} \nc3,2026-09-01T10:00:00Z,C3,P,x\n"
    headless = f"{BOM}c4,2026-09-01T10:00:00Z,C4,P,4\n"
    counts, stored, quarantined = _joined_every_way(tmp_path, a + b + page + headless)
    assert counts == (4, 3, 1, 2, 3)  # rows read, loaded, quarantined; headers, first line
    assert stored == [("c1", "C1", 1), ("c2", "C2", 3), ("c4", "C4", 6)]
    assert [(row, where, raw) for row, where, _, raw in quarantined] == [
        (5, "line 6", "c3,2026-09-01T10:00:00Z,C3,P,x")]


def test_repeated_headers_in_a_tsv_file(tmp_path: Path) -> None:
    text = f"{HEADER}\nc1,2026-09-01T10:00:00Z,C1,P,1\n{BOM}{HEADER}\n{HEADER}\n"
    counts, stored, _ = _joined_every_way(tmp_path, text, fmt="tsv")
    assert counts == (1, 1, 0, 2, 3)
    assert stored == [("c1", "C1", 1)]


def test_repeated_headers_are_told_once_per_file(tmp_path: Path) -> None:
    from auditlog.investigation import Investigation
    from auditlog.notices import Notice, RepeatedHeaders

    path = tmp_path / "all.csv"
    path.write_text(f"{HEADER}\nc1,2026-09-01T10:00:00Z,C1,P,1\n{HEADER}\n"
                    f"c2,2026-09-01T10:00:00Z,C2,P,2\n{HEADER}\n")
    told: list[Notice] = []
    Investigation(tmp_path / "t.duckdb", notify=told.append).ingest([path], tz="UTC")
    assert [str(n) for n in told if isinstance(n, RepeatedHeaders)] == [
        (f"2 line(s) of {path} repeat its header, the first at line 3 (files joined with "
        "their headers?): skipped, not counted as rows")]


# --- Timestamps below the microsecond ---------------------------------------------------

ACTION = {"ts": "", "actor": "svc", "action": "subscribe", "system": "orders"}


@pytest.mark.parametrize("name", ["x.jsonl", "x.csv"])
def test_nanoseconds_are_cut_said_and_keep_events_apart(tmp_path: Path, name: str) -> None:
    # Before: stored at microseconds without a word, and two events apart only by their
    # nanoseconds were one event and a duplicate (no id), or a duplicate (the same id).
    rows = [{**ACTION, "event_id": "", "ts": "2026-04-01T10:00:00.123456789Z"},
            {**ACTION, "event_id": "", "ts": "2026-04-01T10:00:00.123456788Z"},
            {**ACTION, "event_id": "e1", "ts": "2026-04-01T12:00:00.0000001+02:00"},
            {**ACTION, "event_id": "e1", "ts": "2026-04-01T10:00:00.00000010Z"},  # the same
            {**ACTION, "event_id": "e1", "ts": "2026-04-01T10:00:00.0000002Z"},  # conflict
            {**ACTION, "event_id": "e2", "ts": "2026-04-01T10:00:00.123456000Z"}]  # no cut
    path = write_rows(tmp_path / name, [{k: v for k, v in r.items() if v} for r in rows])
    con = store.connect(tmp_path / "t.duckdb")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined,
            result.below_microsecond) == (6, 4, 1, 1, 5)
    stored = con.execute("SELECT event_id LIKE 'auto-%', ts FROM actions ORDER BY _row").fetchall()
    us = datetime(2026, 4, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert stored == [(True, us), (True, us), (False, us.replace(microsecond=0)),
                      (False, us)]
    (reason,) = con.execute("SELECT reason FROM quarantine").fetchone()  # type: ignore[misc]
    first = 3 + name.endswith(".csv")  # the header is line 1 of a CSV file
    assert reason.startswith(f"conflict: event_id e1 appears at line {first} of this file")
    (again,) = ingest_paths(con, [path])  # reloading changes nothing
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 5, 1)


def test_parquet_nanosecond_timestamps_are_told_apart_and_said(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from auditlog.investigation import Investigation
    from auditlog.notices import BelowMicrosecond, Notice

    path = tmp_path / "ns.parquet"
    pq.write_table(pa.table({
        "ts": pa.array([1775037600123456789, 1775037600123456788, 1775037600123456000],
                       pa.timestamp("ns", tz="UTC")),
        "actor": ["svc"] * 3, "action": ["subscribe"] * 3, "system": ["orders"] * 3}), path)
    told: list[Notice] = []
    (result,) = Investigation(tmp_path / "t.duckdb", notify=told.append).ingest(
        [path]).iter_rows(named=True)
    assert (result["loaded"], result["duplicates"]) == (3, 0)
    assert [str(n) for n in told if isinstance(n, BelowMicrosecond)] == [
        (f"2 timestamp(s) in {path} carried digits below the microsecond, cut to "
        "microseconds where stored; rows apart only by those digits are still told apart "
        "(not taken for duplicates)")]
