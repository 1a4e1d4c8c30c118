"""The manifest of an export: every file with its row count and SHA-256, the tool and
rule-pack versions, the parameters of the last run and the digests of the input files;
and `verify`, which recomputes the digests and names what changed.

The manifest holds nothing that depends on when the export ran, so exporting the same
database twice gives byte-identical files, manifest included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import duckdb

from auditlog.analysis.findings import has_table
from auditlog.errors import InputError
from auditlog.export.evidence import InputFile
from auditlog.export.model import FIXED_DOCUMENT_TIME
from auditlog.ingest.coverage import Gap
from auditlog.pack.loader import builtin_root, pack_dirs
from auditlog.pack.units import UNIT_DIRS
from auditlog.values import as_json

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
RULE_FILE_SUFFIXES = (".sql", ".toml", ".yaml", ".json")


def tool_version() -> str:
    try:
        return version("auditlog")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack_files(root: Traversable, prefix: str = "") -> Iterable[tuple[str, bytes]]:
    """(relative path, content) of every rule file below `root`, cases included."""
    for item in sorted(root.iterdir(), key=lambda i: i.name):
        name = f"{prefix}{item.name}"
        if item.is_dir() and not item.name.startswith(("_", ".")):
            yield from pack_files(item, f"{name}/")
        elif item.is_file() and item.name.endswith(RULE_FILE_SUFFIXES):
            yield name, item.read_bytes()


@dataclass(frozen=True)
class PackDigest:
    """A rule pack (or the shared units) and the digest of its files."""

    pack: str
    source: str
    sha256: str
    files: int
    rules: tuple[str, ...]


@dataclass(frozen=True)
class RunEntry:
    """The parameters and counts of the latest `auditlog run`."""

    run_id: str
    started_at: datetime | None
    rules: tuple[str, ...]
    params: dict[str, Any]
    since: datetime | None
    until: datetime | None
    findings: int
    new: int
    disappeared: int


@dataclass(frozen=True)
class FileEntry:
    """One written file: its tables and their row counts, size and SHA-256."""

    path: str
    format: str
    rows: int
    tables: dict[str, int]
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Tool:
    name: str
    version: str


@dataclass(frozen=True)
class CoverageSummary:
    """What the exported answer cannot see: kinds without rows, gaps, the caveats."""

    missing: tuple[str, ...]
    gaps: tuple[Gap, ...]
    caveats: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """The manifest of an export (manifest.json is `as_json()`)."""

    manifest_version: int
    tool: Tool
    formats: tuple[str, ...]
    ocsf_version: str | None
    tables: dict[str, int]
    run: RunEntry | None
    rule_packs: tuple[PackDigest, ...]
    inputs: tuple[InputFile, ...]
    coverage: CoverageSummary
    files: tuple[FileEntry, ...]

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = as_json(self)
        return document


def pack_digest(pack: Traversable, source: str) -> PackDigest:
    """A pack's version: the SHA-256 of its `sha256sum`-style listing (digest, two spaces,
    relative path, one line per file, sorted by path), so anyone can recompute it."""
    files = sorted(pack_files(pack))  # by full relative path, as `sort` orders them
    listing = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files)
    rules = sorted(name.removesuffix(".sql") for name, _ in files
                   if name.endswith(".sql") and "/" not in name)
    return PackDigest(pack.name, source, hashlib.sha256(listing.encode()).hexdigest(),
                      listing.count("\n"), tuple(rules))


def rule_packs(rules_dirs: Iterable[Path] = ()) -> list[PackDigest]:
    """The built-in packs, the shared views and controls they build on, and the user's
    packs."""
    root = builtin_root()
    packs = [pack_digest(p, "builtin") for p in pack_dirs(root)]
    packs += [pack_digest(root / d, "builtin") for d in UNIT_DIRS if (root / d).is_dir()]
    for directory in rules_dirs:
        user_packs = pack_dirs(directory) or [directory]
        packs += [pack_digest(p, str(directory)) for p in user_packs]
    return packs


def last_run(con: duckdb.DuckDBPyConnection) -> RunEntry | None:
    """The parameters and counts of the latest `auditlog run`, or None before any."""
    if not has_table(con, "runs"):
        return None
    row = con.execute("SELECT run_id, started_at, rules, params, since, until, findings, new, "
                      "disappeared FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    run_id, started, rules, params, since, until, found, new, gone = row
    return RunEntry(run_id, started, tuple(sorted(rules or [])),
                    json.loads(params) if params else {}, since, until, found, new, gone)


def document_time(con: duckdb.DuckDBPyConnection) -> datetime:
    """The date documents carry (XLSX properties): the last run's start, never "now"."""
    run = last_run(con)
    return run.started_at.astimezone(UTC) if run and run.started_at else FIXED_DOCUMENT_TIME


