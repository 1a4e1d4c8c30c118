"""Charges and refunds: the two ways any flow touches the billing export.

Billing keeps its own clock and bills some customers in a second currency
(plan.BillingShape); both are applied here, so no flow has to know.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from auditlog.world.cast import BILLING_SYSTEM
from auditlog.world.catalog import Product
from auditlog.world.context import World
from auditlog.world.records import Charge

_CENT = Decimal("0.01")


def bill(
    world: World,
    ts: int,
    account: str,
    product: Product,
    *,
    initiated_by: str,
    system: str,
    channel: str,
    order_id: str | None,
    type: str = "one_time",
) -> Charge:
    """Schedule a charge at `ts` on the order systems' clock, written on billing's
    clock; the timeline may move it off an ambiguous local hour."""
    skew = world.shape.clock_skew_seconds
    if skew:
        ts += world.rng.randint(-skew, skew)
    currency = world.currency_of.get(account, "EUR")
    amount = product.amount
    if currency != "EUR":
        amount = (amount * world.shape.second_currency_rate).quantize(_CENT, ROUND_HALF_UP)
    return world.timeline.charge(
        Charge(
            ts=ts,
            account=account,
            product=product.code,
            amount=amount,
            currency=currency,
            type=type,
            initiated_by=initiated_by,
            system=system,
            channel=channel,
            order_id=order_id,
        )
    )


def refund(
    world: World,
    charge: Charge,
    ts: int,
    *,
    initiated_by: str,
    channel: str,
    amount: Decimal | None = None,
) -> Charge:
    """Schedule a refund of `charge`: positive, the full amount unless told otherwise."""
    return world.timeline.charge(
        Charge(
            ts=ts,
            account=charge.account,
            product=charge.product,
            amount=charge.amount if amount is None else amount,
            type="refund",
            initiated_by=initiated_by,
            system=BILLING_SYSTEM,
            channel=channel,
            order_id=charge.order_id,
            refund_of=charge,
            currency=charge.currency,
        )
    )
