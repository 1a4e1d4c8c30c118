"""What the loaded logs can and cannot show: per kind and source system the time span and
rows, the kinds an answer needs that hold no rows, and the gaps (hours in which a source
that is normally busy at that hour of the week has no events).

A gap is judged from the source's own history (docs/coverage.md): per (kind, system) and
hour of the week, the usual count is the lower median of that hour's counts over the weeks
observed, empty hours included. A maximal run of empty hours is a gap when the usual counts
of its hours add up to at least MIN_EXPECTED events: usually empty hours add nothing, so a
quiet night is not a gap, and a source observed for fewer than MIN_WEEKS weeks yields none.
Everything is computed from one grouped scan per table into an hourly temp table; an
ingest keeps the result with a fingerprint of the data (store_coverage), so that a trace
at 10M rows reads it instead of rescanning, and keeps the hourly counts too, so that the
next ingest or forget updates the hours its rows touch and derives again only the sources
they belong to (begin_changes, note_stored, note_removed). What a gap or a missing kind
means for an answer, in words, is caveats.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from auditlog.values import iso_utc

# Kinds (and their time columns) whose rows are events in time; accounts is a directory.
EVENT_KINDS = {"actions": "ts", "privileges": "ts", "changes": "started_at", "charges": "ts"}
# Weeks of history an hour of the week needs before its rhythm is trusted.
MIN_WEEKS = 3
# Events a stretch must usually hold to call its silence a gap: a Poisson source with
# that many expected events is silent by chance with probability e**-10, about 5e-5.
MIN_EXPECTED = 10
# The longest silence still judged as a gap (90 days); longer ones separate periods.
MAX_SILENCE_HOURS = 90 * 24


@dataclass(frozen=True)
class Source:
    kind: str
    system: str | None
    rows: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Gap:
    kind: str
    system: str | None
    start: datetime
    end: datetime  # exclusive: the first hour with events again
    expected: int

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "system": self.system, "start": iso_utc(self.start),
                "end": iso_utc(self.end), "expected": self.expected}


@dataclass(frozen=True)
class Coverage:
    sources: tuple[Source, ...]
    missing: tuple[str, ...]
    gaps: tuple[Gap, ...]

    def as_dict(self) -> dict[str, Any]:
        """The contract's `coverage` object (status --format json)."""
        kinds: dict[str, Any] = {}
        for kind in EVENT_KINDS:
            mine = [s for s in self.sources if s.kind == kind]
            kinds[kind] = {
                "rows": sum(s.rows for s in mine),
                "first": iso_utc(min((s.first for s in mine), default=None)),
                "last": iso_utc(max((s.last for s in mine), default=None)),
                "systems": [{"system": s.system, "rows": s.rows, "first": iso_utc(s.first),
                             "last": iso_utc(s.last)} for s in mine],
            }
        return {"kinds": kinds, "missing": list(self.missing),
                "gaps": [g.as_dict() for g in self.gaps]}

    def needed_by(self, needs: Iterable[str], since: datetime | None = None,
                  until: datetime | None = None) -> Coverage:
        """Only what an answer reading the kinds `needs`, limited to [since, until) when
        given, depends on."""
        wanted = set(needs)
        return Coverage(self.sources, tuple(k for k in self.missing if k in wanted),
                        tuple(g for g in self.gaps if g.kind in wanted
                              and (until is None or g.start < until)
                              and (since is None or g.end > since)))


def coverage(con: duckdb.DuckDBPyConnection) -> Coverage:
    """Spans, missing kinds and gaps of the database behind `con` (read-only is enough):
    what the last ingest stored while the data is as it left it, else computed now."""
    stored = stored_coverage(con)
    return stored if stored is not None else compute_coverage(con)


def compute_coverage(con: duckdb.DuckDBPyConnection) -> Coverage:
    """The coverage from the tables themselves: one hourly scan, then the small grid."""
    hourly_counts(con)
    sources, gaps = _summarize(con)
    con.execute("DROP TABLE IF EXISTS coverage_hours")
    return _assemble(sources, gaps)