def file_entry(out_dir: Path, name: str, fmt: str, rows: dict[str, int]) -> FileEntry:
    """One written file: its tables and their row counts, size and SHA-256."""
    path = out_dir / name
    return FileEntry(name, fmt, sum(rows.values()), rows, path.stat().st_size,
                     sha256_file(path))


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    path = out_dir / MANIFEST
    path.write_text(json.dumps(manifest.as_json(), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def read_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = document["files"]
        for entry in entries:
            name = entry["path"]
            if not isinstance(name, str) or not isinstance(entry["sha256"], str):
                raise TypeError("a file entry lacks path or sha256")
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise ValueError(f"file entry {name!r} points outside the export")
    except FileNotFoundError:
        raise InputError(f"{out_dir} holds no {MANIFEST}; it is not an auditlog export") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{path} is not an auditlog manifest ({exc})") from None
    return dict(document)


@dataclass
class Verification:
    """What `verify` found: intact when nothing changed, went missing or was added (and,
    when inputs were checked, every input file is still where and what it was)."""

    directory: Path
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    inputs_changed: list[str] = field(default_factory=list)
    inputs_missing: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not (self.changed or self.missing or self.extra or self.inputs_changed
                    or self.inputs_missing)

    def problems(self) -> list[tuple[str, str]]:
        """(what, file) for every problem, in a fixed order."""
        return [(label, name) for label, names in (
            ("changed", self.changed), ("missing", self.missing), ("extra", self.extra),
            ("input changed", self.inputs_changed), ("input missing", self.inputs_missing),
        ) for name in names]

    def as_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "intact": self.intact, "checked": self.checked,
                "changed": self.changed, "missing": self.missing, "extra": self.extra,
                "inputs_changed": self.inputs_changed, "inputs_missing": self.inputs_missing}


def verify(out_dir: Path, *, inputs: bool = False) -> Verification:
    """Recompute every listed file's SHA-256; list files nobody listed. With `inputs`,
    also recompute the digest of every input file at the paths it was loaded from."""
    if not out_dir.is_dir():
        raise InputError(f"{out_dir} is not a directory")
    document = read_manifest(out_dir)
    result = Verification(out_dir)
    listed = set()
    for entry in document["files"]:
        name = entry["path"]
        listed.add(name)
        path = out_dir / name
        result.checked += 1
        if not path.is_file():
            result.missing.append(name)
        elif sha256_file(path) != entry["sha256"]:
            result.changed.append(name)
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    result.extra = sorted(present - listed - {MANIFEST})
    result.changed.sort()
    result.missing.sort()
    if inputs:
        check_inputs(document.get("inputs") or [], result)
    return result


def check_inputs(inputs: list[dict[str, Any]], result: Verification) -> None:
    # Relative paths are as ingest was given them: relative to where it ran.
    for item in inputs:
        for name in item.get("paths") or []:
            path = Path(name)
            if not path.is_file():
                result.inputs_missing.append(name)
            elif sha256_file(path) != item["sha256"]:
                result.inputs_changed.append(name)
    result.inputs_changed.sort()
    result.inputs_missing.sort()
