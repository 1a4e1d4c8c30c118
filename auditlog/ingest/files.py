"""Finding input files, naming their format, and fingerprinting them."""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from auditlog.errors import InputError
from auditlog.ingest.foreign import foreign_text
from auditlog.ingest.syslog_prefix import SYSLOG_PREFIX

# The formats auditlog tells apart. "evtx" and "auditd" are read by readers of their own
# (sources.READERS); "rows": rows handed over as data, not read from a file
# (pipeline.ingest_rows).
Format = Literal["jsonl", "json", "csv", "tsv", "parquet", "evtx", "auditd", "rows"]

# File name endings → format: a hint the content can overrule (see `identify`). `.gz`
# may follow any of GZIP_FORMATS.
SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".evtx": "evtx",
}
# The text formats DuckDB's readers read: profiled byte by byte (`fingerprint`).
TEXT_FORMATS = frozenset({"jsonl", "json", "csv", "tsv"})
# What may come gzip-compressed: text (Parquet and EVTX compress themselves).
GZIP_FORMATS = TEXT_FORMATS | {"auditd"}
# What `identify` tries, as its errors name them.
TRIED = ("JSON (array, object or concatenated objects)", "JSON Lines", "CSV", "TSV",
         "Parquet", "EVTX", "auditd text", "any of the text formats gzip-compressed")


@dataclass(frozen=True)
class InputFile:
    path: Path
    format: Format
    gzipped: bool
    # What to call it, when not its path (rows handed over as data have no file).
    label: str | None = None

    @property
    def display(self) -> str:
        return self.label if self.label is not None else str(self.path)


