"""Writing rows to files: the formats, time styles and the per-format file layout.

Every writer streams (rows arrive a day at a time) and is byte-deterministic: gzip
members carry mtime 0 and no file name, JSON is written with fixed key order and
separators, Parquet with a fixed schema and row-group size.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from auditlog.world.clock import Period
from auditlog.world.records import AMOUNT_COLUMNS, COLUMNS, TIME_COLUMNS, WRITTEN_KINDS

FileFormat = Literal["jsonl", "jsonl.gz", "csv", "tsv", "json", "json_records", "parquet"]
# How instants are written: ISO 8601 UTC with Z, naive local wall time of the billing
# zone, local time with its explicit offset, epoch milliseconds, or a native timestamp.
TimeStyle = Literal["iso_utc", "local_naive", "local_offset", "epoch_ms", "native"]

FORMATS = ("mixed", "jsonl", "csv", "parquet", "json")

_EXTENSIONS: dict[str, str] = {
    "jsonl": "jsonl",
    "csv": "csv",
    "parquet": "parquet",
    "json": "json",
}
_DIRECTORIES = {
    "actions": "order_platform",
    "charges": "billing",
    "privileges": "iam",
    "changes": "changes",
    "accounts": "directory",
}


@dataclass(frozen=True)
class FileSpec:
    """One output file: where, which kind, how it is encoded, and its `--tz`."""

    path: str  # relative to the output directory, POSIX separators
    kind: str
    format: FileFormat
    time_style: TimeStyle
    tz: str  # the zone a reader must assume for naive times ("UTC" when there are none)


def layout(formats: str, billing_tz: str) -> dict[str, FileSpec]:
    """The file of each kind for a `formats` choice (see sample_logs/README.md)."""
    if formats == "mixed":
        return {
            "actions": FileSpec(
                "order_platform/actions.jsonl.gz", "actions", "jsonl.gz", "iso_utc", "UTC"
            ),
            "charges": FileSpec("billing/charges.csv", "charges", "csv", "local_naive", billing_tz),
            "privileges": FileSpec(
                "iam/privileges.json", "privileges", "json_records", "epoch_ms", "UTC"
            ),
            "changes": FileSpec(
                "changes/changes.parquet", "changes", "parquet", "local_offset", "UTC"
            ),
            "accounts": FileSpec("directory/accounts.tsv", "accounts", "tsv", "iso_utc", "UTC"),
        }
    extension = _EXTENSIONS[formats]
    style: TimeStyle = "native" if formats == "parquet" else "iso_utc"
    return {
        kind: FileSpec(
            f"{_DIRECTORIES[kind]}/{kind}.{extension}",
            kind,
            formats,  # type: ignore[arg-type]  # the plain formats are FileFormats
            style,
            "UTC",
        )
        for kind in WRITTEN_KINDS
    }


def corrections_spec(billing_tz: str) -> FileSpec:
    """The small file of hand-made billing corrections, with its deliberately broken rows."""
    return FileSpec("billing/charges_corrections.csv", "charges", "csv", "local_naive", billing_tz)


class Sink(Protocol):
    rows: int

    def write(self, rows: Iterable[Sequence[Any]]) -> None: ...

    def close(self) -> None: ...


def open_sink(out_dir: Path, spec: FileSpec, period: Period) -> Sink:
    """A streaming writer for `spec`; rows are value tuples in records.COLUMNS order."""
    path = out_dir / spec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = COLUMNS[spec.kind]
    if spec.format == "parquet":
        return _ParquetSink(path, spec.kind, columns, spec.time_style, period)
    encode = _encoder(columns, spec.time_style, period)
    if spec.format in ("jsonl", "jsonl.gz"):
        return _JsonLinesSink(path, columns, encode, compress=spec.format == "jsonl.gz")
    if spec.format in ("csv", "tsv"):
        return CsvSink(path, columns, encode, delimiter="\t" if spec.format == "tsv" else ",")
    wrapper = "Records" if spec.format == "json_records" else None
    return _JsonArraySink(path, columns, encode, wrapper)


Encoder = Callable[[Sequence[Any]], list[Any]]


def _encoder(columns: Sequence[str], style: TimeStyle, period: Period) -> Encoder:
    """Turns internal values (epoch seconds, Decimals) into what a text file holds."""
    to_text: Callable[[int], Any] = {
        "iso_utc": period.iso_utc,
        "local_naive": period.local_naive,
        "local_offset": period.local_offset,
        "epoch_ms": lambda ts: ts * 1000,
    }[style]
    time_at = [i for i, c in enumerate(columns) if c in TIME_COLUMNS]
    amount_at = [i for i, c in enumerate(columns) if c in AMOUNT_COLUMNS]

    def encode(values: Sequence[Any]) -> list[Any]:
        row = list(values)
        for i in time_at:
            if row[i] is not None:
                row[i] = to_text(row[i])
        for i in amount_at:
            if row[i] is not None:
                # Amounts are exact decimal strings, even in JSON: a JSON number would be
                # read as a binary float by most parsers.
                row[i] = str(row[i])
        return row

    return encode


def _open_text(path: Path, compress: bool) -> IO[str]:
    raw = open(path, "wb")  # noqa: SIM115  (closed through the text wrapper)
    if not compress:
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    # No file name and mtime 0 in the gzip header: same rows, same bytes.
    zipped = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
    return io.TextIOWrapper(zipped, encoding="utf-8", newline="")


class _JsonLinesSink:
    """One JSON object per line; missing values are left out, as most exporters do."""

    def __init__(self, path: Path, columns: Sequence[str], encode: Encoder, compress: bool) -> None:
        self._file = _open_text(path, compress)
        self._columns = columns
        self._encode = encode
        self.rows = 0

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        lines = []
        for values in rows:
            obj = {c: v for c, v in zip(self._columns, self._encode(values)) if v is not None}
            lines.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
        if lines:
            self._file.write("\n".join(lines) + "\n")
            self.rows += len(lines)

    def close(self) -> None:
        _close_text(self._file)


class _JsonArraySink:
    """A JSON array, or an object whose `wrapper` member is the array (like CloudTrail)."""

    def __init__(
        self, path: Path, columns: Sequence[str], encode: Encoder, wrapper: str | None
    ) -> None:
        self._file = _open_text(path, compress=False)
        self._columns = columns
        self._encode = encode
        self._wrapper = wrapper
        self._file.write(f'{{"{wrapper}": [' if wrapper else "[")
        self.rows = 0

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        for values in rows:
            obj = dict(zip(self._columns, self._encode(values)))
            self._file.write(
                ("\n" if self.rows == 0 else ",\n")
                + json.dumps(obj, separators=(", ", ": "), ensure_ascii=False)
            )
            self.rows += 1

    def close(self) -> None:
        self._file.write("\n]}\n" if self._wrapper else "\n]\n")
        _close_text(self._file)


class CsvSink:
    """CSV or TSV with a header; a missing value is an empty field."""

    def __init__(self, path: Path, columns: Sequence[str], encode: Encoder, delimiter: str) -> None:
        self._file = _open_text(path, compress=False)
        self._writer = csv.writer(self._file, delimiter=delimiter, lineterminator="\n")
        self._writer.writerow(columns)
        self._encode = encode
        self.rows = 0

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        for values in rows:
            self._writer.writerow(["" if v is None else v for v in self._encode(values)])
            self.rows += 1

    def write_raw(self, fields: Sequence[str]) -> None:
        """A row exactly as given: for the deliberately broken correction rows."""
        self._writer.writerow(fields)
        self.rows += 1

    def close(self) -> None:
        _close_text(self._file)


def _close_text(file: IO[str]) -> None:
    file.flush()
    binary = file.detach()  # type: ignore[attr-defined]
    if isinstance(binary, gzip.GzipFile):
        inner = binary.fileobj
        binary.close()
        if isinstance(inner, io.IOBase):
            inner.close()
    else:
        binary.close()


class _ParquetSink:
    """Parquet with native timestamp and decimal columns, or time strings with offsets."""

    _ROW_GROUP = 65_536

    def __init__(
        self, path: Path, kind: str, columns: Sequence[str], style: TimeStyle, period: Period
    ) -> None:
        self._columns = columns
        self._style = style
        self._period = period
        self._schema = pa.schema([pa.field(c, self._type(c)) for c in columns])
        self._writer = pq.ParquetWriter(path, self._schema, compression="zstd")
        self._pending: list[Sequence[Any]] = []
        self.rows = 0

    def _type(self, column: str) -> pa.DataType:
        if column in TIME_COLUMNS and self._style == "native":
            return pa.timestamp("us", tz="UTC")
        if column in AMOUNT_COLUMNS:
            return pa.decimal128(18, 2)
        return pa.string()

    def _cell(self, column: str, value: Any) -> Any:
        if value is None:
            return None
        if column in TIME_COLUMNS:
            if self._style == "native":
                return value * 1_000_000
            return self._period.local_offset(value)
        if column in AMOUNT_COLUMNS:
            return Decimal(value)
        return value

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        self._pending.extend(rows)
        while len(self._pending) >= self._ROW_GROUP:
            self._write_group(self._pending[: self._ROW_GROUP])
            del self._pending[: self._ROW_GROUP]

    def _write_group(self, rows: list[Sequence[Any]]) -> None:
        arrays = []
        for i, column in enumerate(self._columns):
            cells = [self._cell(column, row[i]) for row in rows]
            field_type = self._schema.field(column).type
            if pa.types.is_timestamp(field_type):
                arrays.append(pa.array(cells, pa.int64()).cast(field_type))
            else:
                arrays.append(pa.array(cells, field_type))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self.rows += len(rows)

    def close(self) -> None:
        if self._pending or self.rows == 0:
            self._write_group(self._pending)
            self._pending = []
        self._writer.close()
