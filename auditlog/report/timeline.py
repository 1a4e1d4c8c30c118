"""The incident in time: charges of the affected products per hour (or day) around the
change, anomalous against normal, and the moments that matter (grant, change, first
anomalous action, peak, rollback, refunds), as records of the report's model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import duckdb

from auditlog.analysis.summary import Party
from auditlog.report.formatting import count, duration, utc, when
from auditlog.report.model import (
    AccountSection,
    Bar,
    ChangeSection,
    Chart,
    ChartWindow,
    Event,
    Grant,
    Incident,
    Marker,
    Refunds,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Hourly bars while the picture spans at most this long; daily beyond.
HOURLY_SPAN = timedelta(days=6)

SERIES_SQL = """
    SELECT date_trunc('hour', c.ts) AS bucket,
           count(CASE WHEN a.charge_id IS NOT NULL
                       AND (CAST(? AS VARCHAR) IS NULL OR a.change_id = ?) THEN 1 END)
               AS anomalous,
           count(CASE WHEN a.charge_id IS NULL THEN 1 END) AS normal
    FROM charges AS c
    LEFT JOIN report_anomalous AS a ON a.charge_id = c.charge_id
    WHERE coalesce(c.type, 'one_time') <> 'refund'
      AND list_contains(CAST(? AS VARCHAR[]), c.product)
      AND c.ts >= CAST(? AS TIMESTAMPTZ) AND c.ts < CAST(? AS TIMESTAMPTZ)
    GROUP BY bucket ORDER BY bucket"""

# The anomalous charges of SERIES_SQL, per hour and responsible (change, account).
PARTS_SQL = """
    SELECT date_trunc('hour', c.ts) AS bucket, a.change_id, a.actor, count(*) AS charges
    FROM charges AS c
    JOIN report_anomalous AS a ON a.charge_id = c.charge_id
    WHERE coalesce(c.type, 'one_time') <> 'refund'
      AND (CAST(? AS VARCHAR) IS NULL OR a.change_id = ?)
      AND list_contains(CAST(? AS VARCHAR[]), c.product)
      AND c.ts >= CAST(? AS TIMESTAMPTZ) AND c.ts < CAST(? AS TIMESTAMPTZ)
    GROUP BY ALL"""
OTHER = "other anomalous charges"
# Incidents the chart tells apart; beyond, the smaller ones share one series.
MAX_SERIES = 5

REFUNDS_SQL = """
    SELECT count(*) AS refunds, min(r.ts) AS first, max(r.ts) AS last
    FROM charges AS r
    JOIN report_anomalous AS a ON a.charge_id = r.refund_of
    WHERE r.type = 'refund' AND (CAST(? AS VARCHAR) IS NULL OR a.change_id = ?)"""


def hourly(con: duckdb.DuckDBPyConnection, change_id: str | None, products: Sequence[str],
           start: datetime, end: datetime) -> list[Bar]:
    """Charges of `products` per hour in [start, end), every hour present (zeros too)."""
    rows = con.execute(SERIES_SQL, [change_id, change_id, list(products), start, end]).fetchall()
    seen = {utc(bucket): (int(anomalous), int(normal)) for bucket, anomalous, normal in rows}
    bars, at = [], start
    while at < end:
        anomalous, normal = seen.get(at, (0, 0))
        bars.append(Bar(at, anomalous, normal))
        at += HOUR
    return bars


def by_day(bars: Sequence[Bar]) -> list[Bar]:
    """The bars summed per UTC day."""
    days: dict[datetime, tuple[int, int]] = {}
    for bar in bars:
        key = utc(bar.start).replace(hour=0, minute=0, second=0, microsecond=0)
        anomalous, normal = days.get(key, (0, 0))
        days[key] = (anomalous + bar.anomalous, normal + bar.normal)
    return [Bar(key, anomalous, normal) for key, (anomalous, normal) in days.items()]


def chart(con: duckdb.DuckDBPyConnection, change_id: str | None, products: Sequence[str],
          moments: Sequence[datetime], changes: Sequence[ChangeSection],
          grants: Sequence[Grant] = ()) -> Chart | None:
    """The chart's data: bars around the given moments (change starts, first and last
    anomalous actions, rollbacks) with half a day (or two days) of context each side."""
    if not products or not moments:
        return None
    first = utc(min(moments)).replace(minute=0, second=0, microsecond=0)
    last = utc(max(moments)).replace(minute=0, second=0, microsecond=0)
    bucket = "hour" if last - first <= HOURLY_SPAN else "day"
    if bucket == "hour":
        start, end = first - 12 * HOUR, last + 13 * HOUR
    else:
        start = first.replace(hour=0) - 2 * DAY
        end = last.replace(hour=0) + 3 * DAY
    bars = hourly(con, change_id, products, start, end)
    if bucket == "day":
        bars = by_day(bars)
    return Chart(
        bucket=bucket, products=tuple(products), start=start, end=end, bars=tuple(bars),
        peak=peak(bars), markers=tuple(markers(changes, grants, start, end)),
        windows=tuple(ChartWindow(c.window_start, c.window_end,
                                  f"{c.change_id} approved window") for c in changes
                      if c.window_start and c.window_end),
    )


def incident_label(incident: Incident) -> str:
    """How the chart's legend names an incident: the account and its change."""
    actor = incident.actor or "unknown account"
    return f"{actor} under {incident.change_id}" if incident.change_id else f"{actor}, no change"


