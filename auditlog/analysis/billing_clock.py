"""When billing's clock runs further behind the order systems' than the model allows.

A charge without an order id is paired with an order of its customer and product placed
up to `clock_skew_minutes` after it (docs/attribution.md). A billing system whose clock
runs half an hour behind writes every such charge before its order: the charge pairs with
nothing, looks anomalous, and its order stays unbilled. The logs show that signature, an
anomalous charge that nothing caused followed shortly by an order of the same customer
and product that no charge bills, and this says so, with the skew that would pair them;
the verdicts stay the model's (the skew is the user's to confirm, never guessed).

A charge of a billing export that writes dates only (an invoice date, read as that day's
midnight in the zone its file was read in) is hours before its order by its form, not by
a clock: no minute-level skew is meant there. Such charges are told apart (`dated`), so
that the answer says they carry dates only rather than suggest a skew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import duckdb

# The suggested skew is rounded up to this step, in minutes.
STEP = 5

# The orders of the lost charges' customers first, then whether any charge bills them:
# two anti-joins probed by those few orders, not a DISTINCT of every charge's order
# (which a trace of one charge paid for in full: ~0.05 s at 1M charges, issue 14).
LEADS_SQL = """
    WITH lost AS (
        SELECT a.charge_id, a.charged_at, a.account, a.product,
               coalesce(CAST(timezone(coalesce(nullif(f.tz, 'none'), 'UTC'), a.charged_at)
                             AS TIME) = TIME '00:00:00', false) AS dated
        FROM anomalous_charges AS a
        LEFT JOIN charges AS c ON c.charge_id = a.charge_id
        LEFT JOIN (SELECT sha256, min(tz) AS tz FROM ingested_files GROUP BY sha256) AS f
          ON f.sha256 = c._file
        WHERE a.cause_event_id IS NULL
          AND ($charge IS NULL OR a.charge_id = $charge)
    ),
    orders AS (
        SELECT o.customer, o.object, o.order_key, min(o.ts) AS first_ts
        FROM order_actions AS o
        WHERE o.object IS NOT NULL AND o.customer IN (SELECT account FROM lost)
        GROUP BY o.customer, o.object, o.order_key
    ),
    unbilled AS (
        SELECT o.* FROM orders AS o
        WHERE NOT EXISTS (
            SELECT 1 FROM charge_causes AS cc
            WHERE cc.order_id = o.order_key)
          AND NOT EXISTS (
            SELECT 1 FROM charge_causes AS cc
            WHERE cc.cause_event_id IS NOT NULL
              AND coalesce(cc.cause_order_id, cc.cause_event_id) = o.order_key)
    )
    SELECT l.charge_id, min(u.first_ts - l.charged_at) AS lead, l.dated
    FROM lost AS l
    JOIN unbilled AS u
      ON u.customer = l.account AND u.object = l.product
     AND u.first_ts > l.charged_at + $before AND u.first_ts <= l.charged_at + $after
    GROUP BY l.charge_id, l.charged_at, l.dated
    ORDER BY l.charged_at, l.charge_id"""


@dataclass(frozen=True)
class EarlyCharges:
    """Anomalous charges billed shortly before an unbilled order of theirs, and how long
    before (the nearest such order's first action, per charge). `dated`: whether they
    carry dates only (at midnight where read), early by their form, not by a clock."""

    charges: tuple[str, ...]
    leads: tuple[timedelta, ...]
    allowed: timedelta
    dated: bool = False

    def suggested_minutes(self) -> int:
        """The skew that pairs most of them: their median lead, rounded up to STEP."""
        # Imported here: statistics costs ~2 ms, and every trace imports this module
        # while only a trace with early charges asks (start time, issue 14).
        from statistics import median

        minutes = median(lead / timedelta(minutes=1) for lead in self.leads)
        return int(math.ceil(minutes / STEP) * STEP)


def early_charges(con: duckdb.DuckDBPyConnection, before: timedelta, after: timedelta, *,
                  charge_id: str | None = None) -> EarlyCharges | None:
    """The anomalous charges without a causal action (the one `charge_id`, if given)
    that an unbilled order of their customer and product
    follows by more than `before` (the model's clock skew) and at most `after` (its
    pairing reach); None when there is none. Needs the shared views."""
    found = early_groups(con, before, after, charge_id=charge_id)
    return found[0] if found else None


def early_groups(con: duckdb.DuckDBPyConnection, before: timedelta, after: timedelta, *,
                 charge_id: str | None = None) -> list[EarlyCharges]:
    """early_charges, parted: those with a time of day, then those that carry dates
    only (EarlyCharges.dated); each part only when it has charges."""
    rows = con.execute(LEADS_SQL, {"charge": charge_id,
                                   "before": before, "after": after}).fetchall()
    return [EarlyCharges(tuple(str(r[0]) for r in part), tuple(r[1] for r in part), before,
                         dated)
            for dated in (False, True)
            if (part := [r for r in rows if bool(r[2]) is dated])]
