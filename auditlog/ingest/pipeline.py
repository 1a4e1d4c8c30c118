"""One ingest call: every file read, checked, deduplicated and stored, all or nothing.

For every file, loaded + duplicates + quarantined = rows_read, always:
- a row that breaks the contract is quarantined with its position, raw text and reason;
- a row whose id is already stored (or appears earlier in the file) with the same
  content is a duplicate: counted, not stored again;
- with different content it is a conflict: quarantined, the stored version kept.
The whole call is one DuckDB transaction, so a failure, or a kill, leaves the database
exactly as it was.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb

from auditlog.errors import InputError, UsageError
from auditlog.ingest.coverage import store_coverage
from auditlog.ingest.files import Fingerprint, InputFile, discover, fingerprint
from auditlog.ingest.readers import (
    READ_ERRORS,
    Staged,
    _sql_string,
    drop_staged,
    materialize,
    read_error,
    safe_text_sql,
    settle,
    stage,
)
from auditlog.ingest.standard.mapping import Mapping, apply_mapping, load_mapping
from auditlog.ingest.validate import detect_kind, install_macros, typed_select
from auditlog.kinds import KINDS, SOURCE_COLUMNS, Kind


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

    def as_dict(self) -> dict[str, object]:
        return {name: value for name, value in asdict(self).items() if name in REPORTED}


REPORTED = ("path", "kind", "sha256", "rows_read", "loaded", "duplicates", "quarantined")
# ingested_files.tz of a file that had no naive timestamp: no zone was assumed.
NO_ZONE = "none"


# Called after each file with (index, total, result), for progress bars.
Progress = Callable[[int, int, FileResult], None]


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
) -> list[FileResult]:
    """Load `paths` (files or directories) into the database behind `con`; `mapping`
    names a mapping file (see ingest/standard/mapping.py) applied to every file.

    `tz` is the zone of timestamps without an offset; None means not chosen: UTC, or for
    a file already loaded, the zone it was read in then (so a reload stays a no-op). A
    file loaded before with another zone is refused: it must be forgotten first."""
    rules = load_mapping(mapping) if mapping is not None else None
    kind = kind if kind is not None or rules is None else rules.kind
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    if tz is not None:
        check_timezone(con, tz)
    sources = discover(paths)
    install_macros(con)
    results: list[FileResult] = []
    with ThreadPoolExecutor(max_workers=1) as hasher:
        digests = [hasher.submit(fingerprint, s) for s in sources]
        con.execute("BEGIN TRANSACTION")
        try:
            for index, (source, digest) in enumerate(zip(sources, digests, strict=True)):
                result = _ingest_file(con, source, digest.result(), kind, tz, currency, rules)
                if strict and result.quarantined:
                    raise InputError(
                        f"{result.quarantined} row(s) break the contract and --strict is on; "
                        "nothing was loaded (see them with 'auditlog quarantine' after a "
                        "load without --strict)",
                        source=source.display,
                    )
                results.append(result)
                if progress is not None:
                    progress(index, len(sources), result)
            store_coverage(con)  # so that answers read it instead of rescanning
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            _drop_temp(con)
    return results


def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    fingerprinted: Fingerprint,
    kind_name: str | None,
    chosen_tz: str | None,
    currency: str | None,
    mapping: Mapping | None = None,
) -> FileResult:
    sha256 = fingerprinted.sha256
    tz = _zone_for(con, source, sha256, chosen_tz)
    counts = {"rows_read": 0, "loaded": 0, "duplicates": 0, "quarantined": 0,
              "naive_times": 0, "dst_resolved": 0}
    kinds: list[str] = []
    # A mapping rewrites the staged table in place, so it needs a table, not a view.
    for staged in stage(con, source, lazy=mapping is None, profile=fingerprinted.text):
        if mapping is not None:
            staged = apply_mapping(con, materialize(con, staged), mapping)
        if staged.kind is not None:
            kind = KINDS[staged.kind]
        elif kind_name is not None:
            kind = KINDS[kind_name]
        elif not staged.columns and _is_empty(con, staged):
            drop_staged(con, staged.table)  # no rows, no columns: nothing to load or name
            continue
        else:
            kind = detect_kind(staged.columns, source.display)
        _check(con, source, staged, kind, tz, currency)
        if (restaged := settle(con, source, staged)) is not None:
            staged = restaged
            _check(con, source, staged, kind, tz, currency)
        _judge(con, kind, _siblings(staged, kind))
        for name, value in _store(con, kind, source, sha256, staged).items():
            counts[name] += value
        drop_staged(con, staged.table)
        kinds.append(kind.name)
    kind_names = "+".join(kinds) or EMPTY_KIND
    zone = tz if counts["naive_times"] else None
    _record_file(con, source, sha256, kind_names, zone or NO_ZONE, counts)
    if zone is not None:
        _record_naive(con, source, sha256, counts, chosen=chosen_tz is not None)
    return FileResult(path=source.display, kind=kind_names, sha256=sha256, tz=zone, **counts)


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


def _check(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> None:
    """`_typed`: every staged row typed, digested and checked, in one pass. For a lazy
    view this is where the file is read, so its read errors are reported here."""
    _drop_typed(con)
    if staged.scan is not None and _check_scan(con, source, staged, kind, tz, currency):
        return
    _drop_typed(con)
    staged = replace(staged, scan=None)
    _typed_pass(con, source, staged, "_typed", kind, tz, currency)


def _check_scan(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> bool:
    """The parallel read of an unnumbered scan (see Staged.scan): rows are stored in file
    order (insertion order is preserved), so a row's number is its row id's offset from
    the first. False, and nothing kept, if insertion order is not preserved on this
    connection (store.connect preserves it) or the row ids are not dense (they are)."""
    (ordered,) = con.execute(
        "SELECT current_setting('preserve_insertion_order')"
    ).fetchone() or (False,)
    if not ordered:
        return False
    _typed_pass(con, source, staged, "_typed_scan", kind, tz, currency)
    first, last, count = con.execute(
        "SELECT min(rowid), max(rowid), count(*) FROM _typed_scan"
    ).fetchone() or (0, 0, 0)
    if count and last - first + 1 != count:
        return False
    # Deleting blank lines leaves the other rows' ids as they were.
    con.execute("DELETE FROM _typed_scan WHERE _blank")
    number = f"(rowid - {int(first or 0)} + 1)"
    con.execute(
        f"""
        CREATE TEMP VIEW _typed AS
        SELECT {number} AS _row, {_sql_string(staged.loc_prefix)} || {number} AS _loc,
               * EXCLUDE (_blank)
        FROM _typed_scan
        """
    )
    return True


def _typed_pass(
    con: duckdb.DuckDBPyConnection,
    source: InputFile,
    staged: Staged,
    table: str,
    kind: Kind,
    tz: str,
    currency: str | None,
) -> None:
    try:
        con.execute(
            f"CREATE TEMP TABLE {table} AS {typed_select(kind, staged, currency=currency)}",
            {"tz": tz},
        )
    except READ_ERRORS as exc:
        if not staged.lazy:
            raise
        raise read_error(source, exc) from None


def _drop_typed(con: duckdb.DuckDBPyConnection) -> None:
    drop_staged(con, "_typed", "_typed_scan")


def _siblings(staged: Staged, kind: Kind) -> tuple[str, ...]:
    """The kinds sharing `kind`'s ids for this staged table (see _judge)."""
    if staged.source_format is None or kind.id_column != "event_id":
        return ()
    return tuple(k.name for k in KINDS.values()
                 if k.id_column == "event_id" and k.name != kind.name)


