"""Ordinary life, one local day at a time: everything the tool must NOT flag.

This module drives the day and holds the flows that bill nothing or bill without an
order: recurring fees, the free campaign, the service account's routine sync, sign-ins
and self-service. Orders that lead to one-time charges live in orders.py.
"""

from __future__ import annotations

from auditlog.world.billing import bill
from auditlog.world.cast import (
    BILLING_BATCH,
    BILLING_SYSTEM,
    CAMPAIGN_SERVICE,
    ORDER_SERVICE,
    ORDER_SYSTEM,
    SELFCARE_APP,
    SSO,
)
from auditlog.world.clock import HOUR, MINUTE
from auditlog.world.context import World
from auditlog.world.draws import count, customer_time, mobile_ip, pick_customer
from auditlog.world.orders import app_orders, counter_day, partner_orders
from auditlog.world.records import Action

# Expected events per customer per day.
LOGIN_RATE = 0.12
LOGIN_FAILURE = 0.04
UNSUBSCRIBE_RATE = 0.0015
CHANGE_PLAN_RATE = 0.0008
DATA_EXPORT_RATE = 0.0002
CAMPAIGN_SHARE = 0.2


def run_day(world: World, day: int) -> None:
    """All routine rows of local day `day` (some of their charges land a day later)."""
    weekday = world.period.weekday(day)
    _recurring_fees(world, day)
    if day == world.plan.campaign_day:
        _campaign(world, day)
    _order_sync(world, day)
    _customer_logins(world, day, weekend=weekday >= 5)
    app_orders(world, day)
    _self_service(world, day)
    partner_orders(world, day)
    if weekday < 6:
        counter_day(world, day, saturday=weekday == 5)
    if weekday < 5:
        _staff_logins(world, day)


def _recurring_fees(world: World, day: int) -> None:
    """On the 1st, the batch account bills every customer's plan: no order needed."""
    period = world.period
    if period.date_of(day).day != 1:
        return
    start = period.at(day, 2)
    month = period.date_of(day).strftime("%Y-%m")
    world.timeline.action(
        Action(
            start,
            BILLING_BATCH,
            "system",
            "run_billing",
            BILLING_SYSTEM,
            object=f"billing-run-{month}",
            channel="batch",
        )
    )
    customers = world.cast.customers
    plans = world.catalog.plans
    spread = 2 * HOUR
    for i, customer in enumerate(customers):
        ts = start + MINUTE + i * spread // len(customers)
        bill(
            world,
            ts,
            customer,
            plans[world.cast.plan_of[i]],
            initiated_by=BILLING_BATCH,
            system=BILLING_SYSTEM,
            channel="batch",
            order_id=None,
            type="recurring",
        )


def _campaign(world: World, day: int) -> None:
    """A legitimate bulk run: a fifth of the customers get a free package, nobody pays."""
    rng, period = world.rng, world.period
    customers = world.cast.customers
    chosen = sorted(rng.sample(range(len(customers)), round(len(customers) * CAMPAIGN_SHARE)))
    start = period.at(day, 2)
    promo = world.catalog.promo.code
    session = world.ids.session()
    world.timeline.action(
        Action(
            start - MINUTE,
            CAMPAIGN_SERVICE,
            "service",
            "start_campaign",
            ORDER_SYSTEM,
            object=promo,
            channel="batch",
            session_id=session,
        )
    )
    for j, index in enumerate(chosen):
        ts = start + j * 3 * HOUR // len(chosen)
        world.timeline.action(
            Action(
                ts,
                CAMPAIGN_SERVICE,
                "service",
                "subscribe",
                ORDER_SYSTEM,
                target_account=customers[index],
                object=promo,
                order_id=world.ids.order(),
                channel="batch",
                session_id=session,
            )
        )


def _order_sync(world: World, day: int) -> None:
    """The order system's service account at work: an hourly queue sync, nothing more."""
    rng = world.rng
    start = world.period.start_of(day)
    for hour in range(world.period.length_of(day) // HOUR):
        ts = start + hour * HOUR + 5 * MINUTE + rng.randrange(MINUTE)
        result = "failure" if rng.random() < 0.01 else "success"
        world.timeline.action(
            Action(
                ts,
                ORDER_SERVICE,
                "service",
                "sync_orders",
                ORDER_SYSTEM,
                object="order-queue",
                channel="api",
                result=result,
                source_ip="10.20.4.11",
            )
        )


def _customer_logins(world: World, day: int, *, weekend: bool) -> None:
    rng = world.rng
    mean = len(world.cast.customers) * LOGIN_RATE * (0.85 if weekend else 1.0)
    for _ in range(count(rng, mean)):
        _, customer = pick_customer(world)
        ts = customer_time(world, day)
        ip = mobile_ip(rng)
        if rng.random() < LOGIN_FAILURE:
            world.timeline.action(
                Action(
                    ts,
                    customer,
                    "customer",
                    "login",
                    SELFCARE_APP,
                    channel="app",
                    result="failure",
                    source_ip=ip,
                )
            )
            ts += rng.randint(20, 120)
        world.timeline.action(
            Action(ts, customer, "customer", "login", SELFCARE_APP, channel="app", source_ip=ip)
        )


def _self_service(world: World, day: int) -> None:
    """Unsubscribing, plan changes and data exports: actions that bill nothing now."""
    rng, catalog, customers = world.rng, world.catalog, len(world.cast.customers)
    for _ in range(count(rng, customers * UNSUBSCRIBE_RATE)):
        _, customer = pick_customer(world)
        product = rng.choices(catalog.addons, catalog.addon_weights)[0]
        world.timeline.action(
            Action(
                customer_time(world, day),
                customer,
                "customer",
                "unsubscribe",
                ORDER_SYSTEM,
                target_account=customer,
                object=product.code,
                channel="app",
                source_ip=mobile_ip(rng),
            )
        )
    for _ in range(count(rng, customers * CHANGE_PLAN_RATE)):
        index, customer = pick_customer(world)
        current = world.cast.plan_of[index]
        new = rng.choice([p for p in range(len(catalog.plans)) if p != current])
        world.cast.plan_of[index] = new  # next month's fee follows the new plan
        world.timeline.action(
            Action(
                customer_time(world, day),
                customer,
                "customer",
                "change_plan",
                ORDER_SYSTEM,
                target_account=customer,
                object=catalog.plans[new].code,
                order_id=world.ids.order(),
                channel="app",
                source_ip=mobile_ip(rng),
            )
        )
    for _ in range(count(rng, customers * DATA_EXPORT_RATE)):
        _, customer = pick_customer(world)
        world.timeline.action(
            Action(
                customer_time(world, day),
                customer,
                "customer",
                "export_data",
                SELFCARE_APP,
                target_account=customer,
                object="personal-data",
                channel="app",
                source_ip=mobile_ip(rng),
            )
        )


def _staff_logins(world: World, day: int) -> None:
    """Office staff sign in on weekdays; their sign-ins are noise around the changes."""
    rng, period = world.rng, world.period
    operators = set(world.cast.operators)
    for account in world.cast.directory:
        if account.account_type != "human" or account.account in operators:
            continue
        if rng.random() < 0.85:
            # The SSO log names no actor type: readers take it from the accounts directory.
            world.timeline.action(
                Action(
                    period.at(day, 7, 45) + rng.randrange(2 * HOUR),
                    account.account,
                    None,
                    "login",
                    SSO,
                    channel="console",
                    session_id=world.ids.session(),
                )
            )
