"""Taking an ingested file back out: `auditlog forget PATH|SHA256...`.

Forgetting a file removes everything it brought, in one transaction: its rows in the
five kinds' tables, its quarantined rows, its `ingested_files` entry; and it marks the
stored attribution stale. Afterwards `status` is what it was before the file was loaded:

- A row the file stored that a later file also held (counted there as a duplicate, see
  the `shared_rows` table) is not lost: it is handed over to the earliest such file, as
  that file would have stored it, and that file's counts become what a load without the
  forgotten file would have given (one more loaded, one less duplicate).
- A later file whose row conflicted with one the file stored would have loaded that row
  instead; it cannot be re-read from the database, so forgetting the file alone is
  refused, naming the later file to forget with it (and to load again).
- The same content loaded under several paths: forgetting one path keeps the rows while
  another path still lists them; that path takes over the forgotten one's counts.

Findings are not rewritten: a finding whose evidence came from a forgotten file stays as
the last run left it until the next `auditlog run`; `store.runs.stale_findings` says so.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from auditlog.errors import InputError, UsageError
from auditlog.ingest.coverage import begin_changes, note_removed, store_coverage
from auditlog.kinds import KINDS
from auditlog.store.attribution import STATE_TABLE, table_exists
from auditlog.store.runs import STALE_KEY

# Called at each step of the transaction ("resolved", "rows", "quarantine", "files",
# "commit"), so that a test can stop the process there.
Step = Callable[[str], None]

# A SHA-256 prefix shorter than this is too likely to be a path or a typo.
MIN_PREFIX = 6


@dataclass(frozen=True)
class Entry:
    sha256: str
    path: str
    kind: str


@dataclass(frozen=True)
class Forgotten:
    path: str
    sha256: str
    kind: str
    rows_removed: int
    rows_handed_over: int
    quarantine_removed: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def forget(
    con: duckdb.DuckDBPyConnection, targets: list[str], *, step: Step | None = None
) -> list[Forgotten]:
    """Forget the ingested files `targets` name (see resolve), all or nothing."""
    note = step or (lambda _name: None)
    entries = resolve(con, targets)
    con.execute("BEGIN TRANSACTION")
    try:
        base = begin_changes(con)  # the stored coverage, to update from the removed rows
        note("resolved")
        report = _forget(con, entries, note)
        if base is not None:  # else left stale, as before: computed when read
            store_coverage(con, base)
        note("commit")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def resolve(con: duckdb.DuckDBPyConnection, targets: list[str]) -> list[Entry]:
    """The ingested_files entries named by each target: a path as status lists it (that
    entry), else a file on disk (every entry of its content), else a full or unambiguous
    prefix of a SHA-256 (every entry of that content). Unknown names are refused."""
    if not targets:
        raise UsageError("name at least one file to forget (a path or SHA-256 from 'auditlog status')")
    entries: dict[tuple[str, str], Entry] = {}
    for target in targets:
        for entry in _resolve_one(con, target):
            entries.setdefault((entry.sha256, entry.path), entry)
    return list(entries.values())


def _resolve_one(con: duckdb.DuckDBPyConnection, target: str) -> list[Entry]:
    query = "SELECT sha256, path, kind FROM ingested_files WHERE {} ORDER BY ingested_at, path"
    rows = con.execute(query.format("path = $t"), {"t": target}).fetchall()
    if rows:
        return [Entry(*r) for r in rows]
    on_disk = Path(target)
    if on_disk.is_file():
        # Here: stale_findings (every reading command's check) needs none of files.py.
        from auditlog.ingest.files import sha256_of

        digest = sha256_of(on_disk)
        rows = con.execute(query.format("sha256 = $t"), {"t": digest}).fetchall()
        if not rows:
            raise InputError(f"{target} was never loaded: no ingested file has its "
                             f"SHA-256 {digest[:12]}… (see 'auditlog status')")
        return [Entry(*r) for r in rows]
    prefix = target.lower()
    if len(prefix) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in prefix):
        rows = con.execute(query.format("starts_with(sha256, $t)"), {"t": prefix}).fetchall()
        if len({r[0] for r in rows}) > 1:
            raise UsageError(f"SHA-256 prefix {target} matches {len({r[0] for r in rows})} "
                             "loaded files; give more of it")
        if rows:
            return [Entry(*r) for r in rows]
    raise InputError(f"{target} was never loaded: no ingested file has that path or "
                     "SHA-256 (see 'auditlog status')")


def _forget(con: duckdb.DuckDBPyConnection, entries: list[Entry], note: Step) -> list[Forgotten]:
    gone = _gone_contents(con, entries)
    con.execute("CREATE OR REPLACE TEMP TABLE _gone AS SELECT unnest($shas) AS sha256",
                {"shas": sorted(gone) or [""]})
    _refuse_conflicts(con)
    _refuse_reordering(con, entries, gone)
    removed, handed = _move_rows(con)
    # A gone content's verbatim records go with its rows (a handed-over row now reads
    # its heir's record: the heir kept the records of the rows it shared).
    con.execute("DELETE FROM source_records WHERE file_sha256 IN (SELECT sha256 FROM _gone)")
    note("rows")
    quarantined = _forget_quarantine(con, entries, gone)
    note("quarantine")
    _forget_entries(con, entries, gone)
    _mark_stale(con)
    note("files")
    con.execute("DROP TABLE _gone")
    report = []
    counted: set[str] = set()
    for entry in entries:  # a content's counts go with the first of its entries
        first = entry.sha256 in gone and entry.sha256 not in counted
        counted.add(entry.sha256)
        report.append(Forgotten(
            entry.path, entry.sha256, entry.kind,
            removed.get(entry.sha256, 0) if first else 0,
            handed.get(entry.sha256, 0) if first else 0,
            quarantined.get(entry.sha256, 0) if first else 0))
    return report


def _gone_contents(con: duckdb.DuckDBPyConnection, entries: list[Entry]) -> set[str]:
    """The contents no path will list any more: their rows go."""
    named = {(e.sha256, e.path) for e in entries}
    shas = sorted({e.sha256 for e in entries})
    listed = con.execute("SELECT sha256, path FROM ingested_files WHERE list_contains($s, sha256)",
                         {"s": shas}).fetchall()
    return {sha for sha in shas if all((s, p) in named for s, p in listed if s == sha)}


def _refuse_conflicts(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """
        SELECT f.path, count(*) AS n, min(g.path) AS stored_path
        FROM shared_rows r
        JOIN (SELECT sha256, min(path) AS path FROM ingested_files GROUP BY sha256) f
          ON f.sha256 = r.file_sha256
        JOIN (SELECT sha256, min(path) AS path FROM ingested_files GROUP BY sha256) g
          ON g.sha256 = r.stored_file
        WHERE r.verdict IN ('conflict', 'variant') AND r.stored_file IN (SELECT sha256 FROM _gone)
          AND r.file_sha256 NOT IN (SELECT sha256 FROM _gone)
        GROUP BY f.path ORDER BY f.path
        """
    ).fetchall()
    if rows:
        path, count, stored = rows[0]
        others = f" (and {len(rows) - 1} other file(s))" if len(rows) > 1 else ""
        # A variant (judge.variant) counted as a duplicate, but with other extra columns
        # than the row stored: handing that row over would keep this file's extras.
        raise InputError(
            f"cannot be forgotten alone: {count} row(s) of {path}{others} were quarantined "
            "as conflicts with rows it brought (or answered by them), or counted as their "
            "duplicates with other extra columns, and would load without it; forget both "
            f"(auditlog forget {shlex.quote(stored)} {shlex.quote(path)}), then load "
            f"{path} again", source=stored)


def _refuse_reordering(
    con: duckdb.DuckDBPyConnection, entries: list[Entry], gone: set[str]
) -> None:
    """Forgetting the first path of a content that another path still lists keeps its
    rows, as if that path had loaded them. That is only what a load without the first
    path gives if no file loaded between the two shares rows with the content (without
    the first path, that file would have stored them): refused then."""
    for entry in entries:
        if entry.sha256 in gone:
            continue
        rows = con.execute(
            """
            WITH paths AS (SELECT path, ingested_at FROM ingested_files WHERE sha256 = $sha),
            span AS (
              SELECT min(ingested_at) FILTER (WHERE path = $path) AS lo,
                     min(ingested_at) FILTER (WHERE path <> $path) AS hi,
                     arg_min(path, (ingested_at, path)) AS first FROM paths)
            SELECT min(f.path) FROM shared_rows r
            JOIN ingested_files f ON f.sha256 = r.file_sha256, span
            WHERE r.stored_file = $sha AND span.first = $path
              AND f.ingested_at >= span.lo AND f.ingested_at <= span.hi
            """, {"sha": entry.sha256, "path": entry.path}).fetchall()
        if rows and rows[0][0] is not None:
            raise InputError(
                f"cannot be forgotten alone: its content is also loaded from another path, "
                f"and {rows[0][0]}, loaded in between, shares rows with it that it would "
                f"have stored without it; forget both, then load {rows[0][0]} again",
                source=entry.path)


def _move_rows(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, int], dict[str, int]]:
    """Hand each gone row over to the earliest remaining file that also held it, drop
    the rest; (rows removed, rows handed over) per gone content."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _heirs AS
        SELECT kind, id, arg_min(file_sha256, (loaded_at, path, row_number)) AS heir,
               arg_min(row_number, (loaded_at, path, row_number)) AS heir_row
        FROM shared_rows r
        JOIN (SELECT sha256, min(ingested_at) AS loaded_at, min(path) AS path
              FROM ingested_files GROUP BY sha256) f ON f.sha256 = r.file_sha256
        WHERE verdict = 'duplicate' AND stored_file IN (SELECT sha256 FROM _gone)
          AND file_sha256 NOT IN (SELECT sha256 FROM _gone)
        GROUP BY kind, id
        """
    )
    removed: dict[str, int] = {}
    handed: dict[str, int] = {}
    for kind in KINDS.values():
        params = {"kind": kind.name}
        heir_of = f"h.kind = $kind AND h.id = t.{kind.id_column}"
        for sha, heirs, total in con.execute(
            f"""SELECT t._file, count(h.id), count(*) FROM {kind.name} t
                LEFT JOIN _heirs h ON {heir_of}
                WHERE t._file IN (SELECT sha256 FROM _gone) GROUP BY t._file""", params,
        ).fetchall():
            handed[sha] = handed.get(sha, 0) + heirs
            removed[sha] = removed.get(sha, 0) + total - heirs
        con.execute(
            f"""UPDATE {kind.name} AS t SET _file = h.heir, _row = h.heir_row FROM _heirs h
                WHERE {heir_of} AND t._file IN (SELECT sha256 FROM _gone)""", params)
        note_removed(con, kind.name, f"FROM {kind.name} WHERE _file IN (SELECT sha256 FROM _gone)")
        con.execute(f"DELETE FROM {kind.name} WHERE _file IN (SELECT sha256 FROM _gone)")
    _settle_shared(con)
    return removed, handed


def _settle_shared(con: duckdb.DuckDBPyConnection) -> None:
    """Each heir now stores its row: its counts are a load's without the gone file, its
    own shared row goes, and the other files that held the row share it with the heir."""
    con.execute(
        """
        UPDATE ingested_files AS f SET loaded = f.loaded + h.n, duplicates = f.duplicates - h.n
        FROM (SELECT heir, count(*) AS n FROM _heirs GROUP BY heir) h,
             (SELECT sha256, arg_min(path, (ingested_at, path)) AS path
              FROM ingested_files GROUP BY sha256) first
        WHERE f.sha256 = h.heir AND first.sha256 = f.sha256 AND first.path = f.path
        """
    )
    con.execute(
        """
        DELETE FROM shared_rows r WHERE file_sha256 IN (SELECT sha256 FROM _gone)
           OR EXISTS (SELECT 1 FROM _heirs h WHERE h.heir = r.file_sha256
                      AND h.kind = r.kind AND h.id = r.id AND h.heir_row = r.row_number)
        """
    )
    con.execute(
        """
        UPDATE shared_rows AS r SET stored_file = h.heir FROM _heirs h
        WHERE h.kind = r.kind AND h.id = r.id AND r.stored_file IN (SELECT sha256 FROM _gone)
        """
    )
    con.execute("DROP TABLE _heirs")


def _forget_quarantine(
    con: duckdb.DuckDBPyConnection, entries: list[Entry], gone: set[str]
) -> dict[str, int]:
    """Quarantined rows of gone contents go; those of a content another path still
    lists are kept under that path (see _rename)."""
    counts = dict(con.execute(
        "SELECT file_sha256, count(*) FROM quarantine "
        "WHERE file_sha256 IN (SELECT sha256 FROM _gone) GROUP BY file_sha256").fetchall())
    con.execute("DELETE FROM quarantine WHERE file_sha256 IN (SELECT sha256 FROM _gone)")
    for sha in sorted({e.sha256 for e in entries} - gone):
        _rename(con, sha, [e.path for e in entries if e.sha256 == sha])
    return counts


def _rename(con: duckdb.DuckDBPyConnection, sha: str, forgotten: list[str]) -> None:
    """A content keeps its rows under the paths not forgotten: its quarantined rows take
    the earliest of them, and a conflict that names the content by its first path in
    order (as the ingest does) names it by the first remaining one."""
    params = {"sha": sha, "forgotten": forgotten}
    ((heir, old, new),) = con.execute(
        """
        SELECT arg_min(path, (ingested_at, path)) FILTER (WHERE NOT list_contains($forgotten, path)),
               min(path), min(path) FILTER (WHERE NOT list_contains($forgotten, path))
        FROM ingested_files WHERE sha256 = $sha
        """, params).fetchall()
    con.execute("UPDATE quarantine SET path = $heir "
                "WHERE file_sha256 = $sha AND list_contains($forgotten, path)",
                {**params, "heir": heir})
    if old != new:
        con.execute(
            """
            UPDATE quarantine AS q
            SET reason = replace(q.reason, ' loaded from ' || $old || ' ',
                                 ' loaded from ' || $new || ' ')
            FROM shared_rows r
            WHERE r.stored_file = $sha AND r.verdict = 'conflict'
              AND q.file_sha256 = r.file_sha256 AND q.location = r.location
            """, {"sha": sha, "old": old, "new": new})


def _forget_entries(con: duckdb.DuckDBPyConnection, entries: list[Entry], gone: set[str]) -> None:
    """Remove the entries; where the content stays and the forgotten path was its first
    load, the next path takes over its counts (as its load would then have given)."""
    for entry in entries:
        params = {"sha": entry.sha256, "path": entry.path}
        if entry.sha256 not in gone:
            con.execute(
                """
                UPDATE ingested_files AS f
                SET loaded = old.loaded, duplicates = old.duplicates, quarantined = old.quarantined
                FROM (SELECT * FROM ingested_files WHERE sha256 = $sha AND path = $path) old,
                     (SELECT arg_min(path, (ingested_at, path)) AS first,
                             arg_min(path, (ingested_at, path))
                               FILTER (WHERE path <> $path) AS heir
                      FROM ingested_files WHERE sha256 = $sha) o
                WHERE f.sha256 = $sha AND o.first = $path AND f.path = o.heir
                """, params)
        con.execute("DELETE FROM ingested_files WHERE sha256 = $sha AND path = $path", params)
        con.execute("DELETE FROM naive_files WHERE sha256 = $sha AND path = $path", params)


def _mark_stale(con: duckdb.DuckDBPyConnection) -> None:
    """The stored attribution no longer matches (its tables are recomputed by the next
    run or trace); findings of the latest run are stale until the next run."""
    if table_exists(con, STATE_TABLE):
        con.execute(f"DELETE FROM {STATE_TABLE}")
    if table_exists(con, "runs"):
        ((latest,),) = con.execute("SELECT max(run_id) FROM runs").fetchall()
        if latest is not None:
            con.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)",
                        {"k": STALE_KEY, "v": latest})
