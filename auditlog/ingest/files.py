"""Finding input files, naming their format, and fingerprinting them."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from auditlog.errors import InputError

# "rows": rows handed over as data, not read from a file (pipeline.ingest_rows).
Format = Literal["jsonl", "json", "csv", "tsv", "parquet", "rows"]

# File name endings → format. `.gz` may follow any text format.
SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}
TEXT_FORMATS = frozenset({"jsonl", "json", "csv", "tsv"})


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


def describe_suffixes() -> str:
    return ", ".join(sorted(SUFFIXES)) + " (text formats also as .gz)"


def classify(path: Path) -> InputFile | None:
    """The format a file's name says, or None when auditlog does not read it."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes = suffixes[:-1]
    if not suffixes or suffixes[-1] not in SUFFIXES:
        return None
    fmt = SUFFIXES[suffixes[-1]]
    if gzipped and fmt not in TEXT_FORMATS:
        return None
    return InputFile(path=path, format=fmt, gzipped=gzipped)


def discover(paths: list[Path]) -> list[InputFile]:
    """Expand directories into the readable files below them, in a stable order.

    A file named on the command line must be readable; inside a directory, files of
    other types (READMEs, licenses) are passed over.
    """
    found: list[InputFile] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if not hidden and (classified := classify(child)) is not None:
                    found.append(classified)
        elif path.is_file():
            classified = classify(path)
            if classified is None:
                raise InputError(
                    f"unsupported file type; auditlog reads {describe_suffixes()}",
                    source=str(path),
                )
            found.append(classified)
        else:
            raise InputError("no such file or directory", source=str(path))
    if not found:
        raise InputError(
            "no log files found in "
            + ", ".join(str(p) for p in paths)
            + f"; auditlog reads {describe_suffixes()}"
        )
    return found


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
    try:
        with gzip.open(source.path, "rb") as handle:
            profile = _profile(iter(lambda: handle.read(CHUNK), b""), source)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"cannot read as {source.format} (gzip): the gzip stream is "
            f"{'truncated' if isinstance(exc, EOFError) else 'corrupt'} ({exc})",
            source=source.display,
        ) from None
    return Fingerprint(sha256_of(source.path), profile)


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
