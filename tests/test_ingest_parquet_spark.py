"""A folder as Spark writes a partitioned table: Hive partition folders (`dt=2026-04-01/`)
of `part-*.snappy.parquet` files, with the job's bookkeeping beside them (`_SUCCESS`,
`_committed_*`, `_started_*`, `.part-*.crc`, `_temporary/`). The bookkeeping is passed
over and counted, never loaded as empty logs; the partition folders' values are columns
of every row, under their contract name when they have one, kept as spelled."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()


def _part(folder: Path, rows: dict[str, list[str]]) -> Path:
    """A part file as Spark names it, with its Hadoop checksum beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    pq.write_table(pa.table(rows), folder / name, compression="snappy")
    (folder / f".{name}.crc").write_bytes(b"crc\x00\x00\x00\x00\x01\x8a\x1b\x07\x11")
    return folder / name


def _charges(ids: list[str]) -> dict[str, list[str]]:
    return {"charge_id": ids, "ts": ["2026-04-01T10:00:00Z"] * len(ids),
            "product": ["ADDON"] * len(ids), "amount": ["9.50"] * len(ids)}


def spark_table(root: Path) -> list[Path]:
    """Partitioned by system, day and account (with its leading zeros; one null, as Hive
    writes it), in the order discovery lists them."""
    parts = [
        _part(root / "system=billing%3Aeu" / "dt=2026-04-01" / "account=00123",
              _charges(["C1", "C2"])),
        _part(root / "system=billing%3Aeu" / "dt=2026-04-02" / "account=__HIVE_DEFAULT_PARTITION__",
              _charges(["C3"])),
    ]
    (root / "_SUCCESS").write_bytes(b"")
    (root / "._SUCCESS.crc").write_bytes(b"crc\x00\x00\x00\x00\x01")
    (root / "_committed_6217539401839284").write_text('{"added":[],"removed":[]}')
    (root / "_started_6217539401839284").write_bytes(b"")
    temporary = root / "_temporary" / "0" / "_temporary" / "attempt_20260401_0001_m_000000_0"
    temporary.mkdir(parents=True)
    (temporary / "part-00000.snappy.parquet").write_bytes(b"")
    return parts


