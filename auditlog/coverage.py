"""What the loaded logs can and cannot show: per kind and source system the time span and
rows, the kinds an answer needs that hold no rows, and the gaps (hours in which a source
that is normally busy at that hour of the week has no events).

A gap is judged from the source's own history (docs/coverage.md): per (kind, system) and
hour of the week, the usual count is the lower median of that hour's counts over the weeks
observed, empty hours included. A maximal run of empty hours is a gap when the usual counts
of its hours add up to at least MIN_EXPECTED events: a quiet night whose hours usually hold
0 or 1 event never does, and a source observed for fewer than MIN_WEEKS weeks yields none.
Everything is computed from one grouped scan per table into an hourly temp table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
# How long after an action a charge may still be caused by it (docs/attribution.md,
# rule 2): an anomalous charge that late after a hole in the actions may rest on it.
CAUSE_WINDOW = timedelta(hours=24)
# Charges a warning names before it only counts the rest.
NAMED = 5

# What each answer reads; `run` reads what its rules declare in `requires`.
NEEDS: dict[str, tuple[str, ...]] = {
    "remediation": ("actions", "charges", "changes"),
    "trace charge": ("actions", "charges", "changes", "privileges"),
    "trace change": ("changes", "charges", "actions"),
    "trace account": ("actions", "privileges"),
    "report": ("actions", "charges", "changes", "privileges"),
    "export": ("actions", "charges", "changes"),
}

# What a command cannot tell when a kind holds no rows at all.
WITHOUT = {
    "actions": "every one-time charge looks anomalous, because no action can show that its "
               "customer ordered it",
    "charges": "there are no charges to judge",
    "changes": "no change can be blamed for a charge",
    "privileges": "no privilege can be shown to have allowed an action",
}

# What a hole in a kind does to the answer, for kinds other than actions.
HOLE_EFFECT = {
    "charges": "charges billed then are not in this answer",
    "changes": "changes made then cannot be blamed",
    "privileges": "privileges granted then are not in the chain",
}


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

    def covers(self, moment: datetime) -> bool:
        """Whether a charge at `moment` may have lost its causal action to this gap."""
        return self.start <= moment < self.end + CAUSE_WINDOW


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

    def needed_by(self, needs: Iterable[str]) -> Coverage:
        """Only what an answer reading the kinds `needs` depends on."""
        wanted = set(needs)
        return Coverage(self.sources, tuple(k for k in self.missing if k in wanted),
                        tuple(g for g in self.gaps if g.kind in wanted))


def coverage(con: duckdb.DuckDBPyConnection) -> Coverage:
    """Spans, missing kinds and gaps of the database behind `con` (read-only is enough)."""
    hourly_counts(con)
    sources = tuple(Source(*row) for row in con.execute("""
        SELECT kind, system, sum(n)::BIGINT, min(first_ts), max(last_ts) FROM coverage_hours
        GROUP BY kind, system ORDER BY kind, system NULLS FIRST""").fetchall())
    present = {s.kind for s in sources}
    missing = tuple(k for k in EVENT_KINDS if k not in present)
    gaps = tuple(Gap(*row) for row in con.execute(GAPS_SQL, {
        "weeks": MIN_WEEKS, "min_expected": MIN_EXPECTED}).fetchall())
    con.execute("DROP TABLE IF EXISTS coverage_hours")
    return Coverage(sources, missing, gaps)


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
# export that runs on after another system's last sale is not a hole in that system.
GAPS_SQL = """
WITH sources AS (
    SELECT kind, system, min(hour) AS lo, max(hour) AS hi FROM coverage_hours GROUP BY ALL
    HAVING max(hour) - min(hour) >= 168 * $weeks - 1
), grid AS (
    SELECT s.kind, s.system, g.hour
    FROM sources AS s,
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


def charges_on_gaps(gaps: Sequence[Gap], charges: Iterable[tuple[str, datetime]]
                    ) -> dict[Gap, list[str]]:
    """Per actions gap, the given (charge_id, charged_at) whose causal action may be in it."""
    holes = [g for g in gaps if g.kind == "actions"]
    found: dict[Gap, list[str]] = {g: [] for g in holes}
    for charge_id, charged_at in charges:
        for gap in holes:
            if gap.covers(charged_at):
                found[gap].append(charge_id)
    return found


def anomalous_on_gaps(con: duckdb.DuckDBPyConnection, gaps: Sequence[Gap]
                      ) -> dict[Gap, list[str]]:
    """Per actions gap, the anomalous charges whose verdict may rest on it; reads the
    shared view `anomalous_charges` only when there is an actions gap at all."""
    holes = [g for g in gaps if g.kind == "actions"]
    if not holes:
        return {}
    from auditlog.rules.sandbox import install_shared_views

    install_shared_views(con)
    rows = con.execute(
        "SELECT charge_id, charged_at FROM anomalous_charges "
        "WHERE charged_at >= $lo AND charged_at < $hi ORDER BY charged_at, charge_id",
        {"lo": min(g.start for g in holes), "hi": max(g.end for g in holes) + CAUSE_WINDOW},
    ).fetchall()
    return charges_on_gaps(holes, rows)


def answer_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str], *,
                   charges: Iterable[tuple[str, datetime]] | None = None) -> list[str]:
    """The caveats of an answer that reads the kinds `needs`: one sentence per missing
    kind and per gap. `charges` are the answer's anomalous (charge_id, charged_at), when
    the caller has them; otherwise they are read from the shared views if a gap needs them."""
    cov = coverage(con).needed_by(needs)
    on_gaps = anomalous_on_gaps(con, cov.gaps) if charges is None else \
        charges_on_gaps(cov.gaps, charges)
    return caveats(cov, on_gaps)


