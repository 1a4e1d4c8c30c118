"""A number read through a mapping file keeps its written digits, as in a native file
(README, "Numbers are read as written"; auditlog/ingest/numbers.py): at a nested path,
in a whole or renamed column, a column the mapping keeps, inside JSON held as text, at
an array index, and in minor units. Rows are written as text, so no JSON library
rewrites a number before the ingest reads it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from auditlog import store
from auditlog.ingest import ingest_paths

STRIPE_LIKE = """
kind = "charges"
[fields]
charge_id = "id"
ts = "created"
amount = "data.object.amount"
account = "data.object.customer"
order_id = "data.object.order"
product = "data.object.desc"
"""


def _ingest(tmp_path: Path, name: str, text: str, mapping: str
            ) -> tuple[duckdb.DuckDBPyConnection, int, int]:
    data = tmp_path / name
    data.write_text(text, encoding="utf-8")
    toml = tmp_path / "m.toml"
    toml.write_text(mapping, encoding="utf-8")
    con = store.connect(tmp_path / "d.duckdb")
    (result,) = ingest_paths(con, [data], mapping=toml)
    return con, result.loaded, result.quarantined


def _stored(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Decimal, str | None]]:
    return {c: (a, o) for c, a, o in con.execute(
        "SELECT charge_id, amount, order_id FROM charges").fetchall()}


def _reasons(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    return dict(con.execute("SELECT row_number, reason FROM quarantine").fetchall())


def _object(charge_id: str, amount: str, order: str = '"o"') -> str:
    return (f'{{"id": "{charge_id}", "created": 1788000000, "data": {{"object": '
            f'{{"amount": {amount}, "customer": "C1", "order": {order}, "desc": "P"}}}}}}')


AMOUNTS = [("9.50", Decimal("9.5")), ("95", Decimal(95)), ("0.1234", Decimal("0.1234")),
           ("9.990000000000001", None), ("12345678901234.12345678", None),
           ("1e2", None), ("950e-1", None)]


@pytest.mark.parametrize("wrap", ["jsonl", "json"])
def test_an_amount_at_a_nested_path_is_read_as_written(tmp_path: Path, wrap: str) -> None:
    objects = [_object(f"c{i}", text) for i, (text, _) in enumerate(AMOUNTS)]
    text = ("\n".join(objects) + "\n" if wrap == "jsonl"
            else "[" + ",\n".join(objects) + "]")
    con, loaded, quarantined = _ingest(tmp_path, f"x.{wrap}", text, STRIPE_LIKE)
    assert {c: a for c, (a, _) in _stored(con).items()} == {
        f"c{i}": amount for i, (_, amount) in enumerate(AMOUNTS) if amount is not None}
    reasons = _reasons(con)
    expected = {i + 1: text for i, (text, amount) in enumerate(AMOUNTS) if amount is None}
    assert sorted(reasons) == sorted(expected)
    for row, written in expected.items():
        assert reasons[row].startswith(f"invalid amount in amount: {written} (")
    assert (loaded, quarantined) == (len(AMOUNTS) - len(expected), len(expected))


def test_ids_at_nested_paths_and_in_whole_columns_keep_their_digits(tmp_path: Path) -> None:
    ids = ["1.50", "1.5", "-0", "0", "12345678901234567891", "12345678901234567892"]
    lines = [f'{{"id": {i}, "created": 1788000000, "data": {{"object": {{"amount": "4.99", '
             f'"customer": "C1", "order": {i}, "desc": "P"}}}}}}' for i in ids]
    con, loaded, quarantined = _ingest(tmp_path, "x.jsonl", "\n".join(lines) + "\n",
                                       STRIPE_LIKE)
    assert (loaded, quarantined) == (len(ids), 0)
    assert sorted(con.execute("SELECT charge_id, order_id FROM charges").fetchall()) == \
        sorted((i, i) for i in ids)


def test_renamed_and_kept_columns_keep_their_digits(tmp_path: Path) -> None:
    # `Betrag` renamed to amount; `order_id` a column the mapping keeps as it is.
    lines = [
        ('{"id": "a", "at": "2026-09-01T10:00:00Z", "who": "C1", "what": "P", '
        '"Betrag": 9.990000000000001, "order_id": 1.50}'),
        ('{"id": "b", "at": "2026-09-01T10:00:00Z", "who": "C1", "what": "P", '
        '"Betrag": 9.50, "order_id": 1.5}'),
        ('{"id": "c", "at": "2026-09-01T10:00:00Z", "who": "C1", "what": "P", '
        '"Betrag": 1e2, "order_id": 2}'),
    ]
    con, loaded, quarantined = _ingest(tmp_path, "x.jsonl", "\n".join(lines) + "\n", """
