"""One ingest call: every file read, checked, deduplicated and stored, all or nothing.

For every file, loaded + duplicates + quarantined = rows_read, always:
- a row that breaks the contract is quarantined with its position, raw text and reason;
- a row whose id is already stored (or appears earlier in the file) with the same
  content is a duplicate: counted, not stored again;
- with different content it is a conflict: quarantined, the stored version kept.
The whole call is one DuckDB transaction, so a failure, or a kill, leaves the database
exactly as it was.

A file's way, one step per module, each step leaving its table of the staging schema
(staging.py) for the next:

    discover (files)      the files below the paths, each with its format
    profile  (files)      its SHA-256 and the byte profile that picks the reader
    read     (sources)    its reader → staged rows; JSON records → their format's adapter
    type     (check)      every staged row typed, digested and checked → TYPED
    judge    (judge)      new, duplicate or conflict, by id → VERDICT
             (answered)   ... a request's stages in two files resolved to its answer
    store    (loading)    rows, quarantine and shared rows stored
    record   (loading)    the file in ingested_files (and naive_files)

Rows handed over as data (a rule case's) take the same way from `type` on
(`ingest_rows`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shlex
import warnings
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time
from pathlib import Path

import duckdb

from auditlog.errors import AuditlogWarning, InputError, UsageError
from auditlog.ingest.answered import settle_answered
from auditlog.ingest.check import check_rows
from auditlog.ingest.coverage import begin_changes, store_coverage
from auditlog.ingest.files import (
    Fingerprint,
    Hidden,
    InputFile,
    Unrecognized,
    discover,
    fingerprint,
)
from auditlog.ingest.judge import judge, siblings
from auditlog.ingest.kept import keep_mapped, store_kept
from auditlog.ingest.loading import NO_ZONE, record_file, record_naive, store_rows
from auditlog.ingest.other_names import absent_required, likely_names
from auditlog.ingest.records import record_keys, stage_by_keys
from auditlog.ingest.refund_accounts import fill_from_charges
from auditlog.ingest.sources import read
from auditlog.ingest.staging import DOCS, Staged, drop, drop_all, materialize
from auditlog.ingest.standard.mapping import Mapping as ColumnMapping
from auditlog.ingest.standard.mapping import apply_mapping, filtered_rows, load_mapping
from auditlog.ingest.validate import detect_kind, install_macros
from auditlog.kinds import KINDS, Kind


@dataclass(frozen=True)
class FileResult:
    path: str
    kind: str
    sha256: str
    rows_read: int
    loaded: int
    duplicates: int
    quarantined: int
    # Beyond the contract's report (so not in as_dict): how many timestamps carried no
    # offset, the zone they were read in (None when there were none), and how many of
    # them fell in a daylight-saving gap or overlap (see validate.MACROS for the rule).
    naive_times: int = 0
    tz: str | None = None
    dst_resolved: int = 0
    # Of the quarantined rows, how many a mapping's filters set aside.
    filtered: int = 0
    # The zone of the naive times was given (--tz, or the mapping's `tz`), not assumed.
    zone_chosen: bool = False
    # What the file is, when it was recognized but holds no events (Staged.no_events).
    no_events: str | None = None
    # Of a CSV/TSV file: how many lines repeat its header (files joined with their
    # headers, a paginated export), skipped and not counted as rows, and the file line
    # of the first (0 when it could not be placed).
    repeated_headers: int = 0
    first_header_line: int = 0
    # How many timestamps of the rows checked carried digits below the microsecond
    # (nanoseconds), cut to microseconds when stored (validate.BELOW_US).
    below_microsecond: int = 0
    # How many timestamps of the rows loaded were a date without a time of day, read as
    # that day's midnight (validate.DATE_ONLY).
    date_only: int = 0
    # How many actions have no known result (Kubernetes requests logged only when
    # received, with no response): stored with result NULL, not as successes.
    unknown_results: int = 0
    # The required columns of the kind named (--kind) that the file has no column for,
    # so that every row was quarantined, and (required column, source column) for those
    # another of its columns is commonly named (other_names.py): a mapping renames them.
    absent_required: tuple[str, ...] = ()
    likely_names: tuple[tuple[str, str], ...] = ()
    # How many rows repeated stored rows but for extra columns one export has and the
    # other lacks: duplicates, the stored row's extra columns kept (judge.variant).
    other_extras: int = 0
    # How many stored rows of unknown result (an earlier file's RequestReceived) this
    # file's answer replaced (ingest/answered.py).
    answered_later: int = 0

    def as_dict(self) -> dict[str, object]:
        return {name: value for name, value in asdict(self).items() if name in REPORTED}


REPORTED = ("path", "kind", "sha256", "rows_read", "loaded", "duplicates", "quarantined")


# Called after each file with (index, total, result), for progress bars.
Progress = Callable[[int, int, FileResult], None]


def warn_skipped(file: Unrecognized) -> None:
    """What becomes of a file passed over when the caller says nothing: a warning."""
    warnings.warn(f"skipped {file.path}, not in a format auditlog reads: {file.reason}",
                  AuditlogWarning, stacklevel=3)


def warn_hidden(hidden: Hidden) -> None:
    """What becomes of hidden files passed over when the caller says nothing: a warning."""
    warnings.warn(str(hidden), AuditlogWarning, stacklevel=3)


def check_timezone(con: duckdb.DuckDBPyConnection, tz: str) -> None:
    (known,) = con.execute(
        "SELECT count(*) > 0 FROM pg_timezone_names() WHERE name = $tz", {"tz": tz}
    ).fetchone() or (False,)
    if not known:
        raise UsageError(f"unknown time zone {tz!r}; use an IANA name such as UTC or Europe/Paris")


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    *,
    kind: str | None = None,
    tz: str | None = None,
    strict: bool = False,
    currency: str | None = None,
    progress: Progress | None = None,
    mapping: Path | None = None,
    skipped: Callable[[Unrecognized], None] = warn_skipped,
    hidden: Callable[[Hidden], None] = warn_hidden,
) -> list[FileResult]:
    """Load `paths` (files or directories) into the database behind `con`; `mapping`
    names a mapping file (see ingest/standard/mapping.py) applied to every file. A file
    of a directory in no format auditlog reads is passed over and handed to `skipped`
    (by default an AuditlogWarning); with `strict` it is an error (files.discover). The
    hidden files and folders of a directory are passed over unread and handed to
    `hidden`, one call per directory given (by default an AuditlogWarning too).

    `tz` is the zone of timestamps without an offset; None means not chosen: UTC, or for
    a file already loaded, the zone it was read in then (so a reload stays a no-op). A
    file loaded before with another zone is refused: it must be forgotten first."""
    rules = load_mapping(mapping, kind=kind) if mapping is not None else None
    kind = kind if kind is not None or rules is None else rules.kind
    tz = tz if tz is not None or rules is None else rules.tz
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    if tz is not None:
        check_timezone(con, tz)
    discovered = discover(paths, strict=strict)
    for passed_over in discovered.skipped:
        skipped(passed_over)
    for unread in discovered.hidden:
        hidden(unread)
    sources = discovered.files
    install_macros(con)
    results: list[FileResult] = []
    with ThreadPoolExecutor(max_workers=1) as hasher:
        digests = [hasher.submit(fingerprint, s) for s in sources]
        con.execute("BEGIN TRANSACTION")
        try:
            base = begin_changes(con)  # the stored coverage, to update from the new rows
            for index, (source, digest) in enumerate(zip(sources, digests, strict=True)):
                result = _ingest_file(con, source, digest.result(), kind, tz, currency, rules)
                # Rows a mapping's filters set aside are quarantined by choice, not
                # for breaking the contract.
                if strict and result.quarantined > result.filtered:
                    raise InputError(
                        f"{result.quarantined - result.filtered} row(s) break the contract and {{strict}} is on; "
                        "nothing was loaded (see them with 'auditlog quarantine' after a "
                        "load without {strict})",
                        source=source.display, arguments=("strict",),  # CLI: --strict
                    )
                results.append(result)
                if progress is not None:
                    progress(index, len(sources), result)
            store_coverage(con, base)  # so that answers read it instead of rescanning
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            drop_all(con)
    return results


@dataclass(frozen=True)
class Rejected:
    """A row `ingest_rows` quarantined: its number (from 1) and why."""

    row: int
    reason: str


@dataclass(frozen=True)
class RowsResult:
    """What `ingest_rows` did with one kind's rows."""

    result: FileResult
    rejected: tuple[Rejected, ...]