def charge_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str], charge_id: str,
                   anomalous: bool) -> list[str]:
    """The caveats of one charge's trace: missing kinds, and the gaps whose window holds
    the charge. A hole in the actions can only hide what authorizes a charge, so it puts
    in doubt an anomalous verdict, never an authorized one."""
    cov = coverage(con).needed_by(needs)
    row = con.execute("SELECT min(ts) FROM charges WHERE charge_id = $id",
                      {"id": charge_id}).fetchone()
    at = row[0] if row else None
    gaps = tuple(g for g in cov.gaps if at is not None and g.covers(at)
                 and (anomalous or g.kind != "actions"))
    return caveats(Coverage(cov.sources, cov.missing, gaps),
                   {g: [charge_id] for g in gaps if g.kind == "actions"})


def caveats(cov: Coverage, on_gaps: Mapping[Gap, Sequence[str]] | None = None) -> list[str]:
    """One sentence per missing kind and per gap of `cov` (see Coverage.needed_by);
    `on_gaps` gives the anomalous charges that rest on each actions gap."""
    lines = [f"the {kind} log holds no rows, so {WITHOUT[kind]}." for kind in cov.missing]
    for gap in cov.gaps:
        lines.append(f"{gap_text(gap)}; {gap_effect(gap, (on_gaps or {}).get(gap))}.")
    return lines


def sentence(caveat: str) -> str:
    """A caveat as a document's sentence: capitalized (on stderr it follows 'warning: ')."""
    return caveat[:1].upper() + caveat[1:]


def gap_text(gap: Gap) -> str:
    source = f"the {gap.kind} log" + (f" of system {gap.system}" if gap.system else "")
    return (f"{source} has no events {window_text(gap.start, gap.end)} "
            f"(about {gap.expected:,} expected)")


def gap_effect(gap: Gap, charges: Sequence[str] | None) -> str:
    if gap.kind != "actions":
        return HOLE_EFFECT[gap.kind]
    if charges is None:
        return "charges billed then or within 24 hours after may lack their causal actions"
    if not charges:
        return ("no anomalous charge was billed then or within 24 hours after, "
                "but actions from then are not in this answer")
    count = len(charges)
    named = ", ".join(charges[:NAMED]) + (f" and {count - NAMED:,} more" if count > NAMED else "")
    return (f"{count:,} anomalous charge{'s' if count != 1 else ''} ({named}) billed then or "
            "within 24 hours after may be judged anomalous only because "
            f"{'their' if count != 1 else 'its'} actions are missing")


def window_text(start: datetime, end: datetime) -> str:
    """'from 2026-09-23 02:00 to 08:00 UTC', with the end's date when it differs."""
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"from {start:%Y-%m-%d %H:%M} to {until} UTC"
