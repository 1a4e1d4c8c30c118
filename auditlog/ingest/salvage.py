"""The salvage reader: text files DuckDB's readers would refuse as a whole, read line by
line (JSON Lines), record by record (CSV/TSV) or element by element (JSON) in Python.

DuckDB's readers fail the whole file for one NUL byte, one invalid UTF-8 sequence, a
stray CR or one over-long line. A forensic tool must instead set that one line aside
with its position and reason and load the rest, so files whose TextProfile is not clean
(see files.py) come here. They are rare, which is why plain Python is fast enough.

Every reader fills the same tables the DuckDB readers fill (staging.DOCS for JSON,
staging.STAGE for CSV), so everything after staging is shared. The text of a bad line is kept
*safely*: invalid bytes and control characters are written as `\\xNN` escapes
(see `safe_text`), so a quarantined line shows exactly what was there and nothing in it
reaches a terminal as a control sequence.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Generator, Iterable, Iterator
from typing import IO

import duckdb

from auditlog.errors import InputError
from auditlog.ingest.files import MAX_LINE_BYTES, InputFile
from auditlog.ingest.staging import (
    CONTRACT_NAMES,
    DOCS,
    SALVAGE_BATCH,
    SALVAGED,
    STAGE,
    note_headers,
)

BATCH = 50_000
# Control characters a terminal could act on (C0 but tab and newline, DEL, C1): escaped
# in a quarantined line's text, here and by readers.safe_text_sql, from this one list.
CONTROL_CODES = [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]
_CONTROL = re.compile("[" + "".join(re.escape(chr(code)) for code in CONTROL_CODES) + "]")
# A file is "not text" (binary, or text in another encoding) when most of its lines are
# not UTF-8; a few bad lines in a log are quarantined, a file of them is refused.
_NOT_TEXT_SHARE = 0.5


def safe_text(raw: bytes | str) -> str:
    """`raw` as printable text: invalid UTF-8 bytes and control characters as `\\xNN`."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
    text = data.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def not_json_sql(raw: str) -> str:
    """SQL: why a line `raw` that is not JSON is not, for a quarantined line of JSON
    Lines. Two files joined when the first ends without a line break (`cat a.jsonl
    b.jsonl`) put two objects on one line, `...}{"ts": ...`: that says so, where the
    second begins and what to do, rather than only 'not valid JSON' (never read as one
    row, nor as the first object alone)."""
    split = f"'[' || replace({raw}, '}}{{', '}},{{') || ']'"
    return (
        f"CASE WHEN strpos({raw}, '}}{{') > 0 AND json_valid({split}) "
        f"AND json_type({split} -> '$[0]') = 'OBJECT' THEN "
        f"'not one JSON object but ' || json_array_length({split}) || ' written one after "
        f"another, the second from column ' || (strpos({raw}, '}}{{') + 1) || "
        "' (files joined where one ends without a line break?); put each on a line of "
        "its own' ELSE 'not valid JSON' END")


def _open(source: InputFile) -> IO[bytes]:
    if source.gzipped:
        return gzip.open(source.path, "rb")  # type: ignore[return-value]
    return source.path.open("rb")


def _defect(raw: bytes) -> str | None:
    """Why a line's bytes cannot be read as text, or None."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        return f"holds a NUL byte at column {nul + 1} (shown as \\x00)"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}; "
                "invalid bytes shown as \\xNN)")
    return None


class Table:
    """Rows appended in batches to a temp table (bounded memory for large files)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, columns: list[str]) -> None:
        self.con, self.name, self.columns = con, name, columns
        self.rows: list[tuple[object, ...]] = []

    def add(self, row: tuple[object, ...]) -> None:
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        # Imported here: only a file DuckDB's readers would refuse comes this way, and
        # every ingest imports this module (~0.05 CPU s of each command's start).
        import pyarrow as pa

        batch = pa.table({c: [r[i] for r in self.rows] for i, c in enumerate(self.columns)})
        self.con.register(SALVAGE_BATCH, batch)
        try:
            self.con.execute(f"INSERT INTO {self.name} SELECT * FROM {SALVAGE_BATCH}")
        finally:
            self.con.unregister(SALVAGE_BATCH)
        self.rows = []