def ingest_rows(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, Iterable[Mapping[str, object]]],
    *,
    source: str,
    currency: str | None = None,
) -> dict[str, RowsResult]:
    """Rows handed over as data (kind → its rows, each column → value; a rule case's
    tables), each kind's loaded as a JSON Lines file holding them would be: typed,
    checked, judged and stored by the same steps, all in one transaction. They are named
    `source (kind)` where a file's path would be. Dates and times may be given as Python
    values (written in ISO 8601); naive times are read in UTC. Returns, per kind, the
    result and the rows quarantined, with their reasons."""
    unknown = [kind for kind in tables if kind not in KINDS]
    if unknown:
        raise UsageError(f"unknown kind {unknown[0]!r}; use one of: {', '.join(KINDS)}")
    install_macros(con)
    done: dict[str, RowsResult] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        base = begin_changes(con)
        for kind, rows in tables.items():
            done[kind] = _ingest_kind_rows(con, kind, rows, f"{source} ({kind})", currency)
        store_coverage(con, base)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        drop_all(con)
    return done


def _ingest_kind_rows(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    rows: Iterable[Mapping[str, object]],
    name: str,
    currency: str | None,
) -> RowsResult:
    lines = [json.dumps(dict(row), default=_iso, ensure_ascii=False) for row in rows]
    # The kind is part of the content: the same rows as two kinds are two "files".
    sha256 = hashlib.sha256("\n".join([kind, *lines]).encode("utf-8")).hexdigest()
    origin = InputFile(path=Path(name), format="rows", gzipped=False, label=name)
    result = _load(con, origin, sha256, [_stage_rows(con, lines)], kind, "UTC", None, currency)
    rejected = tuple(Rejected(row, reason) for row, reason in con.execute(
        "SELECT row_number, reason FROM quarantine WHERE file_sha256 = $sha "
        "ORDER BY row_number", {"sha": sha256}).fetchall())
    return RowsResult(result, rejected)


