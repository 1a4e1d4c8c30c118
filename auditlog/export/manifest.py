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
from auditlog.errors import InputError, UsageError
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


def manifest_bytes(manifest: Manifest) -> bytes:
    """manifest.json as written, byte for byte."""
    return (json.dumps(manifest.as_json(), indent=2, ensure_ascii=False) + "\n").encode()


def manifest_sha256(manifest: Manifest) -> str:
    """The SHA-256 of manifest.json: recorded elsewhere (a ticket, an archive's log), it
    makes an edited manifest detectable (`verify --manifest-sha256`), which the digests
    inside the manifest cannot: whoever edits a file can edit its digest too."""
    return hashlib.sha256(manifest_bytes(manifest)).hexdigest()


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    path = out_dir / MANIFEST
    path.write_bytes(manifest_bytes(manifest))
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
    when inputs were checked, every input file is still where and what it was; and, when
    the manifest's recorded digest was given, the manifest is the one recorded)."""

    directory: Path
    manifest_sha256: str = ""
    expected_manifest_sha256: str | None = None
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    inputs_changed: list[str] = field(default_factory=list)
    inputs_missing: list[str] = field(default_factory=list)

    @property
    def manifest_changed(self) -> bool:
        """The manifest is not the one whose digest was recorded (False when none given)."""
        expected = self.expected_manifest_sha256
        return expected is not None and expected != self.manifest_sha256

    @property
    def intact(self) -> bool:
        return not (self.manifest_changed or self.changed or self.missing or self.extra
                    or self.inputs_changed or self.inputs_missing)

    def problems(self) -> list[tuple[str, str]]:
        """(what, file) for every problem, in a fixed order."""
        edited = (f"{MANIFEST} (sha256 {self.manifest_sha256}, recorded "
                  f"{self.expected_manifest_sha256})")
        manifest = [edited] if self.manifest_changed else []
        return [(label, name) for label, names in (
            ("manifest changed", manifest),
            ("changed", self.changed), ("missing", self.missing), ("extra", self.extra),
            ("input changed", self.inputs_changed), ("input missing", self.inputs_missing),
        ) for name in names]

    def as_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "intact": self.intact, "checked": self.checked,
                "manifest_sha256": self.manifest_sha256,
                "expected_manifest_sha256": self.expected_manifest_sha256,
                "manifest_changed": self.manifest_changed,
                "changed": self.changed, "missing": self.missing, "extra": self.extra,
                "inputs_changed": self.inputs_changed, "inputs_missing": self.inputs_missing}


def verify(out_dir: Path, *, inputs: bool = False,
           manifest_sha256: str | None = None) -> Verification:
    """Recompute every listed file's SHA-256; list files nobody listed. With `inputs`,
    also recompute the digest of every input file where it was loaded from. With
    `manifest_sha256` (the digest `export` printed, recorded elsewhere), the manifest
    itself must be that one: an edited file with an edited manifest then fails too."""
    expected = expected_digest(manifest_sha256)
    if not out_dir.is_dir():
        raise InputError(f"{out_dir} is not a directory")
    document = read_manifest(out_dir)
    result = Verification(out_dir, sha256_file(out_dir / MANIFEST), expected)
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
        check_inputs(document.get("inputs") or [], out_dir, result)
    return result


def expected_digest(text: str | None) -> str | None:
    """A recorded SHA-256 as 64 lower-case hex digits (as sha256sum writes it)."""
    if text is None:
        return None
    digest = text.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise UsageError(f"{{manifest_sha256}} '{text}' is not a SHA-256 (64 hex digits)",
                         arguments=("manifest_sha256",))
    return digest


def input_candidates(name: str, location: str | None, out_dir: Path) -> list[Path]:
    """Where an input file may be, in order: where ingest found it (its absolute path);
    then its path as ingest was given it, relative to the export directory or to the
    directory holding it (an export kept in or beside the case folder its logs were
    loaded from verifies wherever the folder is moved). Only an input recorded without a
    location (by a database older than file_locations) is also looked for relative to
    the working directory, as such exports always were. The first place that holds a
    file decides: a changed file where ingest found it is changed, whatever copy lies
    elsewhere."""
    given = Path(name)
    found = [Path(location)] if location else []
    if given.is_absolute():
        found.append(given)
    else:
        found += [out_dir / given, out_dir.parent / given]
        if not location:
            found.append(given)
    return list(dict.fromkeys(found))


def check_inputs(inputs: list[dict[str, Any]], out_dir: Path, result: Verification) -> None:
    """Each input path, at the first of its places holding a file (input_candidates):
    changed unless that file has the recorded digest; missing when no place holds one."""
    for item in inputs:
        names = item.get("paths") or []
        locations = item.get("locations") or [None] * len(names)
        for name, location in zip(names, locations, strict=False):
            there = next((p for p in input_candidates(name, location, out_dir)
                          if p.is_file()), None)
            if there is None:
                result.inputs_missing.append(name)
            elif sha256_file(there) != item["sha256"]:
                result.inputs_changed.append(name)
    result.inputs_changed.sort()
    result.inputs_missing.sort()
