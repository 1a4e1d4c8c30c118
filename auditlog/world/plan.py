"""The incident's script: who does what when, drawn from the seed before any row is made.

Deciding everything up front lets the change calendar, the privilege log and the daily
flows agree on the same moments (the grant hours before the upgrade, the rollback a day
and a half later, refunds days after) without the flows knowing about each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from random import Random

from auditlog.errors import UsageError
from auditlog.world.cast import ORDER_SERVICE, ORDER_SYSTEM, Cast
from auditlog.world.catalog import Catalog, Product
from auditlog.world.clock import HOUR, MINUTE, Period

# Smallest period that fits the story: a week of routine before, refunds after.
MIN_DAYS = 21

# The service account's run (CONTRACT.md section 1): a third of the customers, some
# twice, most refunded later. (Which charges lack their order_id: BillingShape.)
SHARE_RANGE = (0.32, 0.38)
STACK_RATE = 0.08
REFUND_RATE_RANGE = (0.85, 0.90)
SPLIT_REFUND_RATE = 0.01  # refunded in two parts, which still add up to the amount
OPERATOR_CUSTOMERS = (26, 34)


@dataclass(frozen=True)
class BillingShape:
    """How the billing export differs from the order systems, as real exports do.

    The defaults are a realistic share for a carrier billing in one currency (the
    sample world); second_currency bills a share of the customers in another one.
    BillingShape.plain() is the tidy export whose clocks agree, where most charges name
    their order and every partner logs its own subscribe.
    """

    # Share of one-time charges, of every flow, exported without their order_id.
    missing_order_id: float = 1 / 3
    # Share of partner purchases logged only as the customer's confirm_order on the
    # partner gateway: the partner charges 5-60 s later and logs no subscribe of its own.
    partner_confirm_only: float = 0.5
    # Billing's clock disagrees with the order systems' by up to this many seconds,
    # either way, so a charge can be written before the action that caused it.
    clock_skew_seconds: int = 120
    # Customers billed in a second currency (None: everyone in EUR), at this rate.
    second_currency: str | None = None
    second_currency_share: float = 0.15
    second_currency_rate: Decimal = Decimal("1.10")

    @classmethod
    def plain(cls) -> BillingShape:
        return cls(missing_order_id=0.15, partner_confirm_only=0.0, clock_skew_seconds=0)

    def __post_init__(self) -> None:
        for name in ("missing_order_id", "partner_confirm_only", "second_currency_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise UsageError(f"{name} must be a share between 0 and 1")
        # Orders of one customer and product are at least 25 hours apart (OrderBook) and
        # a charge comes at least 5 s after its order: more skew could reorder pairs.
        if not 0 <= self.clock_skew_seconds <= 240:
            raise UsageError("clock_skew_seconds must be between 0 and 240")
        code = self.second_currency
        if code is not None and not (len(code) == 3 and code.isalpha() and code.isupper()
                                     and code != "EUR"):
            raise UsageError(f"second currency {code!r} must be an ISO 4217 code other "
                             "than EUR, like USD")


@dataclass(frozen=True)
class IncidentPlan:
    day: int  # D: the upgrade's local day
    service: str
    system: str
    product: Product
    privilege: str
    engineer: str  # grants the privilege without a ticket, implements and self-approves
    rollback_engineer: str
    grant_ts: int
    upgrade_window: tuple[int, int]
    upgrade_start: int
    upgrade_end: int
    run_start: int  # the service account's first subscription
    rollback_start: int  # ... and it stops before this
    rollback_end: int
    share: float
    refund_rate: float
    refund_days: tuple[int, ...]
    incident_ticket: str
    operator: str
    operator_product: Product
    operator_customers: int
    operator_start: int
    operator_refunds: int  # how many of the operator's charges customers get refunded
    campaign_day: int
    release: str  # version number in the upgrade's summary


def plan_incident(
    rng: Random, period: Period, cast: Cast, catalog: Catalog, ticket: str
) -> IncidentPlan:
    """Draw the incident's day, actors, product and timings."""
    day = period.days // 2 + rng.randint(-2, 1)
    engineer, rollback_engineer = rng.sample(cast.engineers[ORDER_SYSTEM], 2)
    # The misbehaving operator works the whole period (not the joiner or the leaver).
    steady = [op for op in cast.operators if op not in (cast.joiner, cast.leaver)]
    upgrade_start = period.at(day, 19) + rng.randint(15, 50) * MINUTE
    rollback_start = upgrade_start + 36 * HOUR + rng.randint(-30, 30) * MINUTE
    customers = len(cast.customers)
    return IncidentPlan(
        day=day,
        service=ORDER_SERVICE,
        system=ORDER_SYSTEM,
        product=rng.choice(catalog.addons),
        privilege="order:bulk_subscribe",
        engineer=engineer,
        rollback_engineer=rollback_engineer,
        grant_ts=period.at(day, 14) + rng.randrange(2 * HOUR),
        # Approved for the night; it went live in the early evening instead.
        upgrade_window=(period.at(day, 22), period.at(day + 1, 0)),
        upgrade_start=upgrade_start,
        upgrade_end=upgrade_start + rng.randint(25, 45) * MINUTE,
        run_start=period.at(day + 1, 1) + rng.randrange(15 * MINUTE),
        rollback_start=rollback_start,
        rollback_end=rollback_start + rng.randint(20, 40) * MINUTE,
        share=rng.uniform(*SHARE_RANGE),
        refund_rate=rng.uniform(*REFUND_RATE_RANGE),
        refund_days=(day + 5, day + 6, day + 7),
        incident_ticket=ticket,
        operator=rng.choice(steady),
        operator_product=rng.choice(catalog.counter),
        operator_customers=min(rng.randint(*OPERATOR_CUSTOMERS), customers // 8),
        operator_start=period.at(day + 1, 19) + rng.randrange(20 * MINUTE),
        operator_refunds=rng.randint(2, 3),
        campaign_day=max(1, day - 10 + rng.randint(-2, 2)),
        release=f"{rng.randint(4, 6)}.{rng.randint(10, 30)}.0",
    )