def _judge(con: duckdb.DuckDBPyConnection, kind: Kind, siblings: tuple[str, ...] = ()) -> None:
    """`_verdict`: duplicate | quarantine | load, with a reason, for every valid row of
    `_typed` whose id is not simply new: repeated in the file, or already stored. Every
    other valid row loads; keeping them out of the verdict spares a join of the file.

    One identity rule for every source: the same id with the same content is a
    duplicate, with other content a conflict (quarantined, the stored version kept).
    `siblings` are the other kinds whose ids are the same ids (the kinds a standard
    source maps its records onto: one CloudTrail eventID or Kubernetes auditID is one
    event, whichever kind it became); an id stored there is a conflict, since a record
    mapped onto another kind has other content."""
    key = kind.id_column
    others = "".join(
        f"\n        UNION SELECT DISTINCT {key} FROM _typed t WHERE _reason IS NULL AND "
        f"EXISTS (SELECT 1 FROM {sibling} o WHERE o.{key} = t.{key})"
        for sibling in siblings
    )
    con.execute("DROP TABLE IF EXISTS _special")
    con.execute(
        f"""
        CREATE TEMP TABLE _special AS
        SELECT {key} AS id FROM _typed WHERE _reason IS NULL GROUP BY {key} HAVING count(*) > 1
        UNION
        SELECT DISTINCT {key} FROM _typed t
        WHERE _reason IS NULL AND EXISTS (SELECT 1 FROM {kind.name} s WHERE s.{key} = t.{key})
        {others}
        """
    )
    # The first stored row of each special id in a sibling kind.
    sibling_rows = " UNION ALL ".join(
        f"SELECT {key} AS id, {_sql_string(sibling)} AS kind, _file, _row FROM {sibling} "
        f"WHERE {key} IN (SELECT id FROM _special)"
        for sibling in siblings
    ) or ("SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS kind, "
          "CAST(NULL AS VARCHAR) AS _file, CAST(NULL AS BIGINT) AS _row WHERE false")
    con.execute("DROP TABLE IF EXISTS _verdict")
    con.execute(
        f"""
        CREATE TEMP TABLE _verdict AS
        WITH valid AS (
          SELECT _row, _loc, {key} AS id, _digest FROM _typed
          WHERE _reason IS NULL AND {key} IN (SELECT id FROM _special)),
        firsts AS (
          SELECT id, min(_row) AS first_row, arg_min(_digest, (_row, _loc)) AS first_digest,
                 arg_min(_loc, (_row, _loc)) AS first_loc
          FROM valid GROUP BY id),
        in_file AS (
          SELECT v._row, v._loc, v.id, v._digest,
                 CASE WHEN v._row = f.first_row AND v._loc = f.first_loc THEN 'candidate'
                      WHEN v._digest = f.first_digest THEN 'duplicate'
                      ELSE 'quarantine' END AS verdict,
                 CASE WHEN NOT (v._row = f.first_row AND v._loc = f.first_loc)
                       AND v._digest <> f.first_digest THEN
                   'conflict: {key} ' || v.id || ' appears at ' || f.first_loc ||
                   ' of this file with different content' END AS reason
          FROM valid v JOIN firsts f USING (id))
        SELECT i._row, i._loc, i.id, s._file AS stored_file,
               i.verdict = 'candidate' AND s._digest IS NOT NULL AS shared,
               CASE WHEN i.verdict <> 'candidate' THEN i.verdict
                    WHEN s._digest IS NULL AND o.id IS NOT NULL THEN 'quarantine'
                    WHEN s._digest IS NULL THEN 'load'
                    WHEN s._digest = i._digest THEN 'duplicate'
                    ELSE 'quarantine' END AS verdict,
               CASE WHEN i.verdict <> 'candidate' THEN i.reason
                    WHEN s._digest IS NULL AND o.id IS NOT NULL THEN
                      'conflict: {key} ' || i.id || ' is already loaded as a ' || o.kind ||
                      ' row from ' || coalesce(fo.path, o._file) || ' row ' || o._row ||
                      ' (same id, other content)'
                    WHEN s._digest IS NOT NULL AND s._digest <> i._digest THEN
                      'conflict: {key} ' || i.id || ' is already loaded from ' ||
                      coalesce(f.path, s._file) || ' row ' || s._row ||
                      ' with different content' END AS reason
        FROM in_file i
        LEFT JOIN {kind.name} s ON s.{key} = i.id
        LEFT JOIN (SELECT sha256, min(path) AS path FROM ingested_files GROUP BY sha256) f
          ON f.sha256 = s._file
        LEFT JOIN (SELECT id, arg_min(kind, (_file, _row)) AS kind,
                          arg_min(_file, (_file, _row)) AS _file,
                          arg_min(_row, (_file, _row)) AS _row
                   FROM ({sibling_rows}) GROUP BY id) o ON o.id = i.id
        LEFT JOIN (SELECT sha256, min(path) AS path FROM ingested_files GROUP BY sha256) fo
          ON fo.sha256 = o._file
        """
    )
    con.execute("DROP TABLE _special")


