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
at 10M rows reads it instead of rescanning. What a gap or a missing kind means for an
answer, in words, is caveats.py.
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
    sources = tuple(Source(*row) for row in con.execute("""
        SELECT kind, system, sum(n)::BIGINT, min(first_ts), max(last_ts) FROM coverage_hours
        GROUP BY kind, system ORDER BY kind, system NULLS FIRST""").fetchall())
    present = {s.kind for s in sources}
    missing = tuple(k for k in EVENT_KINDS if k not in present)
    gaps = tuple(Gap(*row) for row in con.execute(GAPS_SQL, {
        "weeks": MIN_WEEKS, "min_expected": MIN_EXPECTED,
        "max_silence": MAX_SILENCE_HOURS}).fetchall())
    con.execute("DROP TABLE IF EXISTS coverage_hours")
    return Coverage(sources, missing, gaps)


CACHE_TABLE = "coverage_state"


def data_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The data's digest (files and row counts, as for the stored attribution) and this
    module's definition of a gap: either changing makes a stored coverage stale."""
    from auditlog.store.attribution import fingerprint

    definition = f"{MIN_WEEKS} {MIN_EXPECTED} {MAX_SILENCE_HOURS} {GAPS_SQL}"
    return hashlib.sha256(f"{fingerprint(con, [])}\n{definition}".encode()).hexdigest()


def store_coverage(con: duckdb.DuckDBPyConnection) -> Coverage:
    """Compute the coverage on a writable connection and keep it with the fingerprint,
    inside the caller's transaction (an ingest's: its coverage commits with its rows)."""
    cov = compute_coverage(con)
    document = json.dumps({
        "sources": [[s.kind, s.system, s.rows, iso_utc(s.first), iso_utc(s.last)]
                    for s in cov.sources],
        "missing": list(cov.missing),
        "gaps": [[g.kind, g.system, iso_utc(g.start), iso_utc(g.end), g.expected]
                 for g in cov.gaps]})
    con.execute(f"CREATE TABLE IF NOT EXISTS {CACHE_TABLE} (fingerprint VARCHAR, document VARCHAR)")
    con.execute(f"DELETE FROM {CACHE_TABLE}")
    con.execute(f"INSERT INTO {CACHE_TABLE} VALUES (?, ?)", [data_fingerprint(con), document])
    return cov


def stored_coverage(con: duckdb.DuckDBPyConnection) -> Coverage | None:
    """The kept coverage while its fingerprint matches the data, else None."""
    (present,) = con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                             "table_name = ? AND table_schema = 'main'",
                             [CACHE_TABLE]).fetchall()
    if present != (1,):
        return None
    rows = con.execute(f"SELECT fingerprint, document FROM {CACHE_TABLE}").fetchall()
    if len(rows) != 1 or rows[0][0] != data_fingerprint(con):
        return None
    doc = json.loads(rows[0][1])
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
