"""The reader of Windows event log files (.evtx, told by their `ElfFile\\0` magic bytes).

The binary format is parsed by the `evtx` package (a Rust parser); each record comes back
as the JSON document `evtx_dump -o json` writes (`{"Event": {"System": ..., "EventData":
...}}`), staged in `DOCS` and mapped by the Windows Security adapter (standard/windows.py)
at once: an event log holds Windows events whatever its records' keys, so it is not
left to the registry to recognize them (a file whose records are all unreadable has no
keys to recognize, and must still be quarantined record by record).

Why through a file: the records are written as JSON Lines to a temporary file, one
`write` per record, and DuckDB reads that file in one bulk pass. Inserting rows from
Python, even in batches, costs several times the parse itself; this way Python only
copies each record's text once.

A record the parser cannot decode (a damaged chunk, a truncated file) is not lost: it
is staged as a row of its own with the parser's reason in `_bad` (quarantined later,
with its position). A file whose header cannot be read at all is an InputError.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
from evtx import PyEvtxParser

from auditlog.errors import InputError
from auditlog.ingest.files import InputFile, TextProfile
from auditlog.ingest.kept import keep_docs
from auditlog.ingest.staging import DOCS, Records, Staged, drop
from auditlog.ingest.standard.windows import WindowsSecurity
from auditlog.sqltext import sql_string

# Longest line DuckDB's line reader is asked to accept: one record's JSON (records of
# a 64 KB chunk are far smaller; a record cannot span chunks).
MAX_RECORD_BYTES = 1 << 24
# The parser's worker threads. One: DuckDB's own threads stage the records meanwhile,
# and on one thread the parser already reads ~200k records/s (measured), with less
# contention than with a pool of its own.
PARSER_THREADS = 1
# Stop after this many undecodable chunks: a file of
# garbage would otherwise be reported chunk by chunk.
MAX_FAILURES = 1000
# The file header (https://github.com/libyal/libevtx, "Windows XML Event Log format"):
# a 4096-byte block, the chunk count a little-endian uint16 at 0x2A; chunks of 64 KiB.
HEADER_BYTES = 0x80
HEADER_BLOCK = 4096
CHUNK_COUNT = 0x2A
CHUNK_BYTES = 1 << 16


class Evtx:
    """Windows event log files → their records as JSON in `DOCS`."""

    formats: tuple[str, ...] = ("evtx",)

    def stage(self, con: duckdb.DuckDBPyConnection, source: InputFile, *, lazy: bool,
              profile: TextProfile | None,
              standard: Callable[[set[str]], bool]) -> list[Staged] | Records:
        with tempfile.TemporaryDirectory(prefix="auditlog-evtx-") as scratch:
            lines = Path(scratch) / "records.jsonl"
            write_records(source, lines)
            drop(con, DOCS)
            # A line is a record (a JSON object) or, for what could not be read, the
            # reason as a JSON string: telling them apart costs one byte per line.
            # (Numbered as read, in file order: no sort of 100 MB of text.)
            con.execute(
                f"""
                CREATE TEMP TABLE {DOCS} AS
                SELECT _row, 'record ' || _row AS _loc,
                       CASE WHEN record THEN line ELSE '' END AS _raw,
                       CASE WHEN NOT record THEN json_extract_string(line, '$') END AS _bad
                FROM (SELECT row_number() OVER () AS _row, line,
                             starts_with(line, '{{') AS record
                      FROM read_csv({sql_string(str(lines))},
                                    columns = {{'line': 'VARCHAR'}}, header = false,
                                    delim = chr(0), quote = '', escape = '',
                                    auto_detect = false,
                                    max_line_size = {MAX_RECORD_BYTES}))
                """
            )
        staged = WindowsSecurity().stage(con)
        keep_docs(con)  # each record's JSON is kept (kept.py); DOCS becomes KEPT
        return staged


def write_records(source: InputFile, target: Path) -> int:
    """Every record of `source` as one line of `target`, or the reason it could not be
    read as a JSON string (see Evtx.stage); the count of lines.
    Raises InputError when the file is not a readable event log."""
    size = source.path.stat().st_size
    if size < HEADER_BLOCK:
        # (The parser's own words for it: "failed to fill whole buffer".)
        raise InputError(
            f"cannot read as evtx: the file is {'empty' if size == 0 else f'{size:,} bytes long'}"
            f", shorter than the {HEADER_BLOCK:,}-byte header every event log starts with "
            "(a truncated copy?)", source=source.display)
    try:
        parser = PyEvtxParser(str(source.path), number_of_threads=PARSER_THREADS)
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot read as evtx: {_reason(exc)}", source=source.display) from None
    count = failures = 0
    with target.open("w", encoding="utf-8", newline="\n") as out:
        records = iter(parser.records_json())
        while failures < MAX_FAILURES:
            try:
                record = next(records)
            except StopIteration:
                break
            except (OSError, RuntimeError, ValueError) as exc:
                # The parser reports a chunk (or record) it cannot decode and goes on
                # with the next; what it could not read becomes a quarantined row.
                out.write(json.dumps(f"unreadable EVTX records: {_reason(exc)}") + "\n")
                count += 1
                failures += 1
                continue
            if record is None:  # typed Optional by the binding; the parser yields none
                continue
            # evtx writes compact JSON (no raw newline: JSON escapes it).
            out.write(record["data"])
            out.write("\n")
            count += 1
        if (missing := _missing_chunks(source.path)) is not None:
            out.write(json.dumps(missing) + "\n")
            count += 1
    return count


def _missing_chunks(path: Path) -> str | None:
    """Why the file holds fewer chunks than its header lists, or None. The parser
    passes over a chunk cut short without a word, so a truncated copy would otherwise
    lose its last records silently."""
    with path.open("rb") as handle:
        header = handle.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        return None  # the parser has refused it already
    listed = int.from_bytes(header[CHUNK_COUNT:CHUNK_COUNT + 2], "little")
    present = max(path.stat().st_size - HEADER_BLOCK, 0) // CHUNK_BYTES
    if present >= listed:
        return None
    return (f"truncated EVTX file: its header lists {listed} chunks of records, "
            f"{present} are complete (the records of the rest are lost)")


def _reason(exc: BaseException) -> str:
    # The parser's messages can span lines and carry bytes of the file: one line.
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__