@dataclass(frozen=True)
class Unrecognized:
    """A file no reader recognizes: where, and what its content looked like instead."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Hidden:
    """The hidden files and folders (a name starting with '.') below a directory given,
    passed over unread: `.DS_Store`, `.git/`. Each is named, relative to `folder`, a
    folder once with a trailing '/', so that what is not loaded is said. `bookkeeping`
    lists, the same way, the files a Spark or Hadoop job writes beside its output
    (`_SUCCESS`, `_committed_*`, `.part-*.crc`, `_temporary/`: see BOOKKEEPING), passed
    over too: they are no log, and an empty `_SUCCESS` is no empty log either."""

    folder: Path
    entries: list[str]
    bookkeeping: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        said = []
        if self.bookkeeping:
            files = len(self.bookkeeping)
            said.append(
                f"passed over {files:,} Spark/Hadoop bookkeeping "
                f"{'entry' if files == 1 else 'entries'} in {self.folder} (job markers, "
                f"checksums, temporary output, table metadata; no logs): "
                f"{_shown(self.bookkeeping)}")
        if self.entries:
            said.append(
                f"passed over what is hidden in {self.folder} (a name starting with '.'), "
                f"unread: {_shown(self.entries)}; name a file on the command line to load it")
        return "; ".join(said)


SHOWN_HIDDEN = 5


def _shown(entries: list[str]) -> str:
    return ", ".join(entries[:SHOWN_HIDDEN]) + (
        f" and {len(entries) - SHOWN_HIDDEN:,} more" if len(entries) > SHOWN_HIDDEN else "")


# What Spark, Hadoop and Hive write beside a job's output files (the names Hadoop's
# FileInputFormat itself passes over): commit markers (`_SUCCESS`, Databricks'
# `_committed_<id>` and `_started_<id>`), Parquet summary files (`_metadata`,
# `_common_metadata`: footers of other files, no rows of their own), checksums
# (`.<file>.crc`), the folders of unfinished or staged output and of table logs, and
# the empty objects S3 tools write for a folder (`dt=2026-04-01_$folder$`), and an
# Iceberg table's metadata files (ICEBERG_METADATA).
BOOKKEEPING_FILES = frozenset({"_SUCCESS", "_FAILED", "_metadata", "_common_metadata"})
BOOKKEEPING_PREFIXES = ("_committed_", "_started_")
BOOKKEEPING_FOLDERS = frozenset({"_temporary", "_spark_metadata", "_delta_log",
                                 "_impala_insert_staging", ".hive-staging", ".spark-staging"})


def bookkeeping(name: str, *, folder: bool) -> bool:
    """Whether a file (or, with `folder`, a folder) of this name is a Spark/Hadoop job's
    bookkeeping rather than its output."""
    if folder:
        return name in BOOKKEEPING_FOLDERS or name.startswith(
            (".hive-staging_", ".spark-staging-"))
    return (name in BOOKKEEPING_FILES or name.startswith(BOOKKEEPING_PREFIXES)
            or name.endswith("_$folder$")
            or (name.startswith(".") and name.endswith(".crc"))
            or ICEBERG_METADATA.fullmatch(name) is not None)


# An Apache Iceberg table's metadata beside its data files: table metadata
# (`v3.metadata.json`, `00002-<uuid>.metadata.json`, gzip-compressed `.gz.metadata.json`),
# the Hadoop catalog's `version-hint.text`, manifest lists (`snap-<id>-<n>-<uuid>.avro`)
# and manifests (`<uuid>-m0.avro`). JSON that is no log, which would otherwise fail the
# load for want of a kind.
ICEBERG_METADATA = re.compile(
    r"(v[0-9]+|[0-9]{5}-[0-9a-f-]{36})(\.gz)?\.metadata\.json(\.gz)?|version-hint\.text"
    r"|snap-[0-9]+-[0-9]+-[0-9a-f-]{36}\.avro|[0-9a-f-]{36}-m[0-9]+\.avro")


@dataclass(frozen=True)
class Discovered:
    """The files below the paths in a format auditlog reads, and those passed over."""

    files: list[InputFile]
    skipped: list[Unrecognized]
    hidden: list[Hidden] = field(default_factory=list)


def describe_suffixes() -> str:
    return ", ".join(sorted(SUFFIXES)) + " (text formats also as .gz)"


def describe_tried() -> str:
    return ", ".join(TRIED)


def classify(path: Path) -> InputFile | None:
    """The format of a file, or None when auditlog does not read it (`identify`)."""
    found = identify(path)
    return found if isinstance(found, InputFile) else None


def identify(path: Path) -> InputFile | Unrecognized:
    """The format of a file, told from its first bytes, its name a hint.

    Magic bytes decide: gzip (then the text inside is told the same way), Parquet
    (`PAR1`), EVTX (`ElfFile\\0`). Otherwise a suffix auditlog knows decides (so a
    damaged .parquet or a .json that is not JSON gets its reader's error, not a guess),
    and without one the text decides (`text_format`). A name ending in .gz says gzip,
    whatever the bytes: a .gz file that is not gzip is reported as damaged by its reader
    (`fingerprint`)."""
    suffixes = [s.lower() for s in path.suffixes]
    named_gzip = bool(suffixes) and suffixes[-1] == ".gz"
    if named_gzip:
        suffixes = suffixes[:-1]
    hint = SUFFIXES.get(suffixes[-1]) if suffixes else None
    try:
        with path.open("rb") as handle:
            head = handle.read(len(EVTX_MAGIC))
            # A known text suffix needs no more than the magic bytes: a folder of
            # thousands of .json.gz objects is not decompressed twice.
            if not (hint in TEXT_FORMATS and not head.startswith((PARQUET_MAGIC, EVTX_MAGIC))):
                head += handle.read(HEAD + 1 - len(head))
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})",
                         source=str(path)) from None
    gzipped = head.startswith(GZIP_MAGIC)
    if hint in TEXT_FORMATS and (gzipped or not head.startswith((PARQUET_MAGIC, EVTX_MAGIC))):
        return InputFile(path=path, format=hint, gzipped=gzipped or named_gzip)
    if gzipped:
        inner = _gunzip_head(head[:HEAD])
        if inner is None:
            return _hinted(path, hint, "gzip-compressed, but the stream is corrupt")
        head, whole = inner
    else:
        if named_gzip:
            return _hinted(path, hint, "named .gz, but not gzip-compressed")
        whole = len(head) <= HEAD
        head = head[:HEAD]
    if head.startswith((PARQUET_MAGIC, EVTX_MAGIC)):
        fmt: Format = "parquet" if head.startswith(PARQUET_MAGIC) else "evtx"
        if gzipped:
            return Unrecognized(path, f"a gzip-compressed {fmt} file; decompress it first")
        return InputFile(path=path, format=fmt, gzipped=False)
    if hint is not None and (not gzipped or hint in GZIP_FORMATS):
        return InputFile(path=path, format=hint, gzipped=gzipped)
    workbook = _workbook(head, suffixes)
    if workbook is not None:
        return Unrecognized(path, f"{'gzip-compressed ' if gzipped else ''}{workbook}; save "
                                  "each sheet as CSV (UTF-8) and load those")
    columnar = next((name for magic, name in COLUMNAR if head.startswith(magic)), None)
    if columnar is not None:
        return Unrecognized(path, f"{'gzip-compressed ' if gzipped else ''}{columnar}; "
                                  "convert it to Parquet, CSV or JSON Lines and load that")
    archive = next((name for magic, name in ARCHIVES if head.startswith(magic)), None)
    if archive is not None:
        return Unrecognized(path, f"{'gzip-compressed ' if gzipped else ''}a {archive}; "
                                  "unpack it and load what it holds")
    told, reason = text_format(head, whole=whole)
    if told is None:
        return Unrecognized(path, ("gzip-compressed " if gzipped else "") + reason)
    return InputFile(path=path, format=told, gzipped=gzipped)


def _hinted(path: Path, hint: Format | None, reason: str) -> InputFile | Unrecognized:
    """A gzip file whose text cannot be looked at: with a name auditlog knows, its reader
    says what is wrong with it (`fingerprint`); without one, `reason` says it."""
    if hint is not None and hint in GZIP_FORMATS:
        return InputFile(path=path, format=hint, gzipped=True)
    return Unrecognized(path, reason)


# How much of a file `identify` looks at (of the text, for gzip): enough for a few
# records of any log, little enough to read for every file of a folder.
HEAD = 1 << 18
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
EVTX_MAGIC = b"ElfFile\x00"
# Containers a log export often comes in, which auditlog does not open itself: named in
# the warning, so that it says what to do rather than "binary data".
ARCHIVES = (
    (b"PK\x03\x04", "zip archive"), (b"BZh", "bzip2 stream"), (b"\xfd7zXZ\x00", "xz stream"),
    (b"\x28\xb5\x2f\xfd", "zstd stream"), (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
)
# The other files a data lake's tables are written in (Hive, Spark, Iceberg's manifests),
# told by their magic bytes so that the warning names them rather than "binary data".
COLUMNAR = ((b"ORC", "an Apache ORC file"), (b"Obj\x01", "an Apache Avro file"))
# Spreadsheets a billing export often is: a zip (Office Open XML, OpenDocument, Numbers)
# or, for Excel 97-2003, an OLE2 compound file. Told by their bytes and name, so that the
# warning says to save them as CSV rather than to unpack an archive.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods", ".numbers"})


def _workbook(head: bytes, suffixes: list[str]) -> str | None:
    """What kind of spreadsheet workbook `head` starts, or None."""
    named = bool(suffixes) and suffixes[-1] in WORKBOOK_SUFFIXES
    if head.startswith(OLE2_MAGIC):
        return ("an Excel 97-2003 workbook" if named or not suffixes
                else "an OLE2 document (such as an Excel 97-2003 workbook)")
    if head.startswith(b"PK\x03\x04") and (named or b"xl/" in head[:4096]):
        return f"a spreadsheet workbook ({suffixes[-1] if named else '.xlsx'})"
    return None


# An auditd record: `type=SYSCALL msg=audit(1594053514.588:4686): ...`, with `node=host `
# before it when the daemon names the node; ausearch -i writes the time as a date.
AUDITD_RECORD = re.compile(rb"(?:node=\S+ )?type=[A-Za-z0-9_]+ msg=audit\([^()]{1,40}:\d+\)")
# The same record as the audisp syslog plug-in hands it to syslog, in /var/log/messages
# or a collector's file: `[<PRI>]TIME HOST PROGRAM[PID]: ` before it (the pattern is
# shared with the parser, standard/auditd.py, which cuts it off).
AUDITD_SYSLOG_RECORD = re.compile(SYSLOG_PREFIX.encode() + AUDITD_RECORD.pattern)
# Lines ausearch writes between events.
AUDITD_SEPARATORS = (b"----", b"time->")
# Any syslog line (another program's: kernel, cron, sshd ...), which may come before the
# first audit record of a syslog file that holds them.
SYSLOG_LINE = re.compile(SYSLOG_PREFIX.encode())
# A CSV/TSV header told from text alone must look like column names, so that prose with
# commas (a README, a license) is not taken for a table.
COLUMN_NAME = re.compile(r"[^\x00-\x1f\"]{1,64}")
MAX_NAME_WORDS = 4
LINES_LOOKED_AT = 50


def _gunzip_head(compressed: bytes) -> tuple[bytes, bool] | None:
    """The text at the start of a gzip file, and whether it is all of it; None when the
    stream is corrupt from the start. A truncated stream gives what it holds."""
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        text = stream.decompress(compressed, HEAD)
    except zlib.error:
        return None
    # All of it: the stream ended (one member, nothing after) within what was read.
    whole = stream.eof and not stream.unused_data and len(compressed) < HEAD
    return text, whole


def text_format(head: bytes, *, whole: bool) -> tuple[Format | None, str]:
    """The format of a text file by its first bytes (`head`, all of the file when
    `whole`): JSON Lines when its first lines are JSON objects one per line, JSON when it
    starts with `[` or `{` otherwise (an array, an object, concatenated or pretty-printed
    objects), auditd when its first record has the auditd shape, TSV or CSV when its
    first lines are a header of column names and records of as many fields. (None, what
    it looked like) when none fits. A file of nothing but whitespace holds no rows,
    whatever its format: JSON Lines."""
    for bom, name in BOMS:
        if head.startswith(bom):
            return None, f"{name} text; auditlog reads UTF-8"
    body = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if not body:
        return "jsonl", ""
    # Only complete lines are judged: the last one of a head may be cut.
    complete = body if whole else body[: body.rfind(b"\n") + 1]
    lines = [line.strip() for line in complete.split(b"\n")[:LINES_LOOKED_AT] if line.strip()]
    if body.startswith(b"["):
        return "json", ""
    if body.startswith(b"{"):
        return ("jsonl" if _one_object_per_line(body, lines) else "json"), ""
    records = [line for line in lines if not line.startswith(AUDITD_SEPARATORS)]
    if records and (_auditd(records[0]) or _syslog_of_audit_records(records)):
        return "auditd", ""
    unmarked = bomless_utf16(head)
    if unmarked is not None:
        return None, f"{unmarked} text without a byte order mark; auditlog reads UTF-8"
    try:
        text = complete.decode("utf-8")
    except UnicodeDecodeError:
        binary = _control_share(complete.decode("latin-1")) > 0.1 or b"\x00" in complete
        return None, "binary data" if binary else "text not in UTF-8"
    delimited: tuple[tuple[Format, str], ...] = (("tsv", "\t"), ("csv", ","))
    for fmt, delimiter in delimited:
        if _is_table(text, delimiter):
            return fmt, ""
    if _control_share(text) > 0.1:
        return None, "binary data"
    if (export := foreign_text(text)) is not None:
        return None, export
    return None, "text, but not JSON, JSON Lines, CSV, TSV or auditd records"


def _auditd(line: bytes) -> bool:
    return bool(AUDITD_RECORD.match(line) or AUDITD_SYSLOG_RECORD.match(line))


def _syslog_of_audit_records(lines: list[bytes]) -> bool:
    """A syslog file in which audit records (forwarded by the audisp plug-in) follow
    other programs' lines (a kernel or cron line first): read as auditd, the other
    lines quarantined with their reason (standard/auditd.py)."""
    return bool(SYSLOG_LINE.match(lines[0])) and any(_auditd(line) for line in lines[1:])


def _one_object_per_line(body: bytes, lines: list[bytes]) -> bool:
    """JSON Lines: more than one line, and the first line (or, when it is damaged, most of
    the first lines) a JSON object on its own. Pretty-printed JSON has no such line."""
    if body.count(b"\n", 0, len(body.rstrip())) == 0 or not lines:
        return False
    parsed = [_is_object(line) for line in lines[:20]]
    return parsed[0] or (len(parsed) >= 2 and sum(parsed) * 2 >= len(parsed))


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _is_table(text: str, delimiter: str) -> bool:
    """A header of at least two column names, then records, most of as many fields."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) >= LINES_LOOKED_AT:
                break
    except csv.Error:  # a quoted field cut by the end of the head: judge what came before
        pass
    if len(rows) < 2 or len(rows[0]) < 2:
        return False
    header = [name.strip() for name in rows[0]]
    if not all(COLUMN_NAME.fullmatch(name) and len(name.split()) <= MAX_NAME_WORDS
               for name in header):
        return False
    fitting = sum(len(row) == len(header) for row in rows[1:])
    return fitting * 5 >= (len(rows) - 1) * 4


def _control_share(text: str) -> float:
    """The share of control characters other than line ends and tabs."""
    control = sum(1 for ch in text if ch < " " and ch not in "\t\r\n")
    return control / max(len(text), 1)


def discover(paths: list[Path], *, strict: bool = False) -> Discovered:
    """Expand directories into the files below them, in a stable order, each with its
    format (`identify`).

    A file named on the command line must be in a format auditlog reads: otherwise an
    InputError names what was tried. Inside a directory, a file no reader recognizes (a
    README, a license) is passed over and listed in `skipped`, for the caller to warn
    about; with `strict` it is an error. Hidden files and folders (`.DS_Store`, `.git/`)
    are passed over unread and listed in `hidden`, for the caller to name (not an error
    with `strict`: they are no one's export). Raises InputError when there is nothing to
    read at all."""
    found: list[InputFile] = []
    skipped: list[Unrecognized] = []
    hidden: list[Hidden] = []
    for path in paths:
        if path.is_dir():
            passed_over: dict[str, None] = {}
            kept_by_jobs: dict[str, None] = {}
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                parts = child.relative_to(path).parts
                last = len(parts) - 1
                at = next((i for i, part in enumerate(parts)
                           if part.startswith(".") or bookkeeping(part, folder=i < last)),
                          None)
                if at is not None:
                    entry = "/".join(parts[:at + 1]) + ("/" if at < last else "")
                    job = bookkeeping(parts[at], folder=at < last)
                    (kept_by_jobs if job else passed_over)[entry] = None
                    continue
                told = identify(child)
                if isinstance(told, InputFile):
                    found.append(told)
                else:
                    skipped.append(told)
            if passed_over or kept_by_jobs:
                hidden.append(Hidden(path, list(passed_over), list(kept_by_jobs)))
        elif path.is_file():
            told = identify(path)
            if isinstance(told, Unrecognized):
                raise InputError(
                    f"unsupported file type: its content is {told.reason}; auditlog tells "
                    f"{describe_tried()} by their content, whatever the file's name",
                    source=str(path),
                )
            found.append(told)
        else:
            raise InputError("no such file or directory", source=str(path))
    if skipped and strict:
        raise InputError(
            f"{len(skipped)} file(s) are in no format auditlog reads and {{strict}} is on; "
            "nothing was loaded: " + "; ".join(f"{s.path} ({s.reason})" for s in skipped),
            arguments=("strict",),
        )
    if not found:
        where = ", ".join(str(p) for p in paths)
        if skipped:
            raise InputError(
                f"none of the {len(skipped)} file(s) in {where} is in a format auditlog "
                f"reads (tried {describe_tried()}): "
                + "; ".join(f"{s.path} ({s.reason})" for s in skipped)
            )
        unread = "; ".join(str(h) for h in hidden)
        raise InputError(f"no log files found in {where}; auditlog reads "
                         f"{describe_tried()}" + (f" (it {unread})" if unread else ""))
    return Discovered(found, skipped, hidden)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# DuckDB's line reader refuses a whole file for a line longer than this; such a file is
# read by the salvage reader instead (see ingest/salvage.py).
MAX_LINE_BYTES = 1 << 26
# Below MAX_LINE_BYTES, so a line over the limit always spans a chunk boundary, which is
# where the profile measures lines.
CHUNK = 1 << 24
BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)


