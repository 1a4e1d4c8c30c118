"""A number written in a log keeps its written value, whatever the format: JSON Lines,
a JSON array, a JSON object's `records` array and a CSV cell holding the same text load
the same value, or are all quarantined (auditlog/ingest/numbers.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from auditlog.ingest import ingest_paths

# A row as JSON member texts: a string is its JSON literal, a number its written digits.
Row = dict[str, str]
FORMATS = ["jsonl", "json", "records", "csv"]


def _charge(charge_id: str, amount: str, **more: str) -> Row:
    return {"charge_id": charge_id, "ts": '"2026-09-01T10:00:00Z"', "account": '"C1"',
            "product": '"P"', "amount": amount, **more}


def _write(tmp_path: Path, fmt: str, rows: list[Row]) -> Path:
    """`rows` in `fmt`, every value exactly as given (no JSON library rewrites a number)."""
    objects = ["{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in row.items()) + "}"
               for row in rows]
    if fmt == "jsonl":
        text = "\n".join(objects) + "\n"
    elif fmt == "json":
        text = "[\n" + ",\n".join(objects) + "\n]"
    elif fmt == "records":
        text = '{"records": [\n' + ",\n".join(objects) + "\n]}"
    else:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        text = "\n".join(",".join(line) for line in [columns, *cells]) + "\n"
    path = tmp_path / f"x.{'json' if fmt == 'records' else fmt}"
    path.write_text(text)
    return path


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    cell = json.loads(value) if value.startswith('"') else value
    return f'"{cell}"' if "," in cell else cell


AMOUNTS = [
    ("95", Decimal(95)), ("95.50", Decimal("95.5")), ("0.1234", Decimal("0.1234")),
    ("95.00000", Decimal(95)),
    # more than 4 fractional digits, though the nearest double is 9.99
    ("9.990000000000001", None),
    # 17 significant digits: the double would keep 3 of the 8 fractional digits
    ("12345678901234.12345678", None),
    ("95.00001", None),
    # exponents are quarantined in every format (README, "Amounts")
    ("1e2", None), ("1E2", None), ("1.5e+1", None), ("950e-1", None),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_amount_is_read_as_written_in_every_format(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    rows = [_charge(f'"c{i}"', text) for i, (text, _) in enumerate(AMOUNTS)]
    (result,) = ingest_paths(con, [_write(tmp_path, fmt, rows)], kind="charges")
    stored = dict(con.execute("SELECT charge_id, amount FROM charges").fetchall())
    assert stored == {f"c{i}": amount for i, (_, amount) in enumerate(AMOUNTS)
                      if amount is not None}
    reasons = dict(con.execute("SELECT row_number, reason FROM quarantine").fetchall())
    expected = {i + 1: text for i, (text, amount) in enumerate(AMOUNTS) if amount is None}
    assert sorted(reasons) == sorted(expected)
    for row, text in expected.items():
        assert reasons[row].startswith(f"invalid amount in amount: {text} (")
    assert result.quarantined == len(expected)


@pytest.mark.parametrize("fmt", ["json", "records"])
def test_a_quarantined_json_element_keeps_its_written_text(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    ingest_paths(con, [_write(tmp_path, fmt, [_charge('"c1"', "1e2")])], kind="charges")
    (raw,) = con.execute("SELECT raw FROM quarantine").fetchone()  # type: ignore[misc]
    assert '"amount": 1e2' in raw


# Ids written as JSON numbers: beyond 2^53 (where a double loses digits), beyond uint64
# (where DuckDB holds the text), with a fraction (where a double forgets zeros), and
# -0 (which DuckDB gives back as 0).
IDS = ["12345678901234567891", "12345678901234567892", "9007199254740993",
       "9007199254740992", "123456789012345678901234567891",
       "123456789012345678901234567892", "1.50", "1.5", "0", "-0"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_ids_written_as_numbers_keep_every_digit(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    charges = [_charge(i, '"4.99"', order_id=i, account=i) for i in IDS]
    refunds = [_charge(f'"r-{i}"', '"4.99"', type='"refund"', refund_of=i) for i in IDS]
    (result,) = ingest_paths(con, [_write(tmp_path, fmt, charges + refunds)], kind="charges")
    assert (result.loaded, result.quarantined) == (2 * len(IDS), 0)
    assert sorted(con.execute(
        "SELECT charge_id, order_id, account FROM charges WHERE type = 'one_time'"
    ).fetchall()) == sorted((i, i, i) for i in IDS)
    # every refund points at its own charge
    assert sorted(con.execute(
        "SELECT r.charge_id, c.charge_id FROM charges r JOIN charges c "
        "ON r.refund_of = c.charge_id").fetchall()) == sorted((f"r-{i}", i) for i in IDS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_event_ids_written_as_numbers_stay_apart(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    rows = [{"event_id": i, "ts": '"2026-09-01T10:00:00Z"', "actor": '"op"',
             "action": '"login"', "system": '"crm"'} for i in IDS]
    (result,) = ingest_paths(con, [_write(tmp_path, fmt, rows)], kind="actions")
    assert (result.loaded, result.duplicates, result.quarantined) == (len(IDS), 0, 0)
    assert sorted(r for (r,) in con.execute("SELECT event_id FROM actions").fetchall()) == \
        sorted(IDS)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "records"])
def test_a_json_row_and_its_csv_export_are_the_same_rows(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    rows = [_charge(i, "4.50", order_id=i) for i in IDS]
    (first,) = ingest_paths(con, [_write(tmp_path, fmt, rows)], kind="charges")
    (again,) = ingest_paths(con, [_write(tmp_path, "csv", rows)], kind="charges")
    assert (first.loaded, again.duplicates, again.quarantined) == (len(IDS), len(IDS), 0)


EPOCHS = [
    ("1788000000", datetime(2026, 8, 29, 10, 40, tzinfo=UTC)),
    ("1788000000.5", datetime(2026, 8, 29, 10, 40, 0, 500000, tzinfo=UTC)),
    ("1788000000.250", datetime(2026, 8, 29, 10, 40, 0, 250000, tzinfo=UTC)),
    ("1788000000123", datetime(2026, 8, 29, 10, 40, 0, 123000, tzinfo=UTC)),
    ("1788000000123.5", datetime(2026, 8, 29, 10, 40, 0, 123500, tzinfo=UTC)),
    ("1788000000.123456", datetime(2026, 8, 29, 10, 40, 0, 123456, tzinfo=UTC)),
    ("1.788e9", None),  # an exponent, as in a CSV cell
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_epoch_numbers_are_instants_in_every_format(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    rows = [{**_charge(f'"c{i}"', '"1"'), "ts": text} for i, (text, _) in enumerate(EPOCHS)]
    ingest_paths(con, [_write(tmp_path, fmt, rows)], kind="charges")
    assert dict(con.execute("SELECT charge_id, ts FROM charges").fetchall()) == {
        f"c{i}": ts for i, (_, ts) in enumerate(EPOCHS) if ts is not None}
    assert con.execute("SELECT reason FROM quarantine").fetchall() == [
        ("unparseable timestamp in ts: 1.788e9",)]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_key_repeated_in_a_nested_object(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    rows = [
        # another value nested: the top-level number is the one whose double it is
        _charge('"a"', "9.50", meta='{"amount": 1.25}'),
        _charge('"b"', "1.5", meta='{"amount": "1e2"}', note='"amount: 2.5, x"'),
        # the same value nested: which digits the top level wrote cannot be told
        _charge('"c"', "9.5", meta='{"amount": 9.50}'),
        # a key spelled with an escape is the same key (`ESCAPED` below)
        {k: v for k, v in _charge('"d"', "1e2").items() if k != "amount"} | {"ESCAPED": "1e2"},
    ]
    path = _write(tmp_path, fmt, rows)
    path.write_text(path.read_text().replace('"ESCAPED"', '"\\u0061mount"'))
    (result,) = ingest_paths(con, [path], kind="charges")
    assert dict(con.execute("SELECT charge_id, amount FROM charges").fetchall()) == {
        "a": Decimal("9.5"), "b": Decimal("1.5")}
    reasons = [r for (r,) in con.execute(
        "SELECT reason FROM quarantine ORDER BY row_number").fetchall()]
    assert reasons[0] == ("amount: cannot tell which digits were written, the key is "
                          "repeated in a nested object (write the value as a JSON string)")
    assert reasons[1].startswith("invalid amount in amount: 1e2 (")
    assert result.quarantined == 2


def test_a_parquet_double_amount_is_read_by_its_shortest_decimal(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A double has no written digits; its shortest decimal text stands for it, as
    # `repr` shows it: 9.99 is 9.99, 0.1 + 0.2 is 0.30000000000000004 (quarantined).
    path = tmp_path / "x.parquet"
    pl.DataFrame({"charge_id": ["a", "b", "c"], "ts": ["2026-09-01T10:00:00Z"] * 3,
                  "account": ["C1"] * 3, "product": ["P"] * 3,
                  "amount": [9.99, 0.1 + 0.2, 95.0]}).write_parquet(path)
    (result,) = ingest_paths(con, [path], kind="charges")
    assert dict(con.execute("SELECT charge_id, amount FROM charges").fetchall()) == {
        "a": Decimal("9.99"), "c": Decimal(95)}
    reason = ("invalid amount in amount: 0.30000000000000004 (expected a positive decimal "
              "with at most 4 fractional digits)")
    assert con.execute("SELECT reason FROM quarantine").fetchall() == [(reason,)]
    assert result.quarantined == 1


# Every wrapper a .json file's rows may come in (readers._stage_json): a number in it
# keeps its written digits as in a top-level array. A wrapper holding such a number is
# cut into its elements by the salvage reader, which must find the same array.
WRAPPERS = {
    "Records": '{{"Records": {}}}',
    "records": '{{"records": {}}}',
    "events": '{{"events": {}}}',
    "value": '{{"value": {}, "@odata.nextLink": "https://example.invalid/next"}}',
    "items": '{{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": {}}}',
    # JSON members are unordered: an EventList whose `kind` follows its `items`
    "items, kind after": '{{"items": {}, "kind": "EventList", "apiVersion": "audit.k8s.io/v1"}}',
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
def test_numbers_in_every_json_wrapper_are_read_as_written(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, wrapper: str) -> None:
    rows = [_charge(f'"c{i}"', text) for i, (text, _) in enumerate(AMOUNTS)]
    rows += [_charge(f'"id{i}"', '"4.99"', order_id=i) for i in IDS]
    objects = ["{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in row.items()) + "}"
               for row in rows]
    path = tmp_path / "x.json"
    path.write_text(WRAPPERS[wrapper].format("[\n" + ",\n".join(objects) + "\n]"))
    (result,) = ingest_paths(con, [path], kind="charges")
    expected = {i + 1: text for i, (text, amount) in enumerate(AMOUNTS) if amount is None}
    assert (result.rows_read, result.quarantined) == (len(rows), len(expected))
    stored = dict(con.execute("SELECT charge_id, amount FROM charges").fetchall())
    assert {k: v for k, v in stored.items() if k.startswith("c")} == {
        f"c{i}": amount for i, (_, amount) in enumerate(AMOUNTS) if amount is not None}
    assert sorted(o for (o,) in con.execute(
        "SELECT order_id FROM charges WHERE order_id IS NOT NULL").fetchall()) == sorted(IDS)
    reasons = dict(con.execute("SELECT row_number, reason FROM quarantine").fetchall())
    assert sorted(reasons) == sorted(expected)
    for row, text in expected.items():
        assert reasons[row].startswith(f"invalid amount in amount: {text} (")
