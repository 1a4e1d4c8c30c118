"""Contract section 3: bad rows are quarantined, nothing is lost, reloads change nothing,
unreadable files fail cleanly and leave the database as it was."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from auditlog.cli.common import flag
from auditlog.errors import InputError, UsageError
from auditlog.ingest import ingest_paths
from tests.conftest import snapshot, write_rows

GOOD = {"charge_id": "ok-1", "ts": "2026-09-01T10:00:00Z", "account": "C1", "product": "P",
        "amount": "4.99"}


def _bad(**changes: object) -> dict[str, object]:
    row = {**GOOD, **changes}
    return {k: v for k, v in row.items() if v is not None}


BAD_ROWS = [
    (_bad(charge_id="b1", account=None), "missing required field account"),
    (_bad(charge_id="b2", account=""), "missing required field account"),
    (_bad(charge_id="b3", ts="yesterday"), "unparseable timestamp in ts"),
    (_bad(charge_id="b4", ts="2026-02-30T10:00:00Z"), "unparseable timestamp in ts"),
    (_bad(charge_id="b5", amount="4,99"), "invalid amount in amount"),
    (_bad(charge_id="b6", amount="-4.99"), "negative amount in amount: -4.99 (a refund is"),
    (_bad(charge_id="b7", amount="4.99999"), "invalid amount in amount"),
    (_bad(charge_id="b8", amount="abc"), "invalid amount in amount"),
    (_bad(charge_id="b9", type="gift"), "unknown value gift for type"),
    (_bad(charge_id="b10", currency="euro"), "invalid currency"),
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "parquet"])
def test_bad_rows_are_quarantined_with_position_and_reason(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    rows = [GOOD] + [row for row, _ in BAD_ROWS]
    if fmt == "parquet":  # one schema for all rows
        columns = list(dict.fromkeys(k for r in rows for k in r))
        rows = [{c: r.get(c) for c in columns} for r in rows]
    path = write_rows(tmp_path / f"x.{fmt}", rows)
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (11, 1, 10)
    stored = con.execute(
        "SELECT row_number, reason, raw FROM quarantine ORDER BY row_number").fetchall()
    for position, ((row_number, reason, raw), (row, expected)) in enumerate(
            zip(stored, BAD_ROWS, strict=True), start=2):
        assert row_number == position
        assert expected in reason
        assert str(row["charge_id"]) in raw


@pytest.mark.parametrize(("text", "stored"), [
    ("95", Decimal(95)), ("95.", Decimal(95)), ("95.0000", Decimal(95)),
    (".5", Decimal("0.5")), ("+.50", Decimal("0.5")), ("0.1234", Decimal("0.1234")),
    (".", None), ("95.00001", None), ("1e2", None), ("", None)])
def test_amount_forms(tmp_path: Path, con: duckdb.DuckDBPyConnection, text: str,
                      stored: Decimal | None) -> None:
    # A decimal with up to 4 fractional digits, either side of the point optional but
    # not both; anything else is quarantined, never rounded.
    path = write_rows(tmp_path / "x.csv", [_bad(amount=text)])
    (result,) = ingest_paths(con, [path], kind="charges")
    assert con.execute("SELECT amount FROM charges").fetchall() == (
        [(stored,)] if stored is not None else [])
    assert result.quarantined == (stored is None)


def test_one_row_with_several_problems_names_them_all(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "x.jsonl", [_bad(account=None, amount="x", ts="never")])
    ingest_paths(con, [path], kind="charges")
    (reason,) = con.execute("SELECT reason FROM quarantine").fetchone()  # type: ignore[misc]
    assert "account" in reason and "amount" in reason and "ts" in reason


def test_unreadable_json_lines_are_quarantined(tmp_path: Path,
                                               con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"ts":"2026-09-01T00:00:00Z","actor":"a","action":"x","system":"s"}\n'
                    '{"ts": broken\n'
                    '["an", "array"]\n'
                    '"a string"\n')
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (4, 1, 3)
    assert con.execute("SELECT location, reason FROM quarantine ORDER BY location").fetchall() == [
        ("line 2", "not valid JSON"), ("line 3", "not a JSON object"),
        ("line 4", "not a JSON object")]


@pytest.mark.parametrize("wrapper", [None, "Records"])
def test_json_array_members_are_located_as_elements(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, wrapper: str | None
) -> None:
    good = {"ts": "2026-09-01T00:00:00Z", "actor": "a", "action": "x", "system": "s"}
    path = tmp_path / "x.json"
    rows = [good, 7, {**good, "ts": "never"}]
    path.write_text(json.dumps({wrapper: rows} if wrapper else rows, indent=2))
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 1, 2)
    assert con.execute("SELECT location, reason FROM quarantine ORDER BY location").fetchall() == [
        ("element 2", "not a JSON object"), ("element 3", "unparseable timestamp in ts: never")]


@pytest.mark.parametrize("wrapper", [None, "records"])
def test_a_json_element_with_a_lone_surrogate_is_quarantined_not_the_file(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, wrapper: str | None
) -> None:
    # Python's json module takes "\ud800" (half of a UTF-16 pair); DuckDB's JSON does
    # not. The element is bad JSON to the reading that follows, the rest still loads.
    good = '{"ts": "2026-09-01T00:00:00Z", "actor": "a", "action": "x", "system": "s"}'
    lone = good.replace('"x"', '"x\\ud800"')
    other = good.replace('"actor": "a"', '"actor": "b"')
    array = f"[{good}, {lone}, {other}]"
    path = tmp_path / "x.json"
    path.write_text(f'{{"{wrapper}": {array}}}' if wrapper else array)
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 2, 1)
    assert con.execute("SELECT location, reason FROM quarantine").fetchall() == [
        ("element 2", "not valid JSON")]


def test_malformed_csv_records_are_quarantined_with_their_line(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "charge_id,ts,account,product,amount\n"
        "c1,2026-09-01T00:00:00Z,A,P,1.00\n"
        "c2,2026-09-01T00:00:00Z,A,P,1.00,surplus\n"
        'c3,2026-09-01T00:00:00Z,"multi\nline account",P,1.00\n'
        "c4,2026-09-01T00:00:00Z\n"
    )
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (4, 2, 2)
    assert con.execute("SELECT account FROM charges ORDER BY 1").fetchall() == [
        ("A",), ("multi\nline account",)]
    reasons = con.execute("SELECT location, reason FROM quarantine ORDER BY 1").fetchall()
    # located by the file's line, as an editor shows it: record 2 is line 3, and record 4
    # line 6, after record 3's quoted field spanning lines 4-5
    assert [loc for loc, _ in reasons] == ["line 3", "line 6"]
    assert [raw for (raw,) in con.execute("SELECT raw FROM quarantine ORDER BY location")
            .fetchall()] == [
        "c2,2026-09-01T00:00:00Z,A,P,1.00,surplus", "c4,2026-09-01T00:00:00Z"]
    assert con.execute("SELECT charge_id, _row FROM charges ORDER BY 1").fetchall() == [
        ("c1", 1), ("c3", 3)]
    assert all(r.startswith("malformed CSV record") for _, r in reasons)


def test_a_quote_never_closed_is_quarantined_with_the_text_it_swallowed(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # The record's raw text was "(the CSV text ending at line 4)": the record it
    # swallowed (c3) was nowhere to be seen.
    path = tmp_path / "x.csv"
    path.write_text(
        "charge_id,ts,account,product,amount\n"
        "c1,2026-09-01T00:00:00Z,A,P,1.00\n"
        'c2,2026-09-01T00:00:00Z,"A,P,1.00\n'
        "c3,2026-09-01T00:00:00Z,B,P,2.00\n"
    )
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (2, 1, 1)
    assert con.execute("SELECT reason, raw FROM quarantine").fetchall() == [(
        ("malformed CSV record: a quoted field is never closed (the file ends inside it: "
         "every line from its record on is this record)"),
        'c2,2026-09-01T00:00:00Z,"A,P,1.00\nc3,2026-09-01T00:00:00Z,B,P,2.00')]


def test_duplicates_and_conflicts(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    first = write_rows(tmp_path / "a.jsonl", [GOOD, {**GOOD, "charge_id": "ok-2"}])
    ingest_paths(con, [first])
    second = write_rows(tmp_path / "b.csv", [
        GOOD,                                  # same id, same content: duplicate
        {**GOOD, "charge_id": "ok-2", "amount": "5.99"},  # same id, other content: conflict
        {**GOOD, "charge_id": "new"},          # new row
        {**GOOD, "charge_id": "new"},          # repeated inside the file: duplicate
        {**GOOD, "charge_id": "new", "account": "C9"},  # conflict inside the file
    ])
    (result,) = ingest_paths(con, [second])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (5, 1, 2, 2)
    # the stored version is kept, the conflicting one is in quarantine with its reason
    assert con.execute("SELECT amount FROM charges WHERE charge_id = 'ok-2'").fetchone() == (Decimal("4.99"),)
    reasons = [r for (r,) in con.execute(
        "SELECT reason FROM quarantine ORDER BY row_number").fetchall()]
    # Placed as the quarantine places a row of that format: a JSON Lines file's line.
    assert "already loaded from" in reasons[0] and "a.jsonl line 2" in reasons[0]
    assert "appears at line 4 of this file" in reasons[1]  # record 3, after the header


@pytest.mark.parametrize(("name", "said"), [
    ("stored.csv", "stored.csv record 2"), ("stored.tsv.gz", "stored.tsv.gz record 2"),
    ("stored.json", "stored.json element 2"), ("stored.parquet", "stored.parquet row 2")])
def test_a_conflict_names_the_stored_row_as_its_format_places_it(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, name: str, said: str) -> None:
    # Before: "already loaded from stored.csv row 2", where the rest of the output says
    # "record" (or "line") of a CSV file and "element" of a JSON one.
    stored = write_rows(tmp_path / name, [GOOD, {**GOOD, "charge_id": "ok-2"}])
    ingest_paths(con, [stored])
    ingest_paths(con, [write_rows(tmp_path / "again.jsonl",
                                  [{**GOOD, "charge_id": "ok-2", "amount": "5.99"}])])
    (reason,) = con.execute("SELECT reason FROM quarantine").fetchone()  # type: ignore[misc]
    assert reason == (f"conflict: charge_id ok-2 is already loaded from {tmp_path / said} "
                      "with different content")


def test_rows_without_event_id_get_a_stable_content_hash(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    row = {"ts": "2026-09-01T10:00:00Z", "actor": "op", "action": "login", "system": "crm"}
    ingest_paths(con, [write_rows(tmp_path / "a.jsonl", [row])])
    # the same event exported by another system in another format is the same event
    (result,) = ingest_paths(con, [write_rows(tmp_path / "b.csv",
                                              [{**row, "ts": "2026-09-01T12:00:00+02:00"}])])
    assert (result.loaded, result.duplicates) == (0, 1)
    (event_id,) = con.execute("SELECT event_id FROM actions").fetchone()  # type: ignore[misc]
    assert event_id.startswith("auto-")


def test_reloading_changes_nothing(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "x.csv", [GOOD] + [row for row, _ in BAD_ROWS])
    (first,) = ingest_paths(con, [path])
    before = snapshot(con)
    (again,) = ingest_paths(con, [path])
    assert snapshot(con) == before
    assert (again.rows_read, again.loaded, again.duplicates, again.quarantined) == (
        first.rows_read, 0, first.loaded, first.quarantined)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv", "parquet"])
def test_conservation_on_every_format(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                      fmt: str) -> None:
    rows = [GOOD, GOOD, {**GOOD, "charge_id": "x", "amount": "1"}, _bad(charge_id="y", ts="?")]
    (result,) = ingest_paths(con, [write_rows(tmp_path / f"x.{fmt}", rows)])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read == 4


# --- files that cannot be read leave the database as it was -----------------------

def _truncated_gzip(path: Path) -> Path:
    data = gzip.compress(("".join(
        f'{{"ts":"2026-09-01T00:00:00Z","actor":"a{i}","action":"x","system":"s"}}\n'
        for i in range(20000))).encode(), mtime=0)
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("trunc.jsonl.gz", None, "the gzip stream is truncated"),
        ("latin1.csv", "account\nCafé\n".encode("latin-1"), "not valid UTF-8"),
        ("latin1.jsonl", '{"account": "Café"}\n'.encode("latin-1"), "not valid UTF-8"),
        # UTF-16 without a byte order mark (a Windows export) was "not valid UTF-8", or
        # for CSV "its header is not UTF-8 text (c\x00h\x00a\x00...)".
        ("utf16.csv", "account,team\nC1,ops\n".encode("utf-16-le"),
         "the text is UTF-16LE without a byte order mark"),
        ("utf16.jsonl", '{"account": "C1"}\n'.encode("utf-16-be"),
         "the text is UTF-16BE without a byte order mark"),
        ("fake.parquet", b"charge_id,ts\n1,2\n", "the file is not a Parquet file"),
        ("fake.json", b"<html>not json</html>", "cannot read as json"),
        ("plain.csv.gz", b"account\nC1\n", "named .gz but is not gzip-compressed"),
        ("empty.jsonl.gz", b"", "the file is empty, without even a gzip header"),
        ("joined.csv.gz", gzip.compress(b"account\nC1\n", mtime=0) + b"appended",
         "after its gzip stream the file goes on with bytes that are not gzip"),
    ],
)
def test_unreadable_file_fails_and_changes_nothing(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, name: str, content: bytes | None,
        message: str) -> None:
    ingest_paths(con, [write_rows(tmp_path / "good.jsonl", [GOOD])])
    before = snapshot(con)
    path = tmp_path / name
    if content is None:
        _truncated_gzip(path)
    else:
        path.write_bytes(content)
    # the good file loads first in the same call, and must be rolled back too
    other = write_rows(tmp_path / "a_other.jsonl", [{**GOOD, "charge_id": "other"}])
    with pytest.raises(InputError) as failure:
        ingest_paths(con, [other, path], kind="charges" if "csv" in name else None)
    assert name in str(failure.value) and message in str(failure.value)
    assert snapshot(con) == before


def test_strict_fails_on_any_quarantined_row_and_loads_nothing(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "x.jsonl", [GOOD, _bad(charge_id="b", amount="x")])
    before = snapshot(con)
    with pytest.raises(InputError) as info:
        ingest_paths(con, [path], strict=True)
    assert "--strict" in info.value.worded(flag)  # the CLI's flag for the argument strict
    assert snapshot(con) == before
    (result,) = ingest_paths(con, [write_rows(tmp_path / "ok.jsonl", [GOOD])], strict=True)
    assert result.loaded == 1


def test_usage_errors(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "x.jsonl", [GOOD])
    with pytest.raises(UsageError, match="unknown time zone"):
        ingest_paths(con, [path], tz="Mars/Olympus")
    with pytest.raises(UsageError, match="unknown kind"):
        ingest_paths(con, [path], kind="invoices")
    with pytest.raises(InputError, match="no such file"):
        ingest_paths(con, [tmp_path / "missing.csv"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        ingest_paths(con, [tmp_path / "notes.txt"])


def test_same_rows_from_another_format_are_duplicates_not_conflicts(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    rows = [{**GOOD, "invoice": 17, "region": "north"},
            {**GOOD, "charge_id": "ok-2", "invoice": 18}]
    ingest_paths(con, [write_rows(tmp_path / "a.jsonl", rows)])
    reordered = [{"region": r.get("region"), "invoice": str(r["invoice"]), **GOOD,
                  "charge_id": r["charge_id"]} for r in rows]
    (result,) = ingest_paths(con, [write_rows(tmp_path / "b.csv", reordered)])
    assert (result.duplicates, result.quarantined) == (2, 0)


def test_a_line_over_the_reader_limit_does_not_refuse_the_file(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    # DuckDB's line reader refuses a whole file for one line over its limit; such a file
    # goes to the salvage reader, which reads every line (a shrunken limit stands in for
    # the 64 MiB one, to keep the file small).
    from auditlog.ingest import files, salvage

    salvaged: list[object] = []
    original = salvage.stage_json_lines
    monkeypatch.setattr(files, "MAX_LINE_BYTES", 200)
    monkeypatch.setattr(files, "CHUNK", 64)  # the profile reads chunks below the limit
    monkeypatch.setattr(salvage, "stage_json_lines",
                        lambda con, source: salvaged.append(source) or original(con, source))
    rows = [{**GOOD, "charge_id": "short"}, {**GOOD, "charge_id": "long", "note": "x" * 500}]
    path = write_rows(tmp_path / "x.jsonl", rows)
    (result,) = ingest_paths(con, [path])
    assert len(salvaged) == 1
    assert (result.rows_read, result.loaded, result.quarantined) == (2, 2, 0)
    assert con.execute("SELECT length(extra->>'note') FROM charges WHERE charge_id = 'long'"
                       ).fetchone() == (500,)


@pytest.mark.parametrize(("data", "clean"), [
    (b'{"a":1}\n{"a":2}\n', True),
    (b'{"a":1}\r\n{"a":2}\r\n', True),  # CRLF throughout: DuckDB reads it
    (b'{"a":1}\r\n{"a":2}\n', False),  # mixed endings
    (b'{"a":1}\n{"a":\r2}\n', False),  # a lone CR
    (b'{"a":"\xff"}\n', False),
    (b'{"a":"\x00"}\n', False),
    (b'\xef\xbb\xbf{"a":1}\n', False),
    (b"  \n", False),  # blank: no rows, whatever a sniffer makes of it
])
def test_the_byte_profile_sends_what_duckdb_refuses_to_the_salvage_reader(
        tmp_path: Path, data: bytes, clean: bool) -> None:
    from auditlog.ingest.files import classify, fingerprint

    path = tmp_path / "x.jsonl"
    path.write_bytes(data)
    source = classify(path)
    assert source is not None
    assert fingerprint(source).text is not None
    assert fingerprint(source).text.clean is clean  # type: ignore[union-attr]


@pytest.mark.parametrize("tail", [
    "",  # DuckDB's reader: the file is JSON values one after another
    '{"charge_id": "x", "charge_id": "y"}\n',  # a repeated key among them
])
def test_json_lines_joined_without_a_line_break_are_read_as_consecutive_records(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, tail: str) -> None:
    # Two files joined where the first ends without a line break, or Kinesis Firehose's
    # records written back to back: every value of the file is a record, none merged.
    a, b, c = (json.dumps({**GOOD, "charge_id": f"ok-{n}"}) for n in (1, 2, 3))
    path = tmp_path / "joined.jsonl"
    path.write_text(f"{a}{b}\n{c}\n{tail}")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded) == (3 + bool(tail), 3)
    assert con.execute("SELECT charge_id FROM charges ORDER BY charge_id").fetchall() == [
        ("ok-1",), ("ok-2",), ("ok-3",)]


def test_json_lines_joined_in_a_damaged_file_are_quarantined_saying_so(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A NUL byte sends the file to the salvage reader, line by line: the joined line is
    # quarantined, not merged into one row nor lost, with a reason that says what it is.
    a, b, c = (json.dumps({**GOOD, "charge_id": f"ok-{n}"}) for n in (1, 2, 3))
    path = tmp_path / "joined.jsonl"
    path.write_text(f"{a}{b}\n{c}\n\x00\n")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read - 1, result.loaded) == (2, 1)
    assert con.execute("SELECT charge_id FROM charges").fetchall() == [("ok-3",)]
    assert con.execute("SELECT location, reason, raw FROM quarantine ORDER BY row_number"
                       ).fetchall()[0] == (
        "line 1", (f"not one JSON object but 2 written one after another, the second from "
        f"column {len(a) + 1} (files joined where one ends without a line break?); put each "
        "on a line of its own"), a + b)
