"""The physical types Parquet writers give the same data (legacy INT96 timestamps as
Spark, Hive and Impala write them, TIMESTAMP(NANOS), naive TIMESTAMP, int64 epoch
milliseconds, DECIMAL(18,2) and DECIMAL(38,10) amounts, dictionary-encoded, large and
unannotated BYTE_ARRAY strings, nulls in every column) load to the rows the CSV of the
same data loads to: same instants, amounts, texts and quarantine reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()

IDS = ["C1", "C2", "C3", "C4"]
ACCOUNTS = ["José", "A-2", "A-3", None]
PRODUCTS = ["ADDON", "ADDON", "BASIC", "ADDON"]
AMOUNTS = [Decimal("9.50"), Decimal("1234567.89"), None, Decimal("0.05")]
ORDERS = [None, "O-2", None, None]
# Wall times (UTC for the zoned cases); row 3 has no time, so is quarantined.
TIMES = [dt.datetime(2026, 4, 1, 10, 0, 0, 123000), dt.datetime(2026, 4, 1, 23, 30),
         None, dt.datetime(2026, 4, 2, 0, 15, 59)]


def _csv_value(value: Any) -> str:
    return "" if value is None else str(value)


def write_csv(path: Path, times: list[str]) -> Path:
    lines = ["charge_id,ts,account,product,amount,order_id"]
    for row in zip(IDS, times, ACCOUNTS, PRODUCTS, AMOUNTS, ORDERS, strict=True):
        lines.append(",".join(_csv_value(v) for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _iso(t: dt.datetime | None, zone: str = "Z") -> str:
    return "" if t is None else t.isoformat(timespec="milliseconds") + zone


DECIMAL_18_2 = pa.decimal128(18, 2)


def _table(ts: pa.Array, amount: pa.DataType = DECIMAL_18_2,
           strings: str = "plain") -> pa.Table:
    def text(values: list[str | None]) -> pa.Array:
        if strings == "large":
            return pa.array(values, pa.large_string())
        if strings == "dictionary":
            return pa.array(values, pa.string()).dictionary_encode()
        if strings == "binary":  # BYTE_ARRAY without the UTF8 annotation
            return pa.array([None if v is None else v.encode() for v in values], pa.binary())
        return pa.array(values, pa.string())

    return pa.table({"charge_id": text(IDS), "ts": ts, "account": text(ACCOUNTS),
                     "product": text(PRODUCTS), "amount": pa.array(AMOUNTS, amount),
                     "order_id": text(ORDERS)})


UTC_NS = pa.array(TIMES, pa.timestamp("ns", tz="UTC"))
MILLIS = pa.array([None if t is None else int(t.replace(tzinfo=dt.UTC).timestamp() * 1000)
                   for t in TIMES], pa.int64())

# (name, table, pyarrow writer options, the CSV's timestamps)
CASES = [
    ("int96", _table(UTC_NS), {"use_deprecated_int96_timestamps": True},
     [_iso(t) for t in TIMES]),
    ("nanos", _table(UTC_NS, pa.decimal128(38, 10)), {}, [_iso(t) for t in TIMES]),
    ("naive", _table(pa.array(TIMES, pa.timestamp("us"))), {},
     [_iso(t, "") for t in TIMES]),
    ("naive_nanos", _table(pa.array(TIMES, pa.timestamp("ns"))), {"version": "2.6"},
     [_iso(t, "") for t in TIMES]),
    ("epoch_millis", _table(MILLIS), {}, [_csv_value(v) for v in MILLIS.to_pylist()]),
    ("dictionary", _table(pa.array(TIMES, pa.timestamp("ms", tz="UTC")), strings="dictionary"),
     {"use_dictionary": True}, [_iso(t) for t in TIMES]),
    ("large_string", _table(UTC_NS, strings="large"), {}, [_iso(t) for t in TIMES]),
    ("binary_strings", _table(UTC_NS, pa.decimal128(38, 10), strings="binary"), {},
     [_iso(t) for t in TIMES]),
]


def _load(path: Path, db: Path, tz: tuple[str, ...] = ("--tz", "Europe/Berlin"),
          ) -> tuple[list[tuple[Any, ...]], list[str], str]:
    # By default in a zone that is not UTC: only naive times may be read in it.
    result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--kind", "charges",
                                 *tz, "--format", "json"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT charge_id, epoch_us(ts), account, product, CAST(amount AS VARCHAR), "
        "order_id, CAST(extra AS VARCHAR) FROM charges ORDER BY charge_id").fetchall()
    reasons = [r for (r,) in con.execute(
        "SELECT reason FROM quarantine ORDER BY row_number").fetchall()]
    con.close()
    return rows, reasons, result.stderr


@pytest.mark.parametrize(("name", "table", "options", "times"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_parquet_type_loads_as_the_csv_of_its_data(
        tmp_path: Path, name: str, table: pa.Table, options: dict[str, Any],
        times: list[str]) -> None:
    parquet = tmp_path / f"{name}.parquet"
    pq.write_table(table, parquet, **options)
    expected = _load(write_csv(tmp_path / f"{name}.csv", times), tmp_path / "csv.duckdb")
    rows, reasons, _ = _load(parquet, tmp_path / "parquet.duckdb")
    assert rows == expected[0]
    assert reasons == expected[1] == ["missing required field ts; missing required field amount",
                                      "missing required field account"]
    assert len(rows) == 2


def test_int96_holds_instants_and_is_not_announced_as_naive(tmp_path: Path) -> None:
    parquet = tmp_path / "spark.parquet"
    pq.write_table(_table(UTC_NS), parquet, use_deprecated_int96_timestamps=True)
    rows, _, stderr = _load(parquet, tmp_path / "a.duckdb", tz=())
    assert [(charge, us) for charge, us, *_ in rows] == [
        ("C1", 1775037600123000), ("C2", 1775086200000000)]
    assert stderr == ""
    # A naive TIMESTAMP column is naive: announced when no --tz is given.
    pq.write_table(_table(pa.array(TIMES, pa.timestamp("us"))), tmp_path / "naive.parquet")
    *_, stderr = _load(tmp_path / "naive.parquet", tmp_path / "b.duckdb", tz=())
    assert "3 timestamp(s) in " in stderr and "carry no offset" in stderr


REAL = Path(__file__).parent / "data" / "parquet_testing"


def _mapped(tmp_path: Path, sample: str, columns: dict[str, str],
            tz: str) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
    mapping = tmp_path / "map.toml"
    mapping.write_text('kind = "actions"\n[columns]\n' + "".join(
        f'{source} = "{target}"\n' for source, target in columns.items())
        + '[constants]\nsystem = "lake"\n' + ('action = "export"\n'
                                             if "action" not in columns.values() else ""),
        encoding="utf-8")
    if "actor" not in columns.values():
        mapping.write_text(mapping.read_text() + 'actor = "spark"\n', encoding="utf-8")
    db = tmp_path / f"{sample}-{tz.replace('/', '_')}.duckdb"
    result = runner.invoke(app, ["ingest", str(REAL / sample), "--db", str(db), "--mapping",
                                 str(mapping), "--tz", tz, "--format", "json"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT epoch_us(ts), actor, action FROM actions ORDER BY _row"
                       ).fetchall()
    quarantined = con.execute(
        "SELECT row_number, reason FROM quarantine ORDER BY row_number").fetchall()
    con.close()
    return rows, quarantined


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_spark_int96_past_2262_loads_its_instants(tmp_path: Path, tz: str) -> None:
    # Spark's own file (apache/parquet-testing): DuckDB refused it whole, as damaged,
    # for its dates past 2262; every instant is the one Spark wrote, in any zone.
    rows, quarantined = _mapped(tmp_path, "int96_from_spark.parquet", {"a": "ts"}, tz)
    assert [us for us, *_ in rows][:4] == [
        1704141296123456, 1704070800000000, 253402225200000000, 1735599600000000]
    assert (5, "missing required field ts") in quarantined
    assert len(rows) + len(quarantined) == 6


def test_impala_strings_and_int96_times_load_as_text_and_instants(tmp_path: Path) -> None:
    rows, quarantined = _mapped(
        tmp_path, "alltypes_plain.parquet",
        {"timestamp_col": "ts", "string_col": "actor", "date_string_col": "action"},
        "Asia/Tokyo")
    assert quarantined == []
    assert rows[:2] == [(1235865600000000, "0", "03/01/09"), (1235865660000000, "1", "03/01/09")]
    assert len(rows) == 8


def test_columns_named_as_the_readers_own_names_load(tmp_path: Path) -> None:
    # `file_row_number` is the name of DuckDB's row number (which it refused to add
    # beside a column so named: a database error), the others the staging's own.
    parquet = tmp_path / "names.parquet"
    pq.write_table(pa.table({
        "charge_id": ["C1", "C2", "C3"], "ts": ["2026-04-01T10:00:00Z", "never", None],
        "account": ["A", "B", "C"], "product": ["P"] * 3, "amount": ["1.00"] * 3,
        "file_row_number": ["x", "y", "z"], "_row": ["r"] * 3, "c0": ["q"] * 3,
        "": ["unnamed"] * 3}), parquet)
    csv = tmp_path / "names.csv"
    csv.write_text("charge_id,ts,account,product,amount,file_row_number,_row,c0,\n"
                   "C1,2026-04-01T10:00:00Z,A,P,1.00,x,r,q,unnamed\n"
                   "C2,never,B,P,1.00,y,r,q,unnamed\nC3,,C,P,1.00,z,r,q,unnamed\n")
    for lazy in ((), ("--mapping", str(_charges_mapping(tmp_path)))):
        stored = []
        for path in (parquet, csv):
            db = tmp_path / f"{path.suffix[1:]}{len(lazy)}.duckdb"
            result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--kind",
                                         "charges", *lazy, "--format", "json"])
            assert result.exit_code == 0, result.output
            con = duckdb.connect(str(db), read_only=True)
            stored.append((
                con.execute("SELECT charge_id, _row, extra FROM charges").fetchall(),
                con.execute("SELECT row_number, reason FROM quarantine ORDER BY 1").fetchall()))
            con.close()
        assert stored[0] == stored[1]
        assert stored[0][0] == [("C1", 1, ('{"file_row_number":"x","_row":"r","c0":"q",'
                                          '"":"unnamed"}'))]
        assert [n for n, _ in stored[0][1]] == [2, 3]


def _charges_mapping(tmp_path: Path) -> Path:
    """A mapping that renames nothing: the path that stages a table, not a view."""
    mapping = tmp_path / "charges.toml"
    mapping.write_text('kind = "charges"\n[defaults]\ncurrency = "EUR"\n', encoding="utf-8")
    return mapping