def test_a_spark_table_loads_its_part_files_and_passes_over_the_bookkeeping(
        tmp_path: Path) -> None:
    root = tmp_path / "charges"
    parts = spark_table(root)
    db = tmp_path / "a.duckdb"
    result = runner.invoke(app, ["ingest", str(root), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(e["path"], e["kind"], e["rows_read"], e["loaded"], e["quarantined"])
            for e in json.loads(result.stdout)] == [
        (str(parts[0]), "charges", 2, 2, 0), (str(parts[1]), "charges", 1, 0, 1)]
    assert result.stderr.splitlines() == [
        (f"note: passed over 7 Spark/Hadoop bookkeeping entries in {root} (job markers, "
        "checksums, temporary output, table metadata; no logs): ._SUCCESS.crc, _SUCCESS, "
        "_committed_6217539401839284, _started_6217539401839284, _temporary/ and 2 more")]


def test_partition_values_are_columns_of_every_row(tmp_path: Path) -> None:
    root = tmp_path / "charges"
    spark_table(root)
    db = tmp_path / "a.duckdb"
    result = runner.invoke(app, ["ingest", str(root), "--db", str(db), "--kind", "charges",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    # `account` and `system` are the contract's: the partition is their value (the
    # account's zeros kept, not a number); `dt` is kept in extra, as spelled.
    assert con.execute(
        "SELECT charge_id, account, system, extra->>'dt' FROM charges ORDER BY 1").fetchall() == [
        ("C1", "00123", "billing:eu", "2026-04-01"), ("C2", "00123", "billing:eu", "2026-04-01")]
    # A null partition is a missing value: the required account is missing.
    assert con.execute("SELECT location, reason FROM quarantine").fetchall() == [
        ("row 1", "missing required field account")]


def test_a_column_the_file_holds_is_not_overruled_by_its_folder(tmp_path: Path) -> None:
    part = _part(tmp_path / "account=FOLDER" / "dt=2026-04-01",
                 {**_charges(["C1"]), "account": ["A1"], "DT": ["2026-03-31"]})
    db = tmp_path / "a.duckdb"
    result = runner.invoke(app, ["ingest", str(part), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT account, extra FROM charges").fetchall() == [
        ("A1", '{"DT":"2026-03-31"}')]


def test_a_folder_of_nothing_but_bookkeeping_has_nothing_to_load(tmp_path: Path) -> None:
    root = tmp_path / "empty_job"
    root.mkdir()
    (root / "_SUCCESS").write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(root), "--db", str(tmp_path / "a.duckdb")])
    assert type(result.exception).__name__ == "InputError"
    assert str(result.exception).startswith(f"no log files found in {root}; ")
    assert str(result.exception).endswith(
        f"(it passed over 1 Spark/Hadoop bookkeeping entry in {root} (job markers, "
        "checksums, temporary output, table metadata; no logs): _SUCCESS)")


def test_an_iceberg_table_loads_its_data_files_not_its_metadata(tmp_path: Path) -> None:
    table = tmp_path / "events"
    part = _part(table / "data" / "ts_day=2026-04-01", {**_charges(["C1"]), "account": ["A1"]})
    (part.parent / f".{part.name}.crc").unlink()
    metadata = table / "metadata"
    metadata.mkdir()
    snapshot = "5d3a1f4e-8c2b-4e6f-9a7d-0b1c2d3e4f50"
    (metadata / "v1.metadata.json").write_text('{"format-version": 2, "table-uuid": "x"}')
    (metadata / f"00001-{snapshot}.metadata.json").write_text('{"format-version": 2}')
    (metadata / "version-hint.text").write_text("1")
    (metadata / f"snap-6179483922190876233-1-{snapshot}.avro").write_bytes(b"Obj\x01\x04")
    (metadata / f"{snapshot}-m0.avro").write_bytes(b"Obj\x01\x04")
    result = runner.invoke(app, ["ingest", str(table), "--db", str(tmp_path / "a.duckdb"),
                                 "--strict", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(e["path"], e["loaded"]) for e in json.loads(result.stdout)] == [(str(part), 1)]
    assert result.stderr.startswith(
        f"note: passed over 5 Spark/Hadoop bookkeeping entries in {table} ")


CSV_HEADER = "charge_id,ts,product,amount"


def test_a_partitioned_csv_table_reads_its_folders_as_text_columns(tmp_path: Path) -> None:
    """Spark writes CSV partitioned as it writes Parquet. DuckDB's CSV reader typed a
    `dt=` folder as a DATE column, which failed the load with a database error; each of
    the CSV readers (the lazy view, the table a malformed record needs, the salvage of
    a file with mixed line endings, the JSON rows of a wide file) gives every record
    the folders' columns as text, and a quarantined record keeps its file line."""
    root = tmp_path / "charges" / "account=00123"
    files = {
        "dt=2026-04-01": f"{CSV_HEADER}\nC1,2026-04-01T10:00:00Z,P,1.00\nC2,x,P,1.00\n",
        "dt=2026-04-02": f"{CSV_HEADER}\nC3,2026-04-02T10:00:00Z,P,1.00\n\"C4,P\n",
        "dt=2026-04-03": f"\ufeff{CSV_HEADER}\r\nC5,2026-04-03T10:00:00Z,P,1.00\n",
        "dt=2026-04-04": ",".join([CSV_HEADER] + [f"x{i}" for i in range(210)]) + "\n"
                         + ",".join(["C6", "2026-04-04T10:00:00Z", "P", "1.00"]
                                    + ["v"] * 210) + "\n",
    }
    for folder, text in files.items():
        (root / folder).mkdir(parents=True)
        (root / folder / "part-00000-5e3c-c000.csv").write_text(text, encoding="utf-8")
    db = tmp_path / "a.duckdb"
    result = runner.invoke(app, ["ingest", str(tmp_path / "charges"), "--db", str(db),
                                 "--kind", "charges", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(e["rows_read"], e["loaded"], e["quarantined"])
            for e in json.loads(result.stdout)] == [(2, 1, 1), (2, 1, 1), (1, 1, 0), (1, 1, 0)]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute(
        "SELECT charge_id, account, extra->>'dt' FROM charges ORDER BY 1").fetchall() == [
        ("C1", "00123", "2026-04-01"), ("C3", "00123", "2026-04-02"),
        ("C5", "00123", "2026-04-03"), ("C6", "00123", "2026-04-04")]
    assert con.execute("SELECT location, raw FROM quarantine ORDER BY raw"
                       ).fetchall() == [("record 2", '"C4,P'), ("line 3", "C2,x,P,1.00")]


def test_orc_and_avro_files_beside_parquet_are_named_for_what_they_are(
        tmp_path: Path) -> None:
    from pyarrow import orc

    table = tmp_path / "table"
    part = _part(table, {**_charges(["C1"]), "account": ["A1"]})
    orc.write_table(pa.table({"charge_id": ["C2"]}), str(table / "part-00001.orc"))
    (table / "part-00002.avro").write_bytes(b"Obj\x01\x04\x14avro.codec\x08null")
    result = runner.invoke(app, ["ingest", str(table), "--db", str(tmp_path / "a.duckdb"),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [e["path"] for e in json.loads(result.stdout)] == [str(part)]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert warnings == [
        f"warning: skipped {table / name}, not in a format auditlog reads: {what}; convert "
        "it to Parquet, CSV or JSON Lines and load that (with --strict this is an error)"
        for name, what in (("part-00001.orc", "an Apache ORC file"),
                           ("part-00002.avro", "an Apache Avro file"))]
