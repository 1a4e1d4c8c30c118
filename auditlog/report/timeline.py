"""The incident in time: charges of the affected products per hour (or day) around the
change, anomalous against normal, and the moments that matter (grant, change, first
anomalous action, peak, rollback, refunds), as plain data for the renderers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from auditlog.report.formatting import count, duration, parse, when
from auditlog.values import iso_utc

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

REFUNDS_SQL = """
    SELECT count(*) AS refunds, min(r.ts) AS first, max(r.ts) AS last
    FROM charges AS r
    JOIN report_anomalous AS a ON a.charge_id = r.refund_of
    WHERE r.type = 'refund' AND (CAST(? AS VARCHAR) IS NULL OR a.change_id = ?)"""


def hourly(con: duckdb.DuckDBPyConnection, change_id: str | None, products: Sequence[str],
           start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Charges of `products` per hour in [start, end), every hour present (zeros too)."""
    rows = con.execute(SERIES_SQL, [change_id, change_id, list(products), start, end]).fetchall()
    seen = {bucket: (int(anomalous), int(normal)) for bucket, anomalous, normal in rows}
    bars, at = [], start
    while at < end:
        anomalous, normal = seen.get(at, (0, 0))
        bars.append({"start": iso_utc(at), "anomalous": anomalous, "normal": normal})
        at += HOUR
    return bars