def _summarize(con: duckdb.DuckDBPyConnection) -> tuple[list[Source], list[Gap]]:
    """Sources and gaps of the (kind, system) pairs in the TEMP table coverage_hours:
    every step of GAPS_SQL is partitioned by (kind, system), so the pairs are independent
    and a subset of them gives exactly their part of the whole."""
    sources = [Source(*row) for row in con.execute("""
        SELECT kind, system, sum(n)::BIGINT, min(first_ts), max(last_ts) FROM coverage_hours
        GROUP BY kind, system ORDER BY kind, system NULLS FIRST""").fetchall()]
    gaps = [Gap(*row) for row in con.execute(GAPS_SQL, {
        "weeks": MIN_WEEKS, "min_expected": MIN_EXPECTED,
        "max_silence": MAX_SILENCE_HOURS}).fetchall()]
    return sources, gaps


def _assemble(sources: Iterable[Source], gaps: Iterable[Gap]) -> Coverage:
    """The coverage of these sources and gaps, in GAPS_SQL's order (sources by kind, then
    system with NULL first; gaps by start, kind, system), the missing kinds derived."""
    ordered = tuple(sorted(sources, key=lambda s: (s.kind, *_system_key(s.system))))
    present = {s.kind for s in ordered}
    missing = tuple(k for k in EVENT_KINDS if k not in present)
    return Coverage(ordered, missing, tuple(sorted(
        gaps, key=lambda g: (g.start, g.kind, *_system_key(g.system)))))


def _system_key(system: str | None) -> tuple[bool, str]:
    # DuckDB orders VARCHAR by its UTF-8 bytes, which is Python's order of code points.
    return (system is not None, system or "")


CACHE_TABLE = "coverage_state"
# The hourly counts per (kind, system, hour) the stored coverage was derived from, kept
# beside it so that an ingest or a forget updates the hours its rows touch and derives
# the spans and gaps again of the sources it touched only (docs/coverage.md).
HOURS_TABLE = "coverage_hours_kept"
# The layout of HOURS_TABLE, named in the stored document: a document without it (an
# older auditlog's) or with another one is recomputed in full.
HOURS_LAYOUT = 1
# TEMP tables of one transaction: the hourly counts of the rows it stored, and the
# hours of the rows it removed (recounted from the tables at the end).
ADDED = "coverage_added"
TOUCHED = "coverage_touched"
HOURS_COLUMNS = ("kind VARCHAR, system VARCHAR, hour BIGINT, n BIGINT, "
                 "first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ")


def data_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The data's digest (files and row counts, as for the stored attribution) and this
    module's definition of a gap: either changing makes a stored coverage stale."""
    from auditlog.store.attribution import fingerprint

    definition = f"{MIN_WEEKS} {MIN_EXPECTED} {MAX_SILENCE_HOURS} {GAPS_SQL}"
    return hashlib.sha256(f"{fingerprint(con, [])}\n{definition}".encode()).hexdigest()


def begin_changes(con: duckdb.DuckDBPyConnection) -> Coverage | None:
    """Called at the start of a transaction that will store or remove rows (an ingest, a
    forget): the stored coverage when it matches the data and keeps its hourly counts, so
    that store_coverage can update it from the rows this transaction touches (noted by
    note_stored and note_removed); else None, and store_coverage recomputes it all."""
    for table in (ADDED, TOUCHED):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    base = _stored(con, incremental=True)
    if base is not None:
        con.execute(f"CREATE TEMP TABLE {ADDED} ({HOURS_COLUMNS})")
        con.execute(f"CREATE TEMP TABLE {TOUCHED} (kind VARCHAR, system VARCHAR, hour BIGINT)")
    return base