def _check_text(source: InputFile, bad: int, total: int) -> None:
    if total and bad / total > _NOT_TEXT_SHARE:
        raise InputError(
            f"cannot read as {source.format}: the text is not valid UTF-8 ({bad} of {total} "
            "rows hold invalid bytes or NUL: binary data, or another encoding such as "
            "Latin-1)",
            source=source.display,
        )


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Physical lines (LF-terminated; a CR before the LF belongs to the ending), from 1;
    a UTF-8 byte order mark at the start is not part of the first line."""
    for number, line in enumerate(handle, start=1):
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        yield number, line


def stage_json_lines(con: duckdb.DuckDBPyConnection, source: InputFile) -> None:
    """JSON Lines → `_docs(_row, _loc, _raw, _bad)`, one row per non-blank line."""
    con.execute(f"CREATE TEMP TABLE {SALVAGED} (_row BIGINT, _raw VARCHAR, _bad VARCHAR)")
    table = Table(con, SALVAGED, ["_row", "_raw", "_bad"])
    bad = total = 0
    with _open(source) as handle:
        for number, line in _lines(handle):
            if not line.strip(b" "):  # blank, as DuckDB's trim() counts blank
                continue
            total += 1
            defect = _defect(line)
            bad += defect is not None
            table.add((number, safe_text(line) if defect else line.decode("utf-8"), defect))
    table.flush()
    _check_text(source, bad, total)
    con.execute(
        f"""
        CREATE TEMP TABLE {DOCS} AS
        SELECT _row, 'line ' || _row AS _loc, _raw,
               CASE WHEN _bad IS NOT NULL THEN _bad
                    WHEN NOT json_valid(_raw) THEN {not_json_sql("_raw")}
                    WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
        FROM {SALVAGED} ORDER BY _row
        """
    )
    con.execute(f"DROP TABLE {SALVAGED}")


def stage_json_document(con: duckdb.DuckDBPyConnection, source: InputFile) -> None:
    """A .json file DuckDB cannot parse → `_docs`: the elements of its array (or of its
    Records/records/events member) one by one; from the first element that does not
    parse, the rest of the file is one quarantined row. Arrays written back to back are
    read one after another (consecutive.py); a file of several top-level objects is
    read as JSON Lines, as the DuckDB path reads it."""
    with _open(source) as handle:
        data = handle.read()
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    start = array_start(text)
    if start is None:
        opening = text.lstrip(" \t\r\n")[:1]
        if opening and opening not in ("{", "["):
            raise InputError(
                f"cannot read as json: the file is not JSON (it starts with "
                f"{safe_text(opening)!r}, not {{ or [)",
                source=source.display,
            )
        stage_json_lines(con, source)
        return
    con.execute(f"CREATE TEMP TABLE {DOCS} (_row BIGINT, _loc VARCHAR, _raw VARCHAR, _bad VARCHAR)")
    table = Table(con, DOCS, ["_row", "_loc", "_raw", "_bad"])
    bad = total = 0
    documents: list[int] = []
    for number, (loc, raw, reason) in enumerate(_documents(text, start, documents), start=1):
        total += 1
        defect = _defect(raw.encode("utf-8", "surrogateescape"))
        bad += defect is not None
        reason = defect or reason
        if reason is None:
            try:
                json.loads(raw)  # strict: control characters in strings are not JSON
            except ValueError:
                reason = "not valid JSON"
        table.add((number, loc, safe_text(raw) if defect else raw, reason))
    table.flush()
    if len(documents) > 1:
        # Arrays back to back: located as the DuckDB path locates them (consecutive.py).
        con.execute(f"UPDATE {DOCS} SET _loc = 'value 1 ' || _loc WHERE _loc LIKE 'element %'")
    _check_text(source, bad, total)
    # Python's parser takes what DuckDB's refuses (a lone surrogate escape such as
    # "\ud800"): such an element is not JSON to the reading that follows, so it is
    # quarantined as JSON Lines' salvage quarantines that line.
    con.execute(
        f"UPDATE {DOCS} SET _bad = CASE WHEN NOT json_valid(_raw) THEN 'not valid JSON' "
        "WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END "
        "WHERE _bad IS NULL"
    )


_DECODER = json.JSONDecoder(strict=False)
_WS = re.compile(r"[ \t\r\n]*")


# The keys of a page of an OData/ARM list response (Azure Activity log REST, Microsoft
# Graph directoryAudits): its events are the `value` array; the others are paging
# metadata, not events. An object with any other key is one record, not a page.
PAGE_KEYS = frozenset(
    {"value", "nextLink", "@odata.context", "@odata.nextLink", "@odata.deltaLink",
     "@odata.count"}
)


def array_start(text: str) -> int | None:
    """Index of the '[' opening the array of rows: the document itself, the
    Records/records/events member of a top-level object, the `items` of a Kubernetes
    audit EventList (its `kind` and `apiVersion` before or after it: the API server
    writes them first, a tool that rewrites the file may not), or the `value` member of an object holding only PAGE_KEYS; None if
    neither."""
    at = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if text.startswith("[", at):
        return at
    if not text.startswith("{", at):
        return None
    at += 1
    names: set[str] = set()
    seen: dict[str, object] = {}  # the members read so far
    value: int | None = None
    items: int | None = None  # an `items` array read before the `kind` that names it
    try:
        while True:
            at = _WS.match(text, at).end()  # type: ignore[union-attr]
            name, at = _DECODER.raw_decode(text, at)
            at = _WS.match(text, at).end()  # type: ignore[union-attr]
            if not text.startswith(":", at):
                return None
            at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]
            if name in ("Records", "records", "events") and text.startswith("[", at):
                return at
            if name == "items" and text.startswith("[", at):
                if _audit_list(seen):
                    return at
                items = at  # JSON members are unordered: `kind` may follow
            names.add(name)
            if name == "value" and text.startswith("[", at) and names <= PAGE_KEYS:
                value = at
            try:
                seen[name], at = _DECODER.raw_decode(text, at)
            except ValueError:
                # A broken event in a page's `value` (the reason this file is
                # salvaged): the keys before it were paging keys, so it is the page.
                return value if at == value else None
            at = _WS.match(text, at).end()  # type: ignore[union-attr]
            if text.startswith("}", at):
                if items is not None and _audit_list(seen):
                    return items
                return value if names <= PAGE_KEYS else None
            if not text.startswith(",", at):
                return None
            at += 1
    except ValueError:
        return None


def _audit_list(members: dict[str, object]) -> bool:
    """Whether an object's members before `items` say it is an audit EventList (as
    readers._stage_json tells it)."""
    version = members.get("apiVersion", "audit.k8s.io/")
    return (members.get("kind") == "EventList" and isinstance(version, str)
            and version.startswith("audit.k8s.io/"))


def _documents(text: str, start: int,
               seen: list[int]) -> Iterator[tuple[str, str, str | None]]:
    """(location, raw text, reason) of each element of the array opening at `start`
    and, when the file is that array itself, of every array written after it (`seen`
    gets each array's start). Text after the last array that is not one is quarantined
    as one row, never dropped."""
    # The document is the array itself, not an object holding it as a member.
    bare = _WS.match(text, 0).end() == start  # type: ignore[union-attr]
    while True:
        seen.append(start)
        n = len(seen)
        elements = array_elements(text, start)
        k = 0
        while True:
            try:
                raw, reason = next(elements)
            except StopIteration as stop:
                end = stop.value
                break
            k += 1
            yield (f"element {k}" if n == 1 else f"value {n} element {k}"), raw, reason
        if end is None or not bare:
            return
        at = _WS.match(text, end).end()  # type: ignore[union-attr]
        if at >= len(text):
            return
        if not text.startswith("[", at):
            line = text.count("\n", 0, end) + 1
            reason = ("not valid JSON from here to the end of the file (after the array "
                      f"ending on line {line})")
            yield f"value {n + 1}", text[at:], reason
            return
        start = at


def array_elements(text: str, start: int) -> Generator[tuple[str, str | None], None, int | None]:
    """(raw text, reason) of each element of the array opening at `start`; returns the
    index after its closing `]`, or None when the rest of the file did not parse."""
    at = start + 1
    while True:
        at = _WS.match(text, at).end()  # type: ignore[union-attr]
        if text.startswith("]", at):
            return at + 1
        try:
            _, end = _DECODER.raw_decode(text, at)
        except ValueError as exc:
            rest = text[at:]
            if rest.strip():
                yield rest, ("not valid JSON from here to the end of the file "
                             f"({getattr(exc, 'msg', exc)})")
            return None
        yield text[at:end], None
        at = _WS.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith(",", at):
            at += 1
        elif not text.startswith("]", at):
            rest = text[at:]
            if rest.strip():
                yield rest, "not valid JSON from here to the end of the file (expected , or ])"
            return None


def stage_delimited(
    con: duckdb.DuckDBPyConnection, source: InputFile, *, as_docs: bool = False
) -> list[str]:
    """CSV/TSV → `_stage(_row, _loc, _raw, _bad, c0..cN)`, one row per record (header
    excluded), as DuckDB's reader numbers them. Returns the header's column names.

    `as_docs`: → `_docs(_row, _loc, _raw, _bad)` instead, each record's `_raw` a JSON
    object of its fields (empty = null), for files too wide to stage column by column
    (see validate.WIDE): they are then read as JSON rows are."""
    delimiter = "\t" if source.format == "tsv" else ","
    # Fields as long as a line may be (the default limit is 128 KiB).
    csv.field_size_limit(MAX_LINE_BYTES)
    with _open(source) as raw_handle:
        text = io.TextIOWrapper(raw_handle, encoding="utf-8", errors="surrogateescape",
                                newline="")
        tape = _Tape(_no_bom(text))
        reader = csv.reader(tape, delimiter=delimiter, strict=True)
        records = _records(reader)
        header = next(records, None)
        tape.take()
        if isinstance(header, csv.Error):
            raise InputError(f"cannot read as {source.format}: its header is not CSV ({header})",
                             source=source.display)
        # Names trimmed, as DuckDB's reader trims them (" note " is `note` either way).
        header = [name.strip() for name in header or []]
        if any(_defect(name.encode("utf-8", "surrogateescape")) for name in header):
            raise InputError(
                f"cannot read as {source.format}: its header is not UTF-8 text "
                f"({safe_text(delimiter.join(header))})",
                source=source.display,
            )
        repeats = _repeated(header) if as_docs else []
        columns = [] if as_docs else [f"c{i}" for i in range(len(header))]
        name = DOCS if as_docs else STAGE
        con.execute(
            f"CREATE TEMP TABLE {name} (_row BIGINT, _loc VARCHAR, _raw VARCHAR, _bad VARCHAR"
            + "".join(f", {c} VARCHAR" for c in columns) + ")"
        )
        table = Table(con, name, ["_row", "_loc", "_raw", "_bad", *columns])
        bad = total = 0
        names = [name.lower() for name in header]
        repeated: list[int] = []
        for number, fields in enumerate(records, start=1):
            lines = tape.take()
            if not isinstance(fields, csv.Error) and fields[0].startswith("\ufeff"):
                # The byte order mark of a file joined on (`cat a.csv b.csv`), as
                # readers._fields drops it.
                fields[0] = fields[0].lstrip("\ufeff")
            if not isinstance(fields, csv.Error) and _repeats(fields, names):
                repeated.append(number)  # keeps its number, is no row (readers.header_test)
                continue
            total += 1
            if isinstance(fields, csv.Error):
                row: tuple[object, ...] = (
                    number, f"record {number}", safe_text(lines.strip("\r\n")),
                    f"malformed CSV record: {_unsplit(fields)}", *[None] * len(header))
            else:
                row, defect = _record(number, fields, header, delimiter, repeats)
                bad += defect
            table.add(row[:4] if as_docs else row)
        table.flush()
    _check_text(source, bad, total)
    note_headers(con, len(repeated), repeated[0] if repeated else None)
    return header


def _repeats(fields: list[str], names: list[str]) -> bool:
    """Whether a record repeats the header (lowered `names`), as readers.header_test
    tells it: each field trimmed, in any case; fields beyond them empty."""
    if not names or len(fields) < len(names) or fields[0].strip().lower() != names[0]:
        return False
    return (all(f.strip().lower() == n for f, n in zip(fields, names, strict=False))
            and not any(fields[len(names):]))


def header_of(source: InputFile) -> list[str] | None:
    """A CSV/TSV file's header as written (a name may repeat, or be empty), each name
    trimmed, read with the dialect of `stage_delimited`; None when it cannot be read so. DuckDB's reader
    renames such names (`amount_1`, `column5`): the names a row's values are kept and
    checked under must be the file's own, whichever reader stages it."""
    delimiter = "\t" if source.format == "tsv" else ","
    csv.field_size_limit(MAX_LINE_BYTES)
    try:
        with _open(source) as raw_handle:
            text = io.TextIOWrapper(raw_handle, encoding="utf-8", errors="strict", newline="")
            header = next(_records(csv.reader(_no_bom(text), delimiter=delimiter,
                                              strict=True)), None)
    except (OSError, EOFError, UnicodeDecodeError):
        return None
    return [name.strip() for name in header] if isinstance(header, list) else None


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | csv.Error]:
    """Non-empty records, and in place of one that cannot be split, the error (the
    reader goes on with the next line)."""
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc
            continue
        if record and (len(record) > 1 or record[0].strip()):  # spaces alone: no record
            yield record


