"""The log sources auditlog reads: readers of file formats, adapters of standard record
formats, behind one small interface each, registered here and nowhere else.

A *reader* turns one file of a format (files.Format, told by its content: files.identify)
into staged rows (staging.py), or, for JSON records, leaves them in `DOCS` and answers
staging.IN_DOCS. An *adapter* recognizes a standard format (CloudTrail, Kubernetes audit,
OCSF) from the keys of a record and stages such records into one table per kind it maps
onto; a file whose records are of several formats is cut into one group per format
(stage_records). Records no adapter recognizes are staged by their own keys (records.py). The
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
from dataclasses import replace
from typing import Protocol

import duckdb

from auditlog.errors import InputError
from auditlog.ingest import awslogs, cloudwatch, eventlists, pubsub, records
from auditlog.ingest.auditd import Auditd
from auditlog.ingest.evtx import Evtx
from auditlog.ingest.files import InputFile, TextProfile
from auditlog.ingest.kept import keep_docs, keep_grouped
from auditlog.ingest.readers import READ_ERRORS, NativeFormats, read_error
from auditlog.ingest.staging import CWL_ENVELOPES, DOCS, GROUPED, Records, Staged, drop
from auditlog.ingest.standard.azure import AzureMonitor
from auditlog.ingest.standard.cloudtrail import CloudTrail, CloudTrailDigest
from auditlog.ingest.standard.cloudtrail_lake import CloudTrailLakeResults, CloudTrailLakeSign
from auditlog.ingest.standard.gcp import CloudAudit
from auditlog.ingest.standard.github import GitHubAudit
from auditlog.ingest.standard.k8s import KubernetesAudit
from auditlog.ingest.standard.laurel import Laurel
from auditlog.ingest.standard.o365 import Office365
from auditlog.ingest.standard.ocsf import Ocsf
from auditlog.ingest.standard.okta import Okta
from auditlog.ingest.standard.windows import WindowsSecurity
from auditlog.ingest.standard.workspace import GoogleWorkspace
from auditlog.sqltext import quote_ident


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


CLOUDTRAIL = CloudTrail()

# Tried in order, most specific first: the first that matches a file's keys stages it.
ADAPTERS: tuple[Adapter, ...] = (
    CLOUDTRAIL,
    CloudTrailDigest(),
    CloudTrailLakeSign(),
    CloudTrailLakeResults(),
    KubernetesAudit(),
    CloudAudit(),
    AzureMonitor(),
    GitHubAudit(),
    Okta(),
    GoogleWorkspace(),
    Office365(),
    Ocsf(),
    WindowsSecurity(),
    Laurel(),
)

_NATIVE = NativeFormats()
# A file's format (files.Format, told from its content: files.classify) → its reader.
# A format told but not listed here is an error naming it (sources.read).
READERS: dict[str, Reader] = {
    **{fmt: _NATIVE for fmt in _NATIVE.formats},
    "evtx": Evtx(),
    "auditd": Auditd(),
}


# What _claim answers for records staged by their own keys (the kinds' columns).
NATIVE = "native"


def adapter_for(keys: set[str]) -> Adapter | None:
    return next((adapter for adapter in ADAPTERS if adapter.matches(keys)), None)


def is_standard(keys: set[str]) -> bool:
    """Whether records with these keys are an adapter's, a CloudWatch Logs
    subscription message holding such records (cloudwatch.py), as a Lambda function
    receives one (awslogs.py), a Kubernetes audit EventList (eventlists.py), or a
    Pub/Sub message carrying a record (pubsub.py): never native columns."""
    return (adapter_for(keys) is not None or cloudwatch.KEYS <= keys
            or awslogs.KEY in keys or eventlists.KEYS <= keys or pubsub.may_hold(keys))


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
    except InputError as exc:
        if exc.source is not None:
            raise
        # An adapter refusing what its records are (it is not told the file's name).
        raise InputError(exc.args[0], source=source.display,
                         arguments=exc.arguments) from None


def _no_standard(keys: set[str]) -> bool:
    return False


def stage_records(con: duckdb.DuckDBPyConnection, *, adapters: bool = True) -> list[Staged]:
    """The records in `DOCS` staged by the adapter of their format, or by their keys.

    The format is told per record, by the record's own keys: a file may mix formats
    (a collector's output holding native Kubernetes audit events, GKE `protoPayload`
    entries and AKS diagnostic records). The records are grouped by their key sets in
    SQL, and an adapter is asked once per key set, not per record; a file whose key
    sets all point one way (nearly every file) is staged in one piece as before.

    Records that wrap others are first unwrapped into the records they hold, each then
    told by its own keys: a Lambda function's CloudWatch Logs event into its
    subscription payload (awslogs.py), a subscription payload into its log events
    (cloudwatch.py), a Kubernetes audit EventList into its items (eventlists.py), a
    Pub/Sub message into the record its data holds (pubsub.py)."""
    if not adapters:
        return _stage_records(con, adapters, cloudwatch.Unwrapped(0, 0, 0))
    pubsub.decode(con)
    awslogs.decode(con)
    eventlists.unwrap(con)
    try:
        return _stage_records(con, adapters, cloudwatch.unwrap(con))
    finally:
        drop(con, CWL_ENVELOPES)


def _stage_records(con: duckdb.DuckDBPyConnection, adapters: bool,
                   unwrapped: cloudwatch.Unwrapped) -> list[Staged]:
    if unwrapped.messages and _is_empty(con):
        return [_no_events(con, unwrapped.no_events or "CloudWatch Logs messages")]
    records.mark_repeated_keys(con)
    shapes = records.record_shapes(con) if adapters else None
    if shapes is None:
        keys = records.record_keys(con)
        adapter = adapter_for(set(keys)) if adapters else None
        return _stage_whole(con, adapter, keys)
    claims = {shape: _claim(set(shape)) for shape in shapes}
    if unwrapped.events and (not claims or None in claims.values()):
        # A subscription's event whose message no format claims: quarantined naming the
        # log group, and, when nothing else in the file is a record auditlog reads (nor
        # is any message JSON: a plain-text log's), by the CloudTrail adapter (what such
        # subscriptions are read for), not refused as a file of no kind.
        cloudwatch.unclaimed(con, [shape for shape, claim in claims.items() if claim is None])
        shapes = records.record_shapes(con) or []
        claims = {shape: _claim(set(shape)) for shape in shapes}
        if not claims:
            return _stage_whole(con, CLOUDTRAIL, [])
    formats = [a for a in ADAPTERS if a.name in claims.values()]
    native = NATIVE in claims.values()
    if not formats or (len(formats) == 1 and not native):
        # One format (records no adapter claims are its own to judge, unless they share
        # no key with its records: then they are of no format), or none.
        if formats:
            claimed = {k for shape, claim in claims.items() if claim for k in shape}
            records.mark_strangers(
                con, [shape for shape, claim in claims.items()
                      if claim is None and not claimed.intersection(shape)],
                formats[0].name)
        keys = sorted({k for shape in shapes for k in shape})
        return _stage_whole(con, formats[0] if formats else None, keys)
    return _stage_groups(con, claims, formats)


def _is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {DOCS})").fetchone()
    return bool(row and row[0])


def _no_events(con: duckdb.DuckDBPyConnection, what: str) -> Staged:
    """A file whose records held no events (`what` it is): no rows, no kind."""
    table = "_stage_no_events"
    drop(con, table)
    con.execute(f"ALTER TABLE {DOCS} RENAME TO {table}")
    return Staged(columns=[], style="json", table=table, no_events=what)


def _stage_whole(con: duckdb.DuckDBPyConnection, adapter: Adapter | None,
                 keys: list[str]) -> list[Staged]:
    if adapter is None:
        staged = [records.stage_by_keys(con, keys)]
        con.execute(f"DROP TABLE {DOCS}")
        return staged
    staged = adapter.stage(con)
    keep_docs(con)  # a standard record is kept verbatim (kept.py); DOCS becomes KEPT
    return staged


def _claim(keys: set[str]) -> str | None:
    """Who reads records with these keys: an adapter (its name), a kind's own columns
    (NATIVE), or no one (None)."""
    adapter = adapter_for(keys)
    if adapter is not None:
        return adapter.name
    return NATIVE if records.is_native(keys) else None


def _stage_groups(con: duckdb.DuckDBPyConnection, claims: dict[tuple[str, ...], str | None],
                  formats: list[Adapter]) -> list[Staged]:
    """A file of several formats (`claims`: each key set's reader, see _claim; `formats`:
    the adapters claiming some, in ADAPTERS order): each adapter stages its own records,
    as if they were a file of their own; the records of a kind's own columns are staged
    by their keys. Each adapter's tables are renamed apart (`_g<i>_...`), so that two
    formats mapping onto one kind cannot meet in a table. Records no one claims go to the
    first format, which judges them when it is the file's only one (a CloudTrail record
    without eventVersion is CloudTrail's to quarantine, with its reason); among several
    they are quarantined with a reason naming the formats. Records that could not be read
    (`_bad`) go to the first format as well; every record lands in exactly one group."""
    home = formats[0]
    reason = None if len(formats) == 1 else (
        "a record whose keys match neither a format of this file's other records ("
        + ", ".join(a.name for a in formats) + ") nor the columns of a kind")
    shapes = list(claims)
    con.execute(
        f"""
        CREATE TEMP TABLE {GROUPED} AS
        WITH shapes AS (SELECT list_sort(unnest($shapes)) AS shape, unnest($targets) AS target,
                               unnest($reasons) AS reason)
        SELECT d._row, d._loc, d._raw, coalesce(d._bad, s.reason) AS _bad,
               coalesce(s.target, $home) AS _target
        FROM (SELECT *, CASE WHEN _bad IS NULL THEN list_sort(json_keys(_raw)) END AS shape
              FROM {DOCS}) d
        LEFT JOIN shapes s USING (shape)
        """,
        {"shapes": [list(shape) for shape in shapes],
         "targets": [claims[shape] or home.name for shape in shapes],
         "reasons": [None if claims[shape] else reason for shape in shapes],
         "home": home.name},
    )
    con.execute(f"DROP TABLE {DOCS}")
    staged: list[Staged] = []
    kept: dict[str, str] = {}  # adapter name -> the source_format its records are kept as
    for i, adapter in enumerate(formats):
        _group_docs(con, adapter.name)
        tables = [_rename(con, t, f"_g{i}{t.table}") for t in adapter.stage(con)]
        kept[adapter.name] = next((t.source_format for t in tables if t.source_format),
                                  adapter.name)
        staged += tables
        con.execute(f"DROP TABLE {DOCS}")
    if NATIVE in claims.values():
        _group_docs(con, NATIVE)
        keys = sorted({k for shape, claim in claims.items() if claim == NATIVE for k in shape})
        staged.append(records.stage_by_keys(con, keys))
        con.execute(f"DROP TABLE {DOCS}")
    keep_grouped(con, kept)  # the standard records, each kept as its format's (kept.py)
    return staged


def _group_docs(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """`DOCS` holding the records of one group of `GROUPED`, in their order."""
    con.execute(
        f"CREATE TEMP TABLE {DOCS} AS SELECT _row, _loc, _raw, _bad FROM {GROUPED} "
        "WHERE _target = $target ORDER BY _row, _loc",
        {"target": target},
    )


def _rename(con: duckdb.DuckDBPyConnection, staged: Staged, table: str) -> Staged:
    con.execute(f"ALTER TABLE {quote_ident(staged.table)} RENAME TO {quote_ident(table)}")
    return replace(staged, table=table)