def _iso(value: object) -> str:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    raise TypeError(f"not a value of a log row: {value!r}")


def _stage_rows(con: duckdb.DuckDBPyConnection, lines: list[str]) -> Staged:
    """Rows as JSON text → `DOCS` → staged by their keys, as a JSON file's records are."""
    con.execute(f"CREATE TEMP TABLE {DOCS} (_row BIGINT, _loc VARCHAR, _raw VARCHAR, _bad VARCHAR)")
    if lines:
        con.executemany(f"INSERT INTO {DOCS} VALUES (?, ?, ?, NULL)",
                        [[n, f"row {n}", line] for n, line in enumerate(lines, start=1)])
    staged = stage_by_keys(con, record_keys(con))
    con.execute(f"DROP TABLE {DOCS}")
    return staged


def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    fingerprinted: Fingerprint,
    kind_name: str | None,
    chosen_tz: str | None,
    currency: str | None,
    mapping: ColumnMapping | None = None,
) -> FileResult:
    tz = _zone_for(con, source, fingerprinted.sha256, chosen_tz)
    # A mapping rewrites the staged table in place, so it needs a table, not a view;
    # it says how to read the records, so no standard adapter reads them first.
    staged = read(con, source, lazy=mapping is None, profile=fingerprinted.text,
                  adapters=mapping is None)
    if mapping is None:
        return _load(con, source, fingerprinted.sha256, staged, kind_name, tz, chosen_tz,
                     currency)
    mapped = [apply_mapping(con, materialize(con, s), mapping, file=source.display)
              for s in staged]
    for table in mapped:  # a refund naming only its charge: that charge's account
        fill_from_charges(con, table, mapping.name)
    filtered = sum(filtered_rows(con, s) for s in mapped)
    keep_mapped(con, mapped)  # the records the mapping read are kept verbatim (kept.py)
    result = _load(con, source, fingerprinted.sha256, mapped, kind_name, tz, chosen_tz, currency,
                   record_format=f"mapping:{mapping.name}")
    return replace(result, filtered=filtered)