def split_by_incident(con: duckdb.DuckDBPyConnection, chart_data: Chart,
                      change_id: str | None, incidents: Sequence[Incident]) -> Chart:
    """The chart with each bar's anomalous charges split per incident (Bar.parts, in the
    order of `incidents`), so incidents that overlap in time stay told apart. Beyond
    MAX_SERIES incidents, the smaller ones share one last series, as do charges of no
    listed incident (none, unless the data changed underneath)."""
    shown = list(incidents[:MAX_SERIES - 1] if len(incidents) > MAX_SERIES else incidents)
    keys = {(i.change_id, i.actor): n for n, i in enumerate(shown)}
    rest = len(shown)  # the slot of every other anomalous charge
    rows = con.execute(PARTS_SQL, [change_id, change_id, list(chart_data.products),
                                   chart_data.start, chart_data.end]).fetchall()
    counts: dict[tuple[datetime, int], int] = {}
    for bucket, cid, actor, n in rows:
        at = utc(bucket)
        if chart_data.bucket == "day":
            at = at.replace(hour=0, minute=0, second=0, microsecond=0)
        slot = keys.get((cid, actor), rest)
        counts[(at, slot)] = counts.get((at, slot), 0) + int(n)
    other = any(slot == rest for _, slot in counts)
    width = rest + (1 if other else 0)
    bars = tuple(replace(b, parts=tuple(counts.get((utc(b.start), k), 0) for k in range(width)))
                 for b in chart_data.bars)
    hidden = len(incidents) - len(shown)
    labels = [incident_label(i) for i in shown]
    if other:
        labels.append(f"{hidden:,} other incidents" if hidden else OTHER)
    return replace(chart_data, bars=bars, series=tuple(labels))


def peak(bars: Sequence[Bar]) -> Bar | None:
    """The first bar with the most anomalous charges."""
    best: Bar | None = None
    for bar in bars:
        if bar.anomalous and (best is None or bar.anomalous > best.anomalous):
            best = bar
    return best


def markers(changes: Sequence[ChangeSection], grants: Sequence[Grant],
            start: datetime, end: datetime) -> list[Marker]:
    """Vertical lines on the chart: the grants used, each change's start, its rollback."""
    found = [Marker(g.granted_at, "grant", f"grant {g.id}") for g in grants]
    for c in changes:
        found.append(Marker(c.started_at, "change", c.change_id))
        if c.rollback:
            found.append(Marker(c.rollback.started_at, "rollback",
                                f"rollback {c.rollback.change_id}"))
    return sorted((m for m in found if start <= m.time < end),
                  key=lambda m: (m.time, m.label))