def note_stored(con: duckdb.DuckDBPyConnection, kind: str, rows: str) -> None:
    """Count the rows just stored into `kind` (`rows`: a FROM clause, `FROM t WHERE ...`,
    giving exactly them) per hour, when the transaction keeps the coverage up to date."""
    column = EVENT_KINDS.get(kind)
    if column is None or not _temp_exists(con, ADDED):
        return
    con.execute(f"""INSERT INTO {ADDED}
        SELECT '{kind}', system, epoch_us({column}) // 3600000000, count(*), min({column}),
               max({column})
        {rows} AND {column} IS NOT NULL GROUP BY ALL""")


def note_removed(con: duckdb.DuckDBPyConnection, kind: str, rows: str) -> None:
    """The hours of the rows about to be deleted from `kind` (`rows` as for note_stored):
    recounted from the table when the coverage is stored (a count goes down, and a first
    or last time within the hour may change with it)."""
    column = EVENT_KINDS.get(kind)
    if column is None or not _temp_exists(con, TOUCHED):
        return
    con.execute(f"""INSERT INTO {TOUCHED}
        SELECT DISTINCT '{kind}', system, epoch_us({column}) // 3600000000
        {rows} AND {column} IS NOT NULL""")


def _temp_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary "
                            "AND table_name = ?", [table]).fetchall()[0][0])


def store_coverage(con: duckdb.DuckDBPyConnection, base: Coverage | None = None) -> Coverage:
    """Compute the coverage on a writable connection and keep it, its hourly counts and
    the fingerprint, inside the caller's transaction (an ingest's: its coverage commits
    with its rows). With `base` (begin_changes' answer at the start of the transaction)
    only the hours and sources the transaction's rows touched are derived again; without
    it, everything, from one scan of every table."""
    if base is None or not _temp_exists(con, ADDED):
        cov = compute_coverage_kept(con)
    else:
        cov = _update(con, base)
    for table in (ADDED, TOUCHED):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    document = json.dumps({
        "sources": [[s.kind, s.system, s.rows, iso_utc(s.first), iso_utc(s.last)]
                    for s in cov.sources],
        "missing": list(cov.missing),
        "gaps": [[g.kind, g.system, iso_utc(g.start), iso_utc(g.end), g.expected]
                 for g in cov.gaps],
        "hours": HOURS_LAYOUT})
    con.execute(f"CREATE TABLE IF NOT EXISTS {CACHE_TABLE} (fingerprint VARCHAR, document VARCHAR)")
    con.execute(f"DELETE FROM {CACHE_TABLE}")
    con.execute(f"INSERT INTO {CACHE_TABLE} VALUES (?, ?)", [data_fingerprint(con), document])
    return cov


def compute_coverage_kept(con: duckdb.DuckDBPyConnection) -> Coverage:
    """compute_coverage, keeping its hourly counts in HOURS_TABLE."""
    hourly_counts(con)
    con.execute(f"CREATE OR REPLACE TABLE {HOURS_TABLE} ({HOURS_COLUMNS})")
    con.execute(f"INSERT INTO {HOURS_TABLE} SELECT * FROM coverage_hours")
    sources, gaps = _summarize(con)
    con.execute("DROP TABLE IF EXISTS coverage_hours")
    return _assemble(sources, gaps)


# A cell of the hourly counts, matched NULL-safe on system.
def _same_cell(a: str, b: str) -> str:
    return (f"{a}.kind = {b}.kind AND {a}.system IS NOT DISTINCT FROM {b}.system "
            f"AND {a}.hour = {b}.hour")


