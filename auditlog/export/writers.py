"""Output formats as a name → function registry. A writer puts an export's tables into
a directory and says which files it wrote with how many rows of which table; the
manifest adds sizes and digests. Writers keep the rows in the total order they arrive
in and write nothing of "now", so the same tables give the same bytes."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import polars as pl
import pyarrow.parquet as pq

from auditlog.errors import UsageError
from auditlog.export.model import ExportData
from auditlog.export.ocsf import write_ocsf
from auditlog.export.safety import safe_cell_text
from auditlog.export.workbook import write_workbook
from auditlog.values import json_value

# (file name, {table: rows}) of each file a writer wrote.
Written = list[tuple[str, dict[str, int]]]
Writer = Callable[[ExportData, Path], Written]

WORKBOOK = "auditlog-export.xlsx"
CSV_LINE_END = "\r\n"


def write_csv_rows(handle: TextIO, frame: pl.DataFrame) -> None:
    """A header and the frame's rows, every cell made safe for spreadsheets. Lines end in
    CRLF (RFC 4180), which also makes the writer quote a cell holding a lone CR."""
    writer = csv.writer(handle, lineterminator=CSV_LINE_END)
    writer.writerow(frame.columns)
    writer.writerows([safe_cell_text(v) for v in row] for row in frame.iter_rows())


def write_csv_file(path: Path, frame: pl.DataFrame) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_csv_rows(handle, frame)


def write_csv(data: ExportData, out_dir: Path) -> Written:
    for name, frame in data.tables.items():
        write_csv_file(out_dir / f"{name}.csv", frame)
    return [(f"{name}.csv", {name: rows}) for name, rows in data.rows().items()]


def write_json(data: ExportData, out_dir: Path) -> Written:
    for name in data.tables:
        records = [{k: json_value(v) for k, v in row.items()} for row in data.records(name)]
        text = json.dumps(records, indent=2, ensure_ascii=False)
        (out_dir / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    return [(f"{name}.json", {name: rows}) for name, rows in data.rows().items()]


def write_ndjson(data: ExportData, out_dir: Path) -> Written:
    for name in data.tables:
        with (out_dir / f"{name}.ndjson").open("w", encoding="utf-8", newline="\n") as handle:
            for row in data.records(name):
                record = {k: json_value(v) for k, v in row.items()}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return [(f"{name}.ndjson", {name: rows}) for name, rows in data.rows().items()]


def write_parquet(data: ExportData, out_dir: Path) -> Written:
    # Amounts stay DECIMAL(18,4) and times UTC instants; fixed codec and settings, so the
    # same table gives the same bytes.
    for name, frame in data.tables.items():
        pq.write_table(frame.to_arrow(), out_dir / f"{name}.parquet", compression="zstd",
                       compression_level=3, use_dictionary=True, write_statistics=True,
                       version="2.6", data_page_version="1.0", store_schema=True)
    return [(f"{name}.parquet", {name: rows}) for name, rows in data.rows().items()]


def write_xlsx(data: ExportData, out_dir: Path) -> Written:
    write_workbook(out_dir / WORKBOOK, data.tables, data.document_time)
    return [(WORKBOOK, data.rows())]


# The formats that write one file per table, `<table>.<format>`: an export can write
# (and tell its progress) table by table. The others write one file of all tables.
PER_TABLE = frozenset({"csv", "json", "ndjson", "parquet"})

WRITERS: dict[str, Writer] = {
    "csv": write_csv,
    "json": write_json,
    "ndjson": write_ndjson,
    "parquet": write_parquet,
    "xlsx": write_xlsx,
    "ocsf": write_ocsf,
}


def writer_for(name: str) -> Writer:
    try:
        return WRITERS[name]
    except KeyError:
        raise UsageError(f"unknown format '{name}'; use one of: "
                         f"{', '.join(sorted(WRITERS))}") from None