def refunds(con: duckdb.DuckDBPyConnection, change_id: str | None) -> Refunds:
    n, first, last = con.execute(REFUNDS_SQL, [change_id, change_id]).fetchone() or (0, None, None)
    return Refunds(int(n), first, last)


def change_events(change: ChangeSection) -> list[Event]:
    cid, events = change.change_id, []
    if change.window_start:
        events.append(Event(change.window_start, "window", f"{cid}: approved window opens"))
    if change.window_end:
        events.append(Event(change.window_end, "window", f"{cid}: approved window closes"))
    events.append(Event(change.started_at, "change",
                        f"{cid} starts: {change.kind or 'change'} of {change.system}",
                        f"by {change.implementer}; {approval_note(change)}"))
    if change.finished_at:
        events.append(Event(change.finished_at, "change", f"{cid} finished",
                            f"status {change.status or 'unknown'}"))
    if change.rollback:
        rb = change.rollback
        events.append(Event(rb.started_at, "rollback", f"Rollback {rb.change_id} starts",
                            f"{duration(change.started_at, rb.started_at)} after {cid}"))
    return events


def approval_note(change: ChangeSection) -> str:
    """'approved by X', or what is wrong with the approval and the timing."""
    if not change.approver:
        note = "never approved"
    elif change.approval.self_approved:
        note = "self-approved by its implementer"
    else:
        note = f"approved by {change.approver}"
    start, end = change.window_start, change.window_end
    if change.window.started_within is False:
        if start and change.started_at < start:
            note += f"; {duration(change.started_at, start)} before its window"
        elif end:
            note += f"; {duration(end, change.started_at)} after its window"
    return note


def grant_events(account: AccountSection) -> list[Event]:
    events = []
    for g in account.grants:
        approval = ", ".join(f"{k} {v}" if v else f"no {k}"
                             for k, v in (("ticket", g.ticket), ("approver", g.approver)))
        events.append(Event(g.granted_at, "grant",
                            f"{g.granter} grants {g.subject} {g.privilege}",
                            f"on {g.system or 'every system'}; {approval}"))
        if g.revoked_at:
            events.append(Event(g.revoked_at, "revoke",
                                f"{g.privilege} revoked from {g.subject}"))
    return events


def party_events(party: Party) -> list[Event]:
    under = f"under {party.change_id}" if party.change_id else "no change to blame"
    products = ", ".join(party.products)
    events = []
    if party.first_cause_time:
        events.append(Event(party.first_cause_time, "anomaly",
                            f"First unauthorized charge caused by {party.actor}",
                            f"{products}; {under}"))
    if party.last_cause_time:
        events.append(Event(party.last_cause_time, "anomaly",
                            f"Last unauthorized charge caused by {party.actor}",
                            f"{count(party.charges)} charges on {count(party.customers)} "
                            "customers"))
    return events


def timeline(changes: Sequence[ChangeSection], accounts: Sequence[AccountSection],
             parties: Sequence[Party], chart_data: Chart | None, refund_facts: Refunds,
             outstanding: int) -> list[Event]:
    """Every moment that matters, in time order (ties by kind, then title)."""
    events = [e for c in changes for e in change_events(c)]
    events += [e for a in accounts for e in grant_events(a)]
    events += [e for p in parties for e in party_events(p)]
    top = chart_data.peak if chart_data else None
    if chart_data and top:
        span = "hour" if chart_data.bucket == "hour" else "day"
        events.append(Event(top.start, "peak", f"Peak: {count(top.anomalous)} anomalous "
                            f"charges in one {span}", f"from {when(top.start)}"))
    if refund_facts.first and refund_facts.last:
        events.append(Event(refund_facts.first, "refund", "First refund issued"))
        events.append(Event(refund_facts.last, "refund", "Latest refund issued",
                            f"{count(refund_facts.refunds)} refunds in all; "
                            f"{count(outstanding)} charges still to refund"))
    unique = {(e.time, e.kind, e.title): e for e in events}
    return [unique[k] for k in sorted(unique)]
