"""Parquet files with little in them: a schema and no rows, no columns at all, columns
typed NULL (all nulls, as pyarrow and Spark write a column never given a value), and a
folder mixing Parquet with CSV. Each loads as the CSV of the same data does."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()

CHARGES = pa.schema([("charge_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                     ("account", pa.string()), ("product", pa.string()),
                     ("amount", pa.decimal128(18, 2))])
HEADER = "charge_id,ts,account,product,amount"


def _ingest(db: Path, *paths: Path, kind: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["ingest", *map(str, paths), "--db", str(db), "--tz", "UTC",
                                 *kind, "--format", "json"])
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return [{k: v for k, v in e.items() if k not in ("path", "sha256")} for e in entries]


def test_a_schema_without_rows_loads_nothing_as_a_header_only_csv_does(tmp_path: Path) -> None:
    parquet = tmp_path / "none.parquet"
    pq.write_table(CHARGES.empty_table(), parquet)
    csv = tmp_path / "none.csv"
    csv.write_text(HEADER + "\n")
    for kind in ((), ("--kind", "charges")):
        expected = _ingest(tmp_path / "c.duckdb", csv, kind=kind)
        assert _ingest(tmp_path / "p.duckdb", parquet, kind=kind) == expected == [
            {"kind": "charges", "rows_read": 0, "loaded": 0, "duplicates": 0,
             "quarantined": 0}]


def test_a_file_of_no_columns_is_empty_not_damaged(tmp_path: Path) -> None:
    parquet = tmp_path / "nothing.parquet"
    pq.write_table(pa.table({}), parquet)
    assert pq.read_metadata(parquet).num_columns == 0
    assert _ingest(tmp_path / "a.duckdb", parquet) == [
        {"kind": "empty", "rows_read": 0, "loaded": 0, "duplicates": 0, "quarantined": 0}]


def test_columns_typed_null_are_missing_values(tmp_path: Path) -> None:
    nulls = pa.array([None, None], pa.null())
    parquet = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({
        "charge_id": ["C1", "C2"], "ts": ["2026-04-01T10:00:00Z"] * 2, "account": ["A", "B"],
        "product": ["P", "P"], "amount": pa.array(["1.00", None]), "refund_of": nulls,
        "note": nulls, "order_id": nulls}), parquet)
    assert pq.read_schema(parquet).field("note").type == pa.null()
    csv = tmp_path / "nulls.csv"
    csv.write_text("charge_id,ts,account,product,amount,refund_of,note,order_id\n"
                   "C1,2026-04-01T10:00:00Z,A,P,1.00,,,\nC2,2026-04-01T10:00:00Z,B,P,,,,\n")
    expected = _ingest(tmp_path / "c.duckdb", csv)
    assert _ingest(tmp_path / "p.duckdb", parquet) == expected == [
        {"kind": "charges", "rows_read": 2, "loaded": 1, "duplicates": 0, "quarantined": 1}]
    stored = []
    for name in ("c", "p"):
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True)
        stored.append(con.execute(
            "SELECT charge_id, refund_of, order_id, extra, (SELECT list(reason) FROM "
            "quarantine) FROM charges").fetchall())
        con.close()
    assert stored[0] == stored[1] == [
        ("C1", None, None, None, ["missing required field amount"])]


def test_a_folder_mixing_parquet_and_csv_loads_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "billing"
    (folder / "2026-04").mkdir(parents=True)
    pq.write_table(pa.table({"charge_id": ["C1"], "ts": ["2026-04-01T10:00:00Z"],
                             "account": ["A"], "product": ["P"], "amount": ["1.00"]}),
                   folder / "2026-04" / "a.parquet")
    (folder / "b.csv").write_text(HEADER + "\nC2,2026-04-01T11:00:00Z,B,P,2.00\n")
    (folder / "c.csv.gz").write_bytes(gzip.compress(
        (HEADER + "\nC3,2026-04-01T12:00:00Z,C,P,3.00\n").encode()))
    pq.write_table(CHARGES.empty_table(), folder / "d.parquet")
    entries = _ingest(tmp_path / "a.duckdb", folder)
    assert [(e["kind"], e["rows_read"], e["loaded"]) for e in entries] == [
        ("charges", 1, 1), ("charges", 1, 1), ("charges", 1, 1), ("charges", 0, 0)]
    con = duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True)
    assert con.execute("SELECT list(charge_id ORDER BY charge_id), sum(amount) "
                       "FROM charges").fetchone() == (["C1", "C2", "C3"], 6)


def test_no_rows_under_columns_of_no_kind_is_an_empty_file(tmp_path: Path) -> None:
    # A file with no row at all is empty whatever its columns; with a row, its columns
    # must still tell its kind.
    parquet = tmp_path / "export.parquet"
    pq.write_table(pa.schema([("foo", pa.string()), ("bar", pa.int64())]).empty_table(),
                   parquet)
    csv = tmp_path / "export.csv"
    csv.write_text("foo,bar\n")
    assert _ingest(tmp_path / "a.duckdb", parquet, csv) == [
        {"kind": "empty", "rows_read": 0, "loaded": 0, "duplicates": 0, "quarantined": 0}] * 2
    csv.write_text("foo,bar\n1,2\n")
    result = runner.invoke(app, ["ingest", str(csv), "--db", str(tmp_path / "b.duckdb")])
    assert type(result.exception).__name__ == "InputError"
    assert "cannot tell which kind of log this is" in str(result.exception)
