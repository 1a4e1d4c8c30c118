"""Charges and refunds: the two ways any flow touches the billing export."""

from __future__ import annotations

from decimal import Decimal

from auditlog.world.cast import BILLING_SYSTEM
from auditlog.world.catalog import Product
from auditlog.world.context import World
from auditlog.world.records import Charge


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
    """Schedule a charge; the timeline may move it off an ambiguous local hour."""
    return world.timeline.charge(
        Charge(
            ts=ts,
            account=account,
            product=product.code,
            amount=product.amount,
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
        )
    )