kind = "charges"
[columns]
"Betrag" = "amount"
[fields]
charge_id = "id"
ts = "at"
account = "who"
product = "what"
""")
    assert _stored(con) == {"b": (Decimal("9.5"), "1.5")}
    reasons = _reasons(con)
    assert reasons[1].startswith("invalid amount in amount: 9.990000000000001 (")
    assert reasons[3].startswith("invalid amount in amount: 1e2 (")
    assert (loaded, quarantined) == (1, 2)


def test_json_text_and_array_elements_keep_their_digits(tmp_path: Path) -> None:
    # A CSV column holding JSON, read inside; an amount that is an array element.
    data = ("id,at,body\n"
            'a,2026-09-01T10:00:00Z,"{""who"": ""C1"", ""amounts"": [9.990000000000001]}"\n'
            'b,2026-09-01T10:00:00Z,"{""who"": ""C1"", ""amounts"": [1.50, 2]}"\n'
            'c,2026-09-01T10:00:00Z,"{""who"": ""C1"", ""amounts"": [1e2]}"\n')
    con, loaded, quarantined = _ingest(tmp_path, "x.csv", data, """
kind = "charges"
[fields]
charge_id = "id"
ts = "at"
account = "body.who"
amount = "body.amounts[0]"
[constants]
product = "P"
""")
    assert _stored(con) == {"b": (Decimal("1.5"), None)}
    reasons = _reasons(con)
    assert reasons[1].startswith("invalid amount in amount: 9.990000000000001 (")
    assert reasons[3].startswith("invalid amount in amount: 1e2 (")
    assert (loaded, quarantined) == (1, 2)


def test_a_number_repeated_with_the_same_value_cannot_be_told(tmp_path: Path) -> None:
    lines = [
        # the same key nested elsewhere with another value: told apart by its double
        ('{"id": "a", "created": 1788000000, "meta": {"amount": 1.25}, '
        '"data": {"object": {"amount": 9.50, "customer": "C1", "order": "o", "desc": "P"}}}'),
        # with the same value: which digits the path holds cannot be told
        ('{"id": "b", "created": 1788000000, "meta": {"amount": 9.500}, '
        '"data": {"object": {"amount": 9.5, "customer": "C1", "order": "o", "desc": "P"}}}'),
    ]
    con, loaded, quarantined = _ingest(tmp_path, "x.jsonl", "\n".join(lines) + "\n",
                                       STRIPE_LIKE)
    assert _stored(con) == {"a": (Decimal("9.5"), "o")}
    assert _reasons(con) == {2: (
        "amount: cannot tell which digits were written, the same number is repeated "
        "elsewhere in the record (mapping m; write the value as a JSON string)")}
    assert (loaded, quarantined) == (1, 1)


MINOR = """
kind = "charges"
[fields]
charge_id = "id"
ts = "created"
amount = "data.object.amount"
account = "data.object.customer"
product = "data.object.desc"
currency = "data.object.currency"
[minor_units]
amount = "currency"
"""


def test_minor_units_stay_exact_and_fractional_cents_are_quarantined(tmp_path: Path) -> None:
    cents = [("999", Decimal("9.99")), ("100000000000000001", None), ("999.5", None),
             ("999.0", None), ("1e3", None)]
    lines = [f'{{"id": "m{i}", "created": 1788000000, "data": {{"object": {{"amount": {c}, '
             f'"customer": "C1", "desc": "P", "currency": "usd"}}}}}}'
             for i, (c, _) in enumerate(cents)]
    con, loaded, quarantined = _ingest(tmp_path, "x.jsonl", "\n".join(lines) + "\n", MINOR)
    assert {c: a for c, (a, _) in _stored(con).items()} == {"m0": Decimal("9.99")}
    reasons = _reasons(con)
    for row, written in ((3, "999.5"), (4, "999.0"), (5, "1e3")):
        assert reasons[row].startswith(
            f"invalid amount in amount: not a whole number of minor units: {written} (")
    assert (loaded, quarantined) == (1, 4)


def test_trace_records_show_the_numbers_of_the_source_record_as_written(
        tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from auditlog.cli import app

    line = ('{"id": "a", "created": 1788000000, "fee": 1.50, "rate": 1e2, "zero": -0, '
            '"data": {"object": {"amount": 9.50, "customer": "C1", "order": "o", '
            '"desc": "P"}}}\n')
    data = tmp_path / "x.jsonl"
    data.write_text(line, encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(STRIPE_LIKE, encoding="utf-8")
    db = str(tmp_path / "d.duckdb")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(data), "--db", db, "--mapping",
                               str(mapping)]).exit_code == 0
    for output in ("table", "json"):
        result = runner.invoke(app, ["trace", "charge", "a", "--records", "--db", db,
                                     "--format", output])
        assert result.exit_code == 0, result.output
        for written in ('"amount": 9.50', '"fee": 1.50', '"rate": 1e2', '"zero": -0,'):
            assert written in result.stdout
    (entry,) = json.loads(result.stdout)["source_records"]
    assert (entry["record"]["fee"], entry["record"]["rate"]) == (1.5, 100)


def _locale_export(mark: str) -> str:
    return f"""
