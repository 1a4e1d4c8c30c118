"""The two sources of anomalous charges, played out the night and evening after the upgrade.

1. The order system's service account, holding a privilege granted without a ticket,
   subscribes a third of the customers to a paid add-on from about 01:00 until the
   rollback; some twice. Its actions carry no change_id: the change is to blame by
   timing (docs/attribution.md), and its id is recorded as such in the ground truth.
2. One counter operator, that evening after hours, subscribes a few dozen customers to
   a package that they never confirm. A human's own doing: no change is to blame.

Each anomalous charge is registered in the ground truth when it is made, with the refunds
scheduled for it, so the truth is what was done, not what the files later suggest.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from auditlog.world.billing import bill, refund
from auditlog.world.cast import BILLING_BATCH, CRM
from auditlog.world.clock import DAY, HOUR, MINUTE
from auditlog.world.context import World
from auditlog.world.orders import counter_subscribe
from auditlog.world.plan import SPLIT_REFUND_RATE, STACK_RATE
from auditlog.world.records import Action, Charge

_CENT = Decimal("0.01")


def run_incident(world: World) -> None:
    """Both anomalous flows; called at the start of the day after the upgrade."""
    _service_account_run(world)
    _operator_evening(world)


def _service_account_run(world: World) -> None:
    rng, plan = world.rng, world.plan
    customers = world.cast.customers
    chosen = rng.sample(range(len(customers)), round(len(customers) * plan.share))
    last = plan.rollback_start - 15 * MINUTE  # it stops when the rollback starts
    session = f"job-{world.ids.session()[1:]}"
    for index in chosen:
        if rng.random() < STACK_RATE:
            # Stacked: a second subscription well after the first one was charged, so
            # that subscriptions and charges of the customer pair up in time order.
            first = rng.randrange(plan.run_start, last - 3 * HOUR)
            times = [first, rng.randrange(first + 90 * MINUTE, last)]
        else:
            times = [rng.randrange(plan.run_start, last)]
        if not world.orders.free(index, plan.product.index, times[0]):
            continue  # the customer bought it themselves hours ago; keep pairing clear
        for ts in times:
            _service_subscription(world, index, ts, session)


def _service_subscription(world: World, index: int, ts: int, session: str) -> None:
    rng, plan = world.rng, world.plan
    customer = world.cast.customers[index]
    order = world.ids.order()
    world.timeline.action(
        Action(
            ts,
            plan.service,
            "service",
            "subscribe",
            plan.system,
            target_account=customer,
            object=plan.product.code,
            order_id=order,
            channel="api",
            source_ip="10.20.4.11",
            session_id=session,
        )
    )
    world.orders.record(index, plan.product.index, ts)
    charge = bill(
        world,
        ts + rng.randint(60, 600),
        customer,
        plan.product,
        initiated_by=plan.service,
        system=plan.system,
        channel="api",
        order_id=world.exported_order(order),
    )
    refunds = _batch_refunds(world, charge) if rng.random() < plan.refund_rate else []
    world.truth.add(
        charge, actor=plan.service, cause_time=ts, change_id=world.upgrade_id, refunds=refunds
    )


def _batch_refunds(world: World, charge: Charge) -> list[Charge]:
    """The nightly refund batch of one of the refund days; rarely in two parts."""
    rng, period = world.rng, world.period
    day = rng.choice(world.plan.refund_days)
    ts = period.at(day, 2) + rng.randrange(2 * HOUR)
    if rng.random() >= SPLIT_REFUND_RATE:
        return [refund(world, charge, ts, initiated_by=BILLING_BATCH, channel="batch")]
    first = (charge.amount / 2).quantize(_CENT, rounding=ROUND_HALF_UP)
    return [
        refund(world, charge, ts, initiated_by=BILLING_BATCH, channel="batch", amount=first),
        refund(
            world,
            charge,
            ts + DAY,
            initiated_by=BILLING_BATCH,
            channel="batch",
            amount=charge.amount - first,
        ),
    ]


def _operator_evening(world: World) -> None:
    """After hours, one operator signs up customers who never asked for it."""
    rng, plan = world.rng, world.plan
    operator, product = plan.operator, plan.operator_product
    session = world.ids.session()
    ts = plan.operator_start
    world.timeline.action(
        Action(
            ts - rng.randint(2, 8) * MINUTE,
            operator,
            "human",
            "login",
            CRM,
            channel="console",
            session_id=session,
        )
    )
    candidates = rng.sample(range(len(world.cast.customers)), plan.operator_customers * 2)
    victims = [i for i in candidates if world.orders.free(i, product.index, ts)]
    victims = victims[: plan.operator_customers]
    refunded = set(rng.sample(range(len(victims)), min(plan.operator_refunds, len(victims))))
    for n, index in enumerate(victims):
        customer = world.cast.customers[index]
        order = counter_subscribe(world, operator, session, index, product, ts,
                                  lookup_seconds=(20, 90), system=plan.system)
        charge = bill(
            world,
            ts + rng.randint(60, 300),
            customer,
            product,
            initiated_by=operator,
            system=plan.system,
            channel="counter",
            order_id=world.exported_order(order),
        )
        refunds = []
        if n in refunded:  # a customer who complained; billing ops refunds by hand
            when = world.period.at(plan.day + rng.randint(3, 5), 10) + rng.randrange(6 * HOUR)
            refunds.append(
                refund(
                    world,
                    charge,
                    when,
                    initiated_by=rng.choice(world.cast.billing_ops),
                    channel="console",
                )
            )
        world.truth.add(charge, actor=operator, cause_time=ts, change_id=None, refunds=refunds)
        ts += rng.randint(2, 6) * MINUTE