def _update(con: duckdb.DuckDBPyConnection, base: Coverage) -> Coverage:
    """The stored hours updated from the noted rows, then the touched sources derived
    again from their hours; the other sources and their gaps are the base's."""
    # Removed rows: their hours recounted from the tables as they now are. The time range
    # (whole hours, one more each side: `//` truncates towards zero before 1970) lets the
    # scan skip row groups outside it.
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cells AS SELECT DISTINCT * FROM {TOUCHED}")
    ranges = con.execute("SELECT kind, min(hour) - 1, max(hour) + 2 FROM _cells "
                         "GROUP BY kind ORDER BY kind").fetchall()
    recounted = [f"""SELECT '{kind}' AS kind, t.system, epoch_us(t.{EVENT_KINDS[kind]}) // 3600000000 AS hour,
                            count(*) AS n, min(t.{EVENT_KINDS[kind]}) AS first_ts,
                            max(t.{EVENT_KINDS[kind]}) AS last_ts
                     FROM {kind} t SEMI JOIN (SELECT * FROM _cells WHERE kind = '{kind}') c
                       ON c.system IS NOT DISTINCT FROM t.system
                      AND c.hour = epoch_us(t.{EVENT_KINDS[kind]}) // 3600000000
                     WHERE t.{EVENT_KINDS[kind]} >= to_timestamp({3600 * lo})
                       AND t.{EVENT_KINDS[kind]} < to_timestamp({3600 * hi})
                     GROUP BY ALL"""
                 for kind, lo, hi in ranges]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _recounted ({HOURS_COLUMNS})")
    if recounted:
        con.execute("INSERT INTO _recounted\n" + "\nUNION ALL\n".join(recounted))
    # Stored rows: their counts added to the cells' (a cell recounted already holds them).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _added AS
        SELECT a.kind, a.system, a.hour, sum(a.n) + coalesce(any_value(k.n), 0) AS n,
               least(min(a.first_ts), coalesce(any_value(k.first_ts), min(a.first_ts))) AS first_ts,
               greatest(max(a.last_ts), coalesce(any_value(k.last_ts), max(a.last_ts))) AS last_ts
        FROM {ADDED} a LEFT JOIN {HOURS_TABLE} k ON {_same_cell('k', 'a')}
        WHERE NOT EXISTS (SELECT 1 FROM _cells c WHERE {_same_cell('c', 'a')})
        GROUP BY a.kind, a.system, a.hour""")
    con.execute(f"""DELETE FROM {HOURS_TABLE} k WHERE EXISTS (
        SELECT 1 FROM (SELECT kind, system, hour FROM _cells UNION ALL
                       SELECT kind, system, hour FROM _added) c WHERE {_same_cell('c', 'k')})""")
    con.execute(f"INSERT INTO {HOURS_TABLE} SELECT * FROM _recounted UNION ALL "
                "SELECT * FROM _added")
    touched = {(kind, system) for kind, system in con.execute(
        "SELECT DISTINCT kind, system FROM (SELECT kind, system FROM _cells UNION ALL "
        "SELECT kind, system FROM _added)").fetchall()}
    if touched:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE coverage_hours AS
            SELECT k.* FROM {HOURS_TABLE} k SEMI JOIN (
                SELECT DISTINCT kind, system FROM (SELECT kind, system FROM _cells UNION ALL
                                                   SELECT kind, system FROM _added)) p
              ON p.kind = k.kind AND p.system IS NOT DISTINCT FROM k.system""")
        sources, gaps = _summarize(con)
        con.execute("DROP TABLE coverage_hours")
    else:
        sources, gaps = [], []
    for table in ("_cells", "_recounted", "_added"):
        con.execute(f"DROP TABLE {table}")
    return _assemble(
        [*(s for s in base.sources if (s.kind, s.system) not in touched), *sources],
        [*(g for g in base.gaps if (g.kind, g.system) not in touched), *gaps])


def stored_coverage(con: duckdb.DuckDBPyConnection) -> Coverage | None:
    """The kept coverage while its fingerprint matches the data, else None."""
    return _stored(con, incremental=False)


def _stored(con: duckdb.DuckDBPyConnection, *, incremental: bool) -> Coverage | None:
    """The kept coverage while its fingerprint matches the data; with `incremental`, only
    if its hourly counts are kept too, in the layout this module reads."""
    from auditlog.store.attribution import existing_tables  # the catalog in one query

    wanted = {CACHE_TABLE, HOURS_TABLE} if incremental else {CACHE_TABLE}
    if existing_tables(con, wanted) != wanted:
        return None
    rows = con.execute(f"SELECT fingerprint, document FROM {CACHE_TABLE}").fetchall()
    if len(rows) != 1 or rows[0][0] != data_fingerprint(con):
        return None
    doc = json.loads(rows[0][1])
    if incremental and doc.get("hours") != HOURS_LAYOUT:
        return None
    when = datetime.fromisoformat
    return Coverage(
        tuple(Source(k, sys, n, when(a), when(b)) for k, sys, n, a, b in doc["sources"]),
        tuple(doc["missing"]),
        tuple(Gap(k, sys, when(a), when(b), n) for k, sys, a, b, n in doc["gaps"]))


