"""The log sources auditlog reads: readers of file formats, adapters of standard record
formats, behind one small interface each, registered here and nowhere else.

A *reader* turns one file of a format (files.Format, told by its content: files.identify)
into staged rows (staging.py), or, for JSON records, leaves them in `DOCS` and answers
staging.IN_DOCS. An *adapter* recognizes a standard format (CloudTrail, Kubernetes audit,
OCSF) from the keys of a file's records and stages them into one table per kind it maps
onto. Records no adapter recognizes are staged by their own keys (records.py). The
pipeline asks this module (`read`) and knows nothing of either.

Adding a log source:
- a standard record format (JSON records of a known shape, e.g. Okta System Log): one
  module in `ingest/standard/` with a class that has the Adapter interface below (it
  imports only ingest.staging, sqltext, kinds and errors), and one line in ADAPTERS;
- a new file format (e.g. EVTX): one module with a Reader, one line in READERS (and how
  its content is told in files.identify, its usual suffix in files.SUFFIXES).
Nothing else changes: typing, judging and storing are the same for every source.

No import cycle: this module imports the readers and adapters; they import only the
staging schema and the vocabulary below it, never this registry (a reader is handed
`is_standard` when it needs to know whether records are an adapter's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import duckdb

from auditlog.errors import InputError
from auditlog.ingest import records
from auditlog.ingest.auditd import Auditd
from auditlog.ingest.evtx import Evtx
from auditlog.ingest.files import InputFile, TextProfile
from auditlog.ingest.kept import keep_docs
from auditlog.ingest.readers import READ_ERRORS, NativeFormats, read_error
from auditlog.ingest.staging import DOCS, Records, Staged
from auditlog.ingest.standard.azure import AzureMonitor
from auditlog.ingest.standard.cloudtrail import CloudTrail, CloudTrailDigest
from auditlog.ingest.standard.gcp import CloudAudit
from auditlog.ingest.standard.github import GitHubAudit
from auditlog.ingest.standard.k8s import KubernetesAudit
from auditlog.ingest.standard.ocsf import Ocsf
from auditlog.ingest.standard.okta import Okta
from auditlog.ingest.standard.windows import WindowsSecurity
from auditlog.ingest.standard.workspace import GoogleWorkspace


class Adapter(Protocol):
    name: str

    def matches(self, keys: set[str]) -> bool:
        """Whether records with these top-level keys are in this format."""
        ...

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        """`DOCS(_row, _loc, _raw, _bad)` → staging tables, one per kind (each with
        `kind` and `source_format` set; see staging.split_by_kind)."""
        ...


class Reader(Protocol):
    formats: tuple[str, ...]

    def stage(self, con: duckdb.DuckDBPyConnection, source: InputFile, *, lazy: bool,
              profile: TextProfile | None,
              standard: Callable[[set[str]], bool]) -> list[Staged] | Records:
        """`source` → staged tables, or its JSON records in `DOCS` (staging.IN_DOCS).
        `lazy`: a view over the file is welcome; `profile`: its bytes' profile
        (files.fingerprint), None when not taken; `standard`: whether records with these
        keys are an adapter's (they must then be left in `DOCS`). Raises InputError when
        the file cannot be read."""
        ...


# Tried in order, most specific first: the first that matches a file's keys stages it.
ADAPTERS: tuple[Adapter, ...] = (
    CloudTrail(),
    CloudTrailDigest(),
    KubernetesAudit(),
    CloudAudit(),
    AzureMonitor(),
    GitHubAudit(),
    Okta(),
    GoogleWorkspace(),
    Ocsf(),
    WindowsSecurity(),
)

_NATIVE = NativeFormats()
# A file's format (files.Format, told from its content: files.classify) → its reader.
# A format told but not listed here is an error naming it (sources.read).
READERS: dict[str, Reader] = {
    **{fmt: _NATIVE for fmt in _NATIVE.formats},
    "evtx": Evtx(),
    "auditd": Auditd(),
}


def adapter_for(keys: set[str]) -> Adapter | None:
    return next((adapter for adapter in ADAPTERS if adapter.matches(keys)), None)


def is_standard(keys: set[str]) -> bool:
    return adapter_for(keys) is not None


def read(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    *,
    lazy: bool = True,
    profile: TextProfile | None = None,
    adapters: bool = True,
) -> list[Staged]:
    """`source` staged: by its format's reader, its records by their format's adapter
    (or, without `adapters`, by their own keys: a mapping file says how to read them).
    Raises InputError for a format told from the content that no reader is registered
    for."""
    reader = READERS.get(source.format)
    if reader is None:
        raise InputError(
            f"recognized as {source.format}, but this auditlog has no reader for that "
            f"format; it reads {', '.join(sorted(READERS))}",
            source=source.display,
        )
    standard = is_standard if adapters else _no_standard
    staged = reader.stage(con, source, lazy=lazy, profile=profile, standard=standard)
    if not isinstance(staged, Records):
        return staged
    try:
        return stage_records(con, adapters=adapters)
    except READ_ERRORS as exc:
        raise read_error(source, exc) from None


def _no_standard(keys: set[str]) -> bool:
    return False


def stage_records(con: duckdb.DuckDBPyConnection, *, adapters: bool = True) -> list[Staged]:
    """The records in `DOCS` staged by the adapter of their format, or by their keys."""
    records.mark_repeated_keys(con)
    keys = records.record_keys(con)
    adapter = adapter_for(set(keys)) if adapters else None
    if adapter is None:
        staged = [records.stage_by_keys(con, keys)]
        con.execute(f"DROP TABLE {DOCS}")
        return staged
    staged = adapter.stage(con)
    keep_docs(con)  # a standard record is kept verbatim (kept.py); DOCS becomes KEPT
    return staged