def _store(
    con: duckdb.DuckDBPyConnection, kind: Kind, source: InputFile, sha256: str, staged: Staged
) -> dict[str, int]:
    columns = ", ".join(kind.column_names)
    (duplicates, conflicts, held) = con.execute(
        """
        SELECT count(*) FILTER (WHERE verdict = 'duplicate'),
               count(*) FILTER (WHERE verdict = 'quarantine'),
               count(*) FILTER (WHERE verdict <> 'load')
        FROM _verdict
        """
    ).fetchone() or (0, 0, 0)
    # Rows are stored in file order: `_typed` is in that order and a plain filtered scan
    # keeps it; when some rows are held back the anti-join may not, so it is sorted.
    held_back = (
        "AND NOT EXISTS (SELECT 1 FROM _verdict v WHERE v._row = t._row AND v._loc = t._loc "
        "AND v.verdict <> 'load') ORDER BY _row"
        if held else ""
    )
    con.execute(
        f"""
        INSERT INTO {kind.name} ({columns}, {', '.join(n for n, _ in SOURCE_COLUMNS)})
        SELECT {columns}, extra, $sha, _row, _digest
        FROM _typed t WHERE _reason IS NULL {held_back}
        """,
        {"sha": sha256},
    )
    # Reading the same file again quarantines the same rows again: the key
    # (file content, position) makes that a no-op.
    params = {"sha": sha256, "path": source.display, "kind": kind.name}
    con.execute(
        f"""
        INSERT OR IGNORE INTO quarantine
        SELECT $sha, $path, $kind, _row, _loc, _reason, {safe_text_sql("_raw")}, now()
        FROM _typed WHERE _reason IS NOT NULL
        """,
        params,
    )
    if conflicts:
        # A conflict's text was not kept: it is rebuilt from the staged rows, found again
        # by position (for a lazy view, by reading the file once more).
        con.execute(
            f"""
            INSERT OR IGNORE INTO quarantine
            SELECT $sha, $path, $kind, v._row, v._loc, v.reason, {safe_text_sql(staged.raw)}, now()
            FROM _verdict v JOIN {staged.table} USING (_row, _loc)
            WHERE v.verdict = 'quarantine'
            """,
            params,
        )
    # Rows already stored from another file, so that `forget` can hand them over; at the
    # content's first load only (a reload finds the same rows, all already recorded).
    con.execute(
        """
        INSERT INTO shared_rows
        SELECT $sha, $kind, id, _row, _loc,
               CASE verdict WHEN 'duplicate' THEN 'duplicate' ELSE 'conflict' END, stored_file
        FROM _verdict WHERE shared AND stored_file <> $sha
          AND NOT EXISTS (SELECT 1 FROM ingested_files WHERE sha256 = $sha)
        """,
        {"sha": sha256, "kind": kind.name},
    )
    (rows_read, invalid, naive, dst) = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _reason IS NOT NULL), "
        "coalesce(sum(_naive), 0), coalesce(sum(_dst), 0) FROM _typed"
    ).fetchone() or (0, 0, 0, 0)
    _drop_typed(con)
    con.execute("DROP TABLE _verdict")
    quarantined = invalid + conflicts
    return {"rows_read": rows_read, "loaded": rows_read - quarantined - duplicates,
            "duplicates": duplicates, "quarantined": quarantined,
            "naive_times": int(naive), "dst_resolved": int(dst)}