@dataclass(frozen=True)
class TextProfile:
    """What a byte-level look at a text file found that DuckDB's readers refuse a whole
    file for (they fail, rather than set the one bad line aside). Any of these sends the
    file to the salvage reader, which quarantines the bad lines one by one."""

    nul: bool = False  # a NUL byte
    invalid_utf8: bool = False
    lone_cr: bool = False  # a CR not ending a CRLF, or CRLF and LF endings mixed
    long_line: bool = False  # a line over MAX_LINE_BYTES
    utf8_bom: bool = False
    blank: bool = False  # nothing but whitespace: no rows (DuckDB's CSV sniffer invents one)

    @property
    def clean(self) -> bool:
        return not (self.nul or self.invalid_utf8 or self.lone_cr or self.long_line
                    or self.utf8_bom or self.blank)


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    text: TextProfile | None  # None for Parquet


def fingerprint(source: InputFile) -> Fingerprint:
    """SHA-256 of the file as stored and, for a text format, its TextProfile, in one read
    (two for gzip: the digest is of the compressed bytes, the profile of the text).

    Raises InputError for a file that is not text at all: a truncated or corrupt gzip
    stream, or UTF-16/UTF-32 (told by the byte order mark)."""
    if source.format not in TEXT_FORMATS:
        return Fingerprint(sha256_of(source.path), None)
    if not source.gzipped:
        digest = hashlib.sha256()
        with source.path.open("rb") as handle:
            profile = _profile(_hashed(handle, digest), source)
        return Fingerprint(digest.hexdigest(), profile)
    if source.path.stat().st_size == 0:  # gzip's reader takes it for an empty text
        raise InputError(
            f"cannot read as {source.format} (gzip): the file is empty, without even a "
            "gzip header (a download or copy cut short?)",
            source=source.display,
        )
    try:
        with gzip.open(source.path, "rb") as handle:
            profile = _profile(iter(lambda: handle.read(CHUNK), b""), source)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        if not _starts_gzip(source.path):  # named .gz, but another file entirely
            raise InputError(
                f"cannot read as {source.format} (gzip): the file is named .gz but is not "
                "gzip-compressed (it does not start with gzip's magic bytes); name it "
                f"without .gz if it is plain {source.format}",
                source=source.display,
            ) from None
        if "Not a gzipped file" in str(exc):  # what follows a whole member is not gzip
            raise InputError(
                f"cannot read as {source.format} (gzip): after its gzip stream the file "
                "goes on with bytes that are not gzip (two files joined, or junk appended)",
                source=source.display,
            ) from None
        raise InputError(
            f"cannot read as {source.format} (gzip): the gzip stream is "
            f"{'truncated' if isinstance(exc, EOFError) else 'corrupt'} ({exc})",
            source=source.display,
        ) from None
    return Fingerprint(sha256_of(source.path), profile)