kind = "charges"
[columns]
Rechnung = "charge_id"
Datum = "ts"
Kunde = "account"
Artikel = "product"
Betrag = "amount"
[constants]
currency = "EUR"
[decimal_mark]
amount = "{mark}"
"""


@pytest.mark.parametrize(("mark", "amounts"), [
    (",", [("4,99", Decimal("4.99")), ("1.234,56", Decimal("1234.56")),
           ("1 234,5", Decimal("1234.5")), ("1\u00a0234\u00a0567", Decimal(1234567)),
           ("4.990", Decimal(4990)), ("12", Decimal(12)),
           ("4.99", None), ("1.23,4", None), ("1,2,3", None)]),
    (".", [("4.99", Decimal("4.99")), ("1,234.56", Decimal("1234.56")),
           ("1'234.5", Decimal("1234.5")), ("4,990", Decimal(4990)),
           ("4,99", None), ("1,23.4", None)])])
def test_a_decimal_mark_reads_a_locale_s_amounts_and_quarantines_the_ambiguous(
        tmp_path: Path, mark: str, amounts: list[tuple[str, Decimal | None]]) -> None:
    # A billing export of a locale that writes a decimal comma (4,99 and 1.234,56), or
    # groups thousands with commas, spaces or apostrophes: read exactly, and a number
    # the mark does not fit ("4.99" of a decimal-comma export: 4.99, or a typo?) is
    # quarantined naming the mark, never read as another number.
    rows = "".join(f'R{i},2026-03-01T10:00:00Z,K1,TV,"{a}"\n' for i, (a, _) in enumerate(amounts))
    con, loaded, quarantined = _ingest(tmp_path, "x.csv", "Rechnung,Datum,Kunde,Artikel,Betrag\n"
                                       + rows, _locale_export(mark))
    assert {c: a for c, (a, _) in _stored(con).items()} == {
        f"R{i}": want for i, (_, want) in enumerate(amounts) if want is not None}
    reasons = _reasons(con)
    for i, (written, want) in enumerate(amounts):
        if want is None:
            assert reasons[i + 1].startswith(
                f"invalid amount in amount: not written with the decimal mark '{mark}': "
                f"{written} (")
    assert (loaded, quarantined) == (sum(w is not None for _, w in amounts),
                                     sum(w is None for _, w in amounts))


def test_a_decimal_mark_other_than_comma_or_point_is_refused(tmp_path: Path) -> None:
    from auditlog.errors import UsageError

    with pytest.raises(UsageError, match="decimal_mark.amount.* must be"):
        _ingest(tmp_path, "x.csv", "Rechnung,Datum,Kunde,Artikel,Betrag\n",
                _locale_export(";"))


def test_an_amount_written_as_another_locale_writes_it_is_quarantined_saying_how_to_read_it(
        tmp_path: Path) -> None:
    # A native charges file has no mapping to say its locale: a decimal comma, grouped
    # thousands or a currency sign in the amount is quarantined, the reason saying what
    # reads it, or where the currency goes.
    path = tmp_path / "charges.csv"
    path.write_text("charge_id,ts,account,product,amount,currency\n"
                    'A1,2026-03-01T10:00:00Z,K1,TV,"4,99",EUR\n'
                    'A2,2026-03-01T10:00:00Z,K1,TV,"1,234.56",USD\n'
                    "A3,2026-03-01T10:00:00Z,K1,TV,$12.00,USD\n"
                    "A4,2026-03-01T10:00:00Z,K1,TV,12.00 USD,USD\n"
                    "A5,2026-03-01T10:00:00Z,K1,TV,twelve,USD\n", encoding="utf-8")
    con = store.connect(tmp_path / "d.duckdb")
    (result,) = ingest_paths(con, [path])
    assert (result.loaded, result.quarantined) == (0, 5)
    comma = "; a decimal comma or grouped thousands are read through a mapping's [decimal_mark]"
    sign = "; the currency goes in the currency column, not the amount)"
    reasons = _reasons(con)
    assert comma in reasons[1] and comma in reasons[2]
    assert reasons[3].endswith(sign) and reasons[4].endswith(sign)
    assert reasons[5] == ("invalid amount in amount: twelve (expected a positive decimal "
                          "with at most 4 fractional digits)")