class _Tape:
    """The lines a csv.reader reads, those since the last `take` kept: the text of the
    record it read last (blank lines before it included), quarantined as it was when
    the record cannot be split."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._kept: list[str] = []

    def __iter__(self) -> _Tape:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self._kept.append(line)
        return line

    def take(self) -> str:
        text, self._kept = "".join(self._kept), []
        return text


def _unsplit(error: csv.Error) -> str:
    """Why a record could not be split, in words a user can act on."""
    if "unexpected end of data" in str(error):
        return ("a quoted field is never closed (the file ends inside it: every line from "
                "its record on is this record)")
    return str(error)


def _no_bom(lines: Iterable[str]) -> Iterator[str]:
    for i, line in enumerate(lines):
        yield line.removeprefix("\ufeff") if i == 0 else line


def _record(
    number: int, fields: list[str], header: list[str], delimiter: str,
    repeats: list[list[int]] | None = None,
) -> tuple[tuple[object, ...], bool]:
    """A staged row for one record, and whether its bytes are not text. With `repeats`
    (a wide file's columns of one name, `_repeated`), its JSON object has each such
    name once, as `_one_of` says."""
    defects = [d for f in fields if (d := _defect(f.encode("utf-8", "surrogateescape")))]
    reason = defects[0] if defects else None
    kept = fields
    if len(fields) > len(header) and not any(fields[len(header):]):
        # Empty fields after the last column (a trailing delimiter): nothing is in them,
        # and DuckDB's reader takes such a record as it is; so does this one.
        kept = fields[:len(header)]
    if reason is None and len(kept) != len(header):
        reason = (f"malformed CSV record: expected {len(header)} fields, "
                  f"found {len(fields)}")
    values: list[str | None] = [None] * len(header)
    if reason is None:
        values = [f if f != "" else None for f in kept]
        members = list(zip(header, values, strict=True))
        if repeats:
            members, reason = _one_of(members, header, repeats)
    if reason is not None:
        values = [None] * len(header)
        raw = safe_text(delimiter.join(fields))
    else:
        raw = "{" + ", ".join(
            f"{json.dumps(name)}: {json.dumps(value)}" for name, value in members) + "}"
    return (number, f"record {number}", raw, reason, *values), bool(defects)


def _repeated(header: list[str]) -> list[list[int]]:
    """The columns of each name a header gives more than once, the names the contract
    knows (in any case) first, each in header order."""
    at: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        at.setdefault(name, []).append(i)
    groups = [ix for ix in at.values() if len(ix) > 1]
    return sorted(groups, key=lambda ix: (header[ix[0]].lower() not in CONTRACT_NAMES, ix[0]))


def _one_of(members: list[tuple[str, str | None]], header: list[str],
            repeats: list[list[int]]) -> tuple[list[tuple[str, str | None]], str | None]:
    """A wide record's members with each repeated name once (a JSON object's keys are
    unique), as validate reads a narrow file's repeated columns: the value is the first
    that is not empty, and a record whose columns of one name hold different values
    (trimmed, empty ones aside) is a conflict within the row, with validate's reason
    (the row is quarantined, never one of the values silently kept)."""
    reasons: list[str] = []
    dropped: set[int] = set()
    kept = list(members)
    for ix in repeats:
        given = [value for i in ix if (value := members[i][1]) is not None]
        if len({value.strip() for value in given} - {""}) > 1:
            name = header[ix[0]]
            reasons.append(
                f"conflicting values for {name.lower()} under the keys "
                + ", ".join(header[i] for i in ix) if name.lower() in CONTRACT_NAMES
                else f"conflicting values for {json.dumps(name)}, a column the header names "
                "more than once (columns " + ", ".join(str(i + 1) for i in ix) + ")")
        kept[ix[0]] = (header[ix[0]], given[0] if given else None)
        dropped.update(ix[1:])
    reason = "; ".join(reasons) or None
    return [m for i, m in enumerate(kept) if i not in dropped], reason