def _starts_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC


def _hashed(handle: BinaryIO, digest: hashlib._Hash) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        yield chunk


def _profile(chunks: Iterable[bytes], source: InputFile) -> TextProfile:
    # memchr-speed tests on each chunk; UTF-8 is decoded only when a chunk is not ASCII,
    # line feeds are counted only once a CR is seen (only then can endings be mixed).
    decoder = codecs.getincrementaldecoder("utf-8")()
    nul = invalid = long_line = utf8_bom = mixed = nonblank = False
    cr = crlf = lf = 0
    run = 0  # bytes since the last newline
    first = True
    previous_cr = False
    for chunk in chunks:
        if first:
            _refuse_other_encodings(chunk, source)
            utf8_bom = chunk.startswith(codecs.BOM_UTF8)
        nul = nul or b"\x00" in chunk
        nonblank = nonblank or bool(chunk.strip())
        if not invalid and (not chunk.isascii() or decoder.getstate()[0]):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                invalid = True
        if cr or previous_cr or b"\r" in chunk:
            cr += chunk.count(b"\r")
            crlf += chunk.count(b"\r\n") + (previous_cr and chunk.startswith(b"\n"))
            lf += chunk.count(b"\n")
        else:
            mixed = mixed or b"\n" in chunk  # LF endings before any CRLF
        previous_cr = chunk.endswith(b"\r")
        start, end = chunk.find(b"\n"), chunk.rfind(b"\n")
        if start < 0:
            run += len(chunk)
        else:
            long_line = long_line or run + start > MAX_LINE_BYTES
            run = len(chunk) - end - 1
        long_line = long_line or run > MAX_LINE_BYTES
        first = False
    if not invalid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            invalid = True
    # CRLF throughout is fine for DuckDB; a lone CR, or CRLF mixed with LF, is not.
    lone_cr = cr != crlf or (crlf > 0 and (mixed or lf != crlf))
    return TextProfile(nul=nul, invalid_utf8=invalid, lone_cr=lone_cr, long_line=long_line,
                       utf8_bom=utf8_bom, blank=not nonblank)


