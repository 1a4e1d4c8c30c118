"""When billing's clock runs further behind the order systems' than the model allows.

A charge without an order id is paired with an order of its customer and product placed
up to `clock_skew_minutes` after it (docs/attribution.md). A billing system whose clock
runs half an hour behind writes every such charge before its order: the charge pairs with
nothing, looks anomalous, and its order stays unbilled. The logs show that signature, an
anomalous charge that nothing caused followed shortly by an order of the same customer
and product that no charge bills, and this says so, with the skew that would pair them;
the verdicts stay the model's (the skew is the user's to confirm, never guessed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from statistics import median

import duckdb

# Charges a sentence names before it only counts the rest.
NAMED = 5
# The suggested skew is rounded up to this step, in minutes.
STEP = 5

LEADS_SQL = """
    WITH lost AS (
        SELECT charge_id, charged_at, account, product
        FROM anomalous_charges
        WHERE cause_event_id IS NULL
          AND ($charge IS NULL OR charge_id = $charge)
    ),
    billed AS (
        SELECT DISTINCT coalesce(cause_order_id, cause_event_id) AS order_key
        FROM charge_causes WHERE cause_event_id IS NOT NULL
        UNION
        SELECT DISTINCT order_id FROM charge_causes WHERE order_id IS NOT NULL
    ),
    unbilled AS (
        SELECT o.customer, o.object, o.order_key, min(o.ts) AS first_ts
        FROM order_actions AS o
        LEFT JOIN billed AS b ON b.order_key = o.order_key
        WHERE b.order_key IS NULL AND o.object IS NOT NULL
          AND o.customer IN (SELECT account FROM lost)
        GROUP BY o.customer, o.object, o.order_key
    )
    SELECT l.charge_id, min(u.first_ts - l.charged_at) AS lead
    FROM lost AS l
    JOIN unbilled AS u
      ON u.customer = l.account AND u.object = l.product
     AND u.first_ts > l.charged_at + $before AND u.first_ts <= l.charged_at + $after
    GROUP BY l.charge_id, l.charged_at
    ORDER BY l.charged_at, l.charge_id"""


@dataclass(frozen=True)
class EarlyCharges:
    """Anomalous charges billed shortly before an unbilled order of theirs, and how long
    before (the nearest such order's first action, per charge)."""

    charges: tuple[str, ...]
    leads: tuple[timedelta, ...]
    allowed: timedelta

    def suggested_minutes(self) -> int:
        """The skew that pairs most of them: their median lead, rounded up to STEP."""
        minutes = median(lead / timedelta(minutes=1) for lead in self.leads)
        return int(math.ceil(minutes / STEP) * STEP)

    def sentence(self) -> str:
        count = len(self.charges)
        named = ", ".join(self.charges[:NAMED]) + (
            f" and {count - NAMED:,} more" if count > NAMED else "")
        low, high = (round(min(self.leads) / timedelta(minutes=1)),
                     round(max(self.leads) / timedelta(minutes=1)))
        span = f"{low}" if low == high else f"{low} to {high}"
        allowed = round(self.allowed / timedelta(minutes=1))
        them = "it" if count == 1 else "them"
        return (f"{count:,} anomalous charge{'s' if count != 1 else ''} ({named}) "
                f"{'was' if count == 1 else 'were'} billed {span} minutes before an order "
                f"of {'its' if count == 1 else 'their'} customer and product that no charge "
                f"bills, more than the {allowed} minutes billing's clock may run behind the "
                f"order systems' (clock_skew_minutes); if it runs that far behind, "
                f"auditlog run --param clock_skew_minutes={self.suggested_minutes()} "
                f"pairs {them} with {'its order' if count == 1 else 'their orders'}.")


def early_charges(con: duckdb.DuckDBPyConnection, before: timedelta, after: timedelta, *,
                  charge_id: str | None = None) -> EarlyCharges | None:
    """The anomalous charges without a causal action (the one `charge_id`, if given)
    that an unbilled order of their customer and product
    follows by more than `before` (the model's clock skew) and at most `after` (its
    pairing reach); None when there is none. Needs the shared views."""
    rows = con.execute(LEADS_SQL, {"charge": charge_id,
                                   "before": before, "after": after}).fetchall()
    if not rows:
        return None
    return EarlyCharges(tuple(str(r[0]) for r in rows), tuple(r[1] for r in rows), before)