def _load(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    sha256: str,
    staged_tables: Iterable[Staged],
    kind_name: str | None,
    tz: str,
    chosen_tz: str | None,
    currency: str | None,
    record_format: str | None = None,
) -> FileResult:
    """The staged tables of one file typed, judged and stored, and the file recorded.
    `record_format`: what read the records kept (kept.py) when no adapter did (a
    mapping's `mapping:NAME`); by default the staged tables' standard format."""
    counts = {"rows_read": 0, "loaded": 0, "duplicates": 0, "quarantined": 0,
              "naive_times": 0, "dst_resolved": 0, "below_microsecond": 0, "date_only": 0,
              "unknown_results": 0, "other_extras": 0, "answered_later": 0,
              "repeated_headers": 0,
              "first_header_line": 0}
    kinds: list[str] = []
    formats: list[str] = []  # the standard format of the file's rows, if any
    no_events: str | None = None
    absent: tuple[str, ...] = ()  # FileResult.absent_required
    likely: tuple[tuple[str, str], ...] = ()
    for staged in staged_tables:
        if staged.source_format is not None:
            formats.append(staged.source_format)
        no_events = no_events or staged.no_events
        kind = _kind_of(con, source, staged, kind_name)
        if kind is None:
            drop(con, staged.table)  # no rows, no columns: nothing to load or name
            continue
        if staged.source_format is None and record_format is None:
            absent = absent + tuple(absent_required(kind, staged.columns))
            likely = likely + tuple(likely_names(kind, staged.columns).items())
        staged = check_rows(con, source, staged, kind, tz, currency)
        judge(con, kind, siblings(staged, kind))
        # A request answered in another file (its stored row of unknown result replaced).
        counts["answered_later"] += settle_answered(con, kind, staged, sha256)
        for name, value in store_rows(con, kind, source, sha256, staged).items():
            counts[name] += value
        drop(con, staged.table)
        kinds.append(kind.name)
    kind_names = "+".join(dict.fromkeys(kinds)) or EMPTY_KIND  # a kind of two formats once
    zone = tz if counts["naive_times"] else None
    # A standard format's records (kept.py), before record_file.
    store_kept(con, sha256, kinds, record_format or next(iter(formats), None))
    record_file(con, source, sha256, kind_names, zone or NO_ZONE, counts)
    if zone is not None:
        record_naive(con, source, sha256, counts, chosen=chosen_tz is not None)
    return FileResult(path=source.display, kind=kind_names, sha256=sha256, tz=zone,
                      zone_chosen=chosen_tz is not None, no_events=no_events,
                      absent_required=absent if counts["rows_read"] else (),
                      likely_names=likely if counts["rows_read"] else (), **counts)


def _kind_of(
    con: duckdb.DuckDBPyConnection, source: InputFile, staged: Staged, kind_name: str | None
) -> Kind | None:
    """The kind of a staged table: its adapter's, the one named, or the one its columns
    say; None for a table of no rows and no columns, or of a file holding no events (even
    when a kind was named: a digest file is no log of that kind)."""
    if staged.no_events is not None:
        return None
    if staged.kind is not None:
        return KINDS[staged.kind]
    if kind_name is not None:
        return KINDS[kind_name]
    if not staged.columns and _is_empty(con, staged):
        return None
    try:
        return detect_kind(staged.columns, source.display)
    except InputError:
        # Columns of no kind and no row (a header-only CSV, a Parquet schema of zero
        # rows): a file with no row at all, whatever its columns, is empty.
        if _has_no_row(con, source, staged):
            return None
        raise


def _has_no_row(con: duckdb.DuckDBPyConnection, source: InputFile, staged: Staged) -> bool:
    """No row in the staged table (or view), asking for one row only. A lazy CSV/TSV
    view leaves out the records its reader rejects (too many fields) until the rows are
    checked, so of a CSV/TSV file nothing but its header line may be there: a file of one
    such record is no empty file (it is quarantined once its kind is named)."""
    ((rows,),) = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {staged.table} LIMIT 1)").fetchall()
    if rows or source.format not in ("csv", "tsv"):
        return rows == 0
    opener = gzip.open if source.gzipped else open
    with opener(source.path, "rt", encoding="utf-8-sig", errors="replace") as text:
        lines = (line for line in text if line.strip())
        return next(lines, None) is None or next(lines, None) is None


def _zone_for(
    con: duckdb.DuckDBPyConnection, source: InputFile, sha256: str, chosen: str | None
) -> str:
    """The zone to read this file's naive times in. Reading a loaded file in another
    zone would make every such row a conflict with itself, so that is refused."""
    row = con.execute(
        "SELECT min(tz) FROM ingested_files WHERE sha256 = $sha AND tz <> $none",
        {"sha": sha256, "none": NO_ZONE},
    ).fetchone()
    loaded_in = row[0] if row else None
    if loaded_in is None or chosen in (None, loaded_in):
        return loaded_in or chosen or "UTC"
    raise InputError(
        f"this file was loaded before with its naive times read in {loaded_in}; to read "
        f"them in {chosen}, take it back out first (auditlog forget "
        f"{shlex.quote(source.display)})",
        source=source.display,
    )


# What an ingest reports as the kind of a file that holds no row at all.
EMPTY_KIND = "empty"


def _is_empty(con: duckdb.DuckDBPyConnection, staged: Staged) -> bool:
    """No row to load or quarantine."""
    ((rows,),) = con.execute(f"SELECT count(*) FROM {staged.table}").fetchall()
    return rows == 0