def _refuse_other_encodings(head: bytes, source: InputFile) -> None:
    for bom, name in BOMS:
        if head.startswith(bom):
            raise InputError(
                f"cannot read as {source.format}: the text is {name} (it starts with a "
                f"{name} byte order mark); auditlog reads UTF-8",
                source=source.display,
            )
    unmarked = bomless_utf16(head)
    if unmarked is not None:
        raise InputError(
            f"cannot read as {source.format}: the text is {unmarked} without a byte order "
            f"mark (every other byte is NUL); auditlog reads UTF-8: convert it first "
            f"(iconv -f {unmarked} -t UTF-8)",
            source=source.display,
        )


def bomless_utf16(head: bytes) -> str | None:
    """"UTF-16LE" or "UTF-16BE" when `head` is text so encoded without a byte order mark
    (as some Windows tools export it): mostly ASCII, so every other byte is NUL and the
    bytes between are not. None otherwise."""
    sample = head[:UTF16_SAMPLE]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 8:
        return None
    evens, odds = sample[0::2], sample[1::2]

    def nul_share(data: bytes) -> float:
        return data.count(0) / len(data)

    if nul_share(odds) >= 0.9 and nul_share(evens) < 0.1:
        return "UTF-16LE"
    if nul_share(evens) >= 0.9 and nul_share(odds) < 0.1:
        return "UTF-16BE"
    return None


UTF16_SAMPLE = 512