def _record_file(
    con: duckdb.DuckDBPyConnection, source: InputFile, sha256: str, kind: str, tz: str,
    counts: dict[str, int],
) -> None:
    con.execute(
        """
        INSERT OR IGNORE INTO ingested_files
        VALUES ($sha, $path, $kind, $format, $tz, $read, $loaded, $dups, $quarantined, now())
        """,
        {
            "sha": sha256, "path": source.display, "kind": kind,
            "format": source.format + (".gz" if source.gzipped else ""), "tz": tz,
            "read": counts["rows_read"], "loaded": counts["loaded"],
            "dups": counts["duplicates"], "quarantined": counts["quarantined"],
        },
    )


def _record_naive(
    con: duckdb.DuckDBPyConnection, source: InputFile, sha256: str, counts: dict[str, int],
    *, chosen: bool,
) -> None:
    """A file with naive times: whether their zone was chosen. Naming it with --tz on a
    reload confirms an assumed zone (for every path of the content)."""
    con.execute(
        "INSERT OR IGNORE INTO naive_files SELECT $sha, $path, $naive, $dst, $chosen OR "
        "coalesce((SELECT bool_or(chosen) FROM naive_files WHERE sha256 = $sha), false)",
        {"sha": sha256, "path": source.display, "naive": counts["naive_times"],
         "dst": counts["dst_resolved"], "chosen": chosen},
    )
    if chosen:
        con.execute("UPDATE naive_files SET chosen = true WHERE sha256 = $sha AND NOT chosen",
                    {"sha": sha256})


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    try:
        drop_staged(con, "_stage", "_typed", "_typed_scan", "_verdict", "_special", "_lines",
                    "_docs", "_top", "_csv", "_records", "_rejected", "_materialized",
                    "_csv_rejects", "_csv_scans")
    except duckdb.Error:
        pass
