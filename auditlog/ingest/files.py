"""Finding input files, naming their format, and fingerprinting them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from auditlog.errors import InputError

Format = Literal["jsonl", "json", "csv", "tsv", "parquet"]

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

    @property
    def display(self) -> str:
        return str(self.path)


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