def by_day(bars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    for bar in bars:
        key = bar["start"][:10] + "T00:00:00Z"
        slot = days.setdefault(key, {"start": key, "anomalous": 0, "normal": 0})
        slot["anomalous"] += bar["anomalous"]
        slot["normal"] += bar["normal"]
    return list(days.values())


def chart(con: duckdb.DuckDBPyConnection, change_id: str | None, products: Sequence[str],
          moments: Sequence[str], changes: Sequence[dict[str, Any]],
          grants: Sequence[dict[str, Any]] = ()) -> dict[str, Any] | None:
    """The chart's data: bars around the given moments (change starts, first and last
    anomalous actions, rollbacks) with half a day (or two days) of context each side."""
    if not products or not moments:
        return None
    first = min(parse(m) for m in moments).replace(minute=0, second=0, microsecond=0)
    last = max(parse(m) for m in moments).replace(minute=0, second=0, microsecond=0)
    bucket = "hour" if last - first <= HOURLY_SPAN else "day"
    if bucket == "hour":
        start, end = first - 12 * HOUR, last + 13 * HOUR
    else:
        start = first.replace(hour=0) - 2 * DAY
        end = last.replace(hour=0) + 3 * DAY
    bars = hourly(con, change_id, products, start, end)
    if bucket == "day":
        bars = by_day(bars)
    return {
        "bucket": bucket, "products": list(products), "start": iso_utc(start),
        "end": iso_utc(end), "bars": bars, "peak": peak(bars),
        "markers": markers(changes, grants, start, end),
        "windows": [{"start": c["window_start"], "end": c["window_end"], "label":
                     f"{c['change_id']} approved window"} for c in changes
                    if c["window_start"] and c["window_end"]],
    }


def peak(bars: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first bar with the most anomalous charges."""
    best: dict[str, Any] | None = None
    for bar in bars:
        if bar["anomalous"] and (best is None or bar["anomalous"] > best["anomalous"]):
            best = bar
    return best


def markers(changes: Sequence[dict[str, Any]], grants: Sequence[dict[str, Any]],
            start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Vertical lines on the chart: the grants used, each change's start, its rollback."""
    found = [{"time": g["granted_at"], "kind": "grant", "label": f"grant {g['id']}"}
             for g in grants]
    for c in changes:
        found.append({"time": c["started_at"], "kind": "change", "label": c["change_id"]})
        if c["rollback"]:
            found.append({"time": c["rollback"]["started_at"], "kind": "rollback",
                          "label": f"rollback {c['rollback']['change_id']}"})
    return sorted((m for m in found if start <= parse(m["time"]) < end),
                  key=lambda m: (m["time"], m["label"]))


def refunds(con: duckdb.DuckDBPyConnection, change_id: str | None) -> dict[str, Any]:
    n, first, last = con.execute(REFUNDS_SQL, [change_id, change_id]).fetchone() or (0, None, None)
    return {"refunds": int(n), "first": iso_utc(first), "last": iso_utc(last)}


def event(time: str | None, kind: str, title: str, detail: str = "") -> dict[str, Any]:
    return {"time": time, "kind": kind, "title": title, "detail": detail}


def change_events(change: dict[str, Any]) -> list[dict[str, Any]]:
    cid, events = change["change_id"], []
    if change["window_start"]:
        events.append(event(change["window_start"], "window", f"{cid}: approved window opens"))
    if change["window_end"]:
        events.append(event(change["window_end"], "window", f"{cid}: approved window closes"))
    events.append(event(change["started_at"], "change",
                        f"{cid} starts: {change['kind'] or 'change'} of {change['system']}",
                        f"by {change['implementer']}; {approval_note(change)}"))
    if change["finished_at"]:
        events.append(event(change["finished_at"], "change", f"{cid} finished",
                            f"status {change['status'] or 'unknown'}"))
    if change["rollback"]:
        rb = change["rollback"]
        events.append(event(rb["started_at"], "rollback", f"Rollback {rb['change_id']} starts",
                            f"{duration(change['started_at'], rb['started_at'])} after {cid}"))
    return events


def approval_note(change: dict[str, Any]) -> str:
    """'approved by X', or what is wrong with the approval and the timing."""
    if not change["approver"]:
        note = "never approved"
    elif change["approval"]["self_approved"]:
        note = "self-approved by its implementer"
    else:
        note = f"approved by {change['approver']}"
    start, end = change["window_start"], change["window_end"]
    if change["window"]["started_within"] is False:
        if start and parse(change["started_at"]) < parse(start):
            note += f"; {duration(change['started_at'], start)} before its window"
        elif end:
            note += f"; {duration(end, change['started_at'])} after its window"
    return note


def grant_events(account: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    for g in account["grants"]:
        approval = ", ".join(f"{k} {g[k]}" if g[k] else f"no {k}" for k in ("ticket", "approver"))
        events.append(event(g["granted_at"], "grant",
                            f"{g['granter']} grants {g['subject']} {g['privilege']}",
                            f"on {g['system'] or 'every system'}; {approval}"))
        if g["revoked_at"]:
            events.append(event(g["revoked_at"], "revoke",
                                f"{g['privilege']} revoked from {g['subject']}"))
    return events


def party_events(party: dict[str, Any]) -> list[dict[str, Any]]:
    under = f"under {party['change_id']}" if party["change_id"] else "no change to blame"
    products = ", ".join(party["products"])
    return [
        event(party["first_cause_time"], "anomaly",
              f"First unauthorized charge caused by {party['actor']}",
              f"{products}; {under}"),
        event(party["last_cause_time"], "anomaly",
              f"Last unauthorized charge caused by {party['actor']}",
              f"{count(party['charges'])} charges on {count(party['customers'])} customers"),
    ]


def timeline(changes: Sequence[dict[str, Any]], accounts: Sequence[dict[str, Any]],
             parties: Sequence[dict[str, Any]], chart_data: dict[str, Any] | None,
             refund_facts: dict[str, Any], outstanding: int) -> list[dict[str, Any]]:
    """Every moment that matters, in time order (ties by kind, then title)."""
    events = [e for c in changes for e in change_events(c)]
    events += [e for a in accounts for e in grant_events(a)]
    events += [e for p in parties for e in party_events(p)]
    top = (chart_data or {}).get("peak")
    if top:
        span = "hour" if chart_data and chart_data["bucket"] == "hour" else "day"
        events.append(event(top["start"], "peak", f"Peak: {count(top['anomalous'])} anomalous "
                            f"charges in one {span}", f"from {when(top['start'])}"))
    if refund_facts["first"]:
        events.append(event(refund_facts["first"], "refund", "First refund issued"))
        events.append(event(refund_facts["last"], "refund", "Latest refund issued",
                            f"{count(refund_facts['refunds'])} refunds in all; "
                            f"{count(outstanding)} charges still to refund"))
    unique = {(e["time"], e["kind"], e["title"]): e for e in events if e["time"]}
    return [unique[k] for k in sorted(unique)]