def hourly_counts(con: duckdb.DuckDBPyConnection) -> None:
    """Events per (kind, system, hour) as a TEMP table: one grouped scan of each table.
    Hours are whole hours since the epoch (integer division, several times faster than
    date_trunc on zoned times at 10M rows); hour % 168 is then the hour of the week."""
    selects = [f"""SELECT '{kind}' AS kind, system, epoch_us({column}) // 3600000000 AS hour,
                          count(*) AS n, min({column}) AS first_ts, max({column}) AS last_ts
                   FROM {kind} WHERE {column} IS NOT NULL GROUP BY ALL"""
               for kind, column in EVENT_KINDS.items()]
    con.execute("CREATE OR REPLACE TEMP TABLE coverage_hours AS\n"
                + "\nUNION ALL\n".join(selects))


# Every hour of each source's span, its usual count, the runs of empty hours, and of
# those the ones whose hours usually hold events. Spans are the source's own: a billing
# export that runs on after another system's last sale is not a hole in that system. A
# silence longer than MAX_SILENCE_HOURS splits the span into periods of activity and is
# not itself a gap (the source was not running, or a stray timestamp lies years away);
# that also bounds the hourly grid, which one event in year 1 would otherwise stretch
# over millennia.
GAPS_SQL = """
WITH steps AS (
    SELECT kind, system, hour,
           hour - lag(hour) OVER (PARTITION BY kind, system ORDER BY hour) AS step
    FROM coverage_hours
), segments AS (
    SELECT kind, system, hour,
           sum(CASE WHEN step IS NULL OR step > $max_silence THEN 1 ELSE 0 END) OVER (
               PARTITION BY kind, system ORDER BY hour ROWS UNBOUNDED PRECEDING) AS segment
    FROM steps
), spans AS (
    SELECT kind, system, segment, min(hour) AS lo, max(hour) AS hi FROM segments GROUP BY ALL
), sources AS (
    SELECT kind, system FROM spans GROUP BY ALL
    HAVING sum(hi - lo + 1) >= 168 * $weeks
), grid AS (
    SELECT s.kind, s.system, g.hour
    FROM spans AS s
    JOIN sources AS k ON k.kind = s.kind AND k.system IS NOT DISTINCT FROM s.system,
         LATERAL (SELECT unnest(generate_series(s.lo, s.hi)) AS hour) AS g
), filled AS (
    SELECT g.kind, g.system, g.hour, coalesce(h.n, 0) AS n, g.hour % 168 AS slot
    FROM grid AS g LEFT JOIN coverage_hours AS h
      ON h.kind = g.kind AND h.system IS NOT DISTINCT FROM g.system AND h.hour = g.hour
), usual AS (
    SELECT kind, system, hour, n,
           CASE WHEN count(*) OVER w >= $weeks THEN quantile_disc(n, 0.5) OVER w ELSE 0 END
               AS usual
    FROM filled
    WINDOW w AS (PARTITION BY kind, system, slot)
), empty AS (
    SELECT kind, system, hour, usual,
           hour - row_number() OVER (
               PARTITION BY kind, system ORDER BY hour) AS run
    FROM usual WHERE n = 0
)
SELECT kind, system,
       to_timestamp(3600 * min(hour) FILTER (WHERE usual > 0)) AS start,
       to_timestamp(3600 * (max(hour) FILTER (WHERE usual > 0) + 1)) AS "end",
       sum(usual)::BIGINT AS expected
FROM empty
GROUP BY kind, system, run
HAVING sum(usual) >= $min_expected
ORDER BY start, kind, system NULLS FIRST
"""
