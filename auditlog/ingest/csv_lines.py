"""Where a quarantined CSV/TSV record is in its file, and its text as it was.

The readers number a delimited file's records (record 1 is the first after the header;
a quoted field may span lines; blank lines are no record), and stage each record's
fields, not its text. Someone fixing the file needs its line number and the line itself,
so for the few records a file quarantines this reads the file once more, up to the last
of them, with the same dialect (RFC 4180, `"` quoting and escaping), and keeps each
record's physical lines.

A record is placed only when what was staged for it agrees with what this read finds
(the same fields, or for a malformed record the same text): otherwise it keeps the
readers' `record N` and staged text, never a neighbour's line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass
from typing import IO

import duckdb

from auditlog.ingest.files import InputFile
from auditlog.ingest.salvage import safe_text
from auditlog.ingest.staging import CSV_LINES, HEADERS, TYPED, VERDICT, Staged, drop

DELIMITED = ("csv", "tsv")


@dataclass(frozen=True)
class Placed:
    """A record's first and last line in the file and its text (those lines)."""

    first: int
    last: int
    text: str

    @property
    def location(self) -> str:
        return f"line {self.first}" if self.first == self.last else (
            f"lines {self.first}-{self.last}")


def records_with_lines(source: InputFile, wanted: set[int]) -> dict[int, Placed]:
    """Records `wanted` (numbers as the readers count them) with their lines, reading
    only as far as the last of them.

    Lines are read as bytes and a record ends at a line break outside quotes: with `"`
    quoting (a quote inside a field doubled) a line holding an odd number of quotes
    opens or closes a field spanning lines. That is the readers' dialect at C speed; a
    file it does not describe (broken quoting) gives records that `agrees` rejects."""
    found: dict[int, Placed] = {}
    last_wanted = max(wanted, default=0)
    number, line, header = 0, 0, True
    with open_bytes(source) as handle:
        parts: list[bytes] = []
        first = quotes = 0
        for raw in handle:
            line += 1
            if not parts:
                first, quotes = line, 0
            parts.append(raw)
            quotes += raw.count(b'"')
            if quotes % 2:  # inside a quoted field: the record goes on
                continue
            record, parts = b"".join(parts) if len(parts) > 1 else raw, []
            if header:
                header = False
                continue
            text = record.rstrip(b"\n").removesuffix(b"\r")
            if not text.strip():  # a blank line is no record
                continue
            number += 1
            if number in wanted:
                # Without the byte order mark of a file joined on (readers._fields).
                text = text.removeprefix(b"\xef\xbb\xbf")
                found[number] = Placed(first, line, text.decode("utf-8", "surrogateescape"))
            if number >= last_wanted:
                break
    return found


def open_bytes(source: InputFile) -> IO[bytes]:
    if source.gzipped:
        return gzip.open(source.path, "rb")  # type: ignore[return-value]
    return source.path.open("rb")


def agrees(staged_raw: str | None, placed: Placed, delimiter: str) -> bool:
    """Whether the staged text of a record is this record: its fields as a JSON object
    (empty fields null), or the record's own text (a malformed one)."""
    if staged_raw is None:
        return False
    if staged_raw.startswith("{"):
        try:
            # As pairs: a CSV header may name a column twice (readers._header).
            pairs = json.loads(staged_raw, object_pairs_hook=list)
            staged = [value for _, value in pairs]
        except (ValueError, TypeError):
            return False
        try:
            fields = next(csv.reader(io.StringIO(placed.text, newline=""),
                                     delimiter=delimiter, strict=True))
        except (csv.Error, StopIteration):
            return False
        if len(fields) > len(staged) and not any(fields[len(staged):]):
            fields = fields[:len(staged)]  # a trailing delimiter (salvage._record)
        return staged == [f if f != "" else None for f in fields]
    return staged_raw.strip("\r\n") == placed.text or safe_text(placed.text) == staged_raw


def repeated_headers(con: duckdb.DuckDBPyConnection, source: InputFile) -> tuple[int, int]:
    """How many records of the file just read repeat its header (staging.HEADERS), and
    the file line of the first (0 when none)."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $name",
                         {"name": HEADERS}).fetchone()
    if not exists or not exists[0]:
        return 0, 0
    records, first = con.execute(f"SELECT records, first FROM {HEADERS}").fetchone() or (0, None)
    drop(con, HEADERS)
    if not records or first is None:
        return 0, 0
    placed = records_with_lines(source, {first}) if source.label is None else {}
    return records, placed[first].first if first in placed else 0


# judge.py's words for where a conflicting id first appeared in the same file.
FIRST_SEEN = re.compile(r"appears at record (\d+) of this file")


def quarantined_text(con: duckdb.DuckDBPyConnection, staged: Staged, conflicts: int
                     ) -> list[tuple[int, str | None, str | None]]:
    """(record number, staged text, reason) of the rows `TYPED` refused (reason None:
    kept as it is) and, with conflicts, of those judged conflicts (their text from the
    staged table, as loading does; the reason names where the id first appeared)."""
    rows: list[tuple[int, str | None, str | None]] = con.execute(
        f"SELECT _row, _raw, NULL FROM {TYPED} WHERE _reason IS NOT NULL "
        "AND _row IS NOT NULL").fetchall()
    if conflicts:
        rows += con.execute(
            f"SELECT v._row, {staged.raw}, v.reason FROM {VERDICT} v JOIN {staged.table} "
            "USING (_row, _loc) WHERE v.verdict = 'quarantine'").fetchall()
    return rows


def place_quarantined(con: duckdb.DuckDBPyConnection, source: InputFile, staged: Staged,
                      conflicts: int) -> bool:
    """Fill `CSV_LINES(_row, line_loc, line_text, line_reason)` with the line and text of
    each quarantined record that can be placed (and a conflict's reason naming the line
    where its id first appeared); False (no table) when the file is not delimited text
    on disk or quarantines nothing."""
    if source.format not in DELIMITED or source.label is not None:
        return False
    rows = quarantined_text(con, staged, conflicts)
    if not rows:
        return False
    delimiter = "\t" if source.format == "tsv" else ","
    firsts = {int(m.group(1)) for _, _, reason in rows if reason
              for m in [FIRST_SEEN.search(reason)] if m}
    placed = records_with_lines(source, {number for number, _, _ in rows} | firsts)

    def reworded(reason: str | None) -> str | None:
        found = FIRST_SEEN.search(reason or "")
        if reason is None or found is None or int(found.group(1)) not in placed:
            return None
        line = placed[int(found.group(1))].location
        return reason[:found.start()] + f"appears at {line} of this file" + reason[found.end():]

    values = [(number, placed[number].location, safe_text(placed[number].text),
               reworded(reason))
              for number, text, reason in rows
              if number in placed and agrees(text, placed[number], delimiter)]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CSV_LINES} (_row BIGINT PRIMARY KEY, "
                "line_loc VARCHAR, line_text VARCHAR, line_reason VARCHAR)")
    if values:
        con.executemany(f"INSERT OR IGNORE INTO {CSV_LINES} VALUES (?, ?, ?, ?)", values)
    return True
