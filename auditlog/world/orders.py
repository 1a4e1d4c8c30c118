"""Orders that lead to one-time charges, all of them customer-authorized.

The customer places the order in the app, or confirms it with the same order_id (by SMS
for a counter order, on the partner's platform for a partner service, where some
partners log nothing but that confirmation). Each flow asks the order book before
subscribing, so that a charge exported without order_id can only pair with its own
order (docs/attribution.md, pairing by account, product and time).
"""

from __future__ import annotations

from auditlog.world.billing import bill, refund
from auditlog.world.cast import CRM, ORDER_SYSTEM, PARTNER_GATEWAY
from auditlog.world.catalog import Product
from auditlog.world.clock import DAY, HOUR, MINUTE
from auditlog.world.context import World
from auditlog.world.draws import count, customer_time, mobile_ip, pick_customer
from auditlog.world.records import Action, Charge

# Expected orders per customer per day (a counter day is Monday to Saturday).
APP_ORDER_RATE = 0.004
APP_ORDER_FAILURE = 0.05  # a failed attempt, then a successful retry
PARTNER_ORDER_RATE = 0.0015
COUNTER_ORDER_RATE = 0.002
COUNTER_UNCONFIRMED = 0.06  # never confirmed by SMS: cancelled, never billed
LOOKUP_RATE = 0.006  # operators looking customers up at the counter
GOODWILL_REFUND = 0.01


def _legit_charge(world: World, charge: Charge) -> None:
    """Now and then a customer complains and billing ops refunds a legitimate charge."""
    rng = world.rng
    if rng.random() < GOODWILL_REFUND:
        ts = charge.ts + rng.randint(1, 5) * DAY + rng.randrange(4 * HOUR)
        refund(
            world, charge, ts, initiated_by=rng.choice(world.cast.billing_ops), channel="console"
        )
    elif len(world.spare_charges) < 2 and charge.ts > world.period.start + DAY:
        world.spare_charges.append(charge)


def app_orders(world: World, day: int) -> None:
    """Customers buy add-ons in the app: they are the actor of their own order."""
    rng, catalog = world.rng, world.catalog
    for _ in range(count(rng, len(world.cast.customers) * APP_ORDER_RATE)):
        index, customer = pick_customer(world)
        product = rng.choices(catalog.addons, catalog.addon_weights)[0]
        ts = customer_time(world, day)
        if not world.orders.free(index, product.index, ts):
            continue
        ip = mobile_ip(rng)
        if rng.random() < APP_ORDER_FAILURE:
            world.timeline.action(
                Action(
                    ts,
                    customer,
                    "customer",
                    "subscribe",
                    ORDER_SYSTEM,
                    target_account=customer,
                    object=product.code,
                    order_id=world.ids.order(),
                    channel="app",
                    result="failure",
                    source_ip=ip,
                )
            )
            ts += rng.randint(30, 180)
        order = world.ids.order()
        world.timeline.action(
            Action(
                ts,
                customer,
                "customer",
                "subscribe",
                ORDER_SYSTEM,
                target_account=customer,
                object=product.code,
                order_id=order,
                channel="app",
                source_ip=ip,
            )
        )
        world.orders.record(index, product.index, ts)
        charge = bill(
            world,
            ts + rng.randint(60, 480),
            customer,
            product,
            initiated_by=customer,
            system=ORDER_SYSTEM,
            channel="app",
            order_id=world.exported_order(order),
        )
        _legit_charge(world, charge)


def partner_orders(world: World, day: int) -> None:
    """A partner platform bills its own service once the customer confirms there. Some
    partners log their subscribe; the others only forward the customer's confirmation and
    charge seconds later."""
    rng, cast = world.rng, world.cast
    for _ in range(count(rng, len(cast.customers) * PARTNER_ORDER_RATE)):
        partner = rng.choice(cast.partners)
        product = world.catalog.partner[partner]
        index, customer = pick_customer(world)
        ts = customer_time(world, day)
        if not world.orders.free(index, product.index, ts):
            continue
        order = world.ids.order()
        world.timeline.action(
            Action(
                ts,
                customer,
                "customer",
                "confirm_order",
                PARTNER_GATEWAY,
                target_account=customer,
                object=product.code,
                order_id=order,
                channel="third_party",
            )
        )
        if rng.random() < world.shape.partner_confirm_only:
            world.orders.record(index, product.index, ts)
            billed = ts + rng.randint(5, 60)
        else:
            ts += rng.randint(5, 60)
            world.timeline.action(
                Action(
                    ts,
                    partner,
                    "service",
                    "subscribe",
                    PARTNER_GATEWAY,
                    target_account=customer,
                    object=product.code,
                    order_id=order,
                    channel="api",
                )
            )
            world.orders.record(index, product.index, ts)
            billed = ts + rng.randint(60, 600)
        charge = bill(
            world,
            billed,
            customer,
            product,
            initiated_by=partner,
            system=PARTNER_GATEWAY,
            channel="third_party",
            order_id=world.exported_order(order),
        )
        _legit_charge(world, charge)


def counter_day(world: World, day: int, *, saturday: bool) -> None:
    """Operators at the counter: lookups, and orders the customer confirms by SMS."""
    rng, period = world.rng, world.period
    working = [op for op in world.cast.operators_on(day) if not saturday or rng.random() < 0.5]
    if not working:
        return
    opening = period.at(day, 9)
    sessions = {}
    for operator in working:
        sessions[operator] = world.ids.session()
        world.timeline.action(
            Action(
                opening - rng.randint(5, 40) * MINUTE,
                operator,
                "human",
                "login",
                CRM,
                channel="console",
                session_id=sessions[operator],
            )
        )
    factor = 0.5 if saturday else 1.0
    customers = len(world.cast.customers)
    for _ in range(count(rng, customers * LOOKUP_RATE * factor)):
        operator = rng.choice(working)
        _, customer = pick_customer(world)
        world.timeline.action(
            Action(
                opening + rng.randrange(9 * HOUR),
                operator,
                "human",
                "view_customer",
                CRM,
                target_account=customer,
                channel="counter",
                session_id=sessions[operator],
            )
        )
    for _ in range(count(rng, customers * COUNTER_ORDER_RATE * factor)):
        operator = rng.choice(working)
        _counter_order(
            world, operator, sessions[operator], opening + rng.randrange(8 * HOUR + 45 * MINUTE)
        )
    for operator in working:
        if rng.random() < 0.08:
            world.timeline.action(
                Action(
                    period.at(day, 16) + rng.randrange(2 * HOUR),
                    operator,
                    "human",
                    "export_data",
                    CRM,
                    object="report:daily-sales",
                    channel="console",
                    session_id=sessions[operator],
                )
            )


def _counter_product(world: World) -> Product:
    rng, catalog = world.rng, world.catalog
    if rng.random() < 0.7:
        return rng.choices(catalog.counter, catalog.counter_weights)[0]
    return rng.choices(catalog.addons, catalog.addon_weights)[0]


def counter_subscribe(
    world: World, operator: str, session: str, index: int, product: Product, ts: int,
    *, lookup_seconds: tuple[int, int], system: str,
) -> str:
    """An operator at the counter looks the customer up, then subscribes them to
    `product` at `ts`; the new order's id. Shared by ordinary counter sales and the
    incident's operator, so both leave the same trail."""
    customer = world.cast.customers[index]
    world.timeline.action(
        Action(
            ts - world.rng.randint(*lookup_seconds),
            operator,
            "human",
            "view_customer",
            CRM,
            target_account=customer,
            channel="counter",
            session_id=session,
        )
    )
    order = world.ids.order()
    world.timeline.action(
        Action(
            ts,
            operator,
            "human",
            "subscribe",
            system,
            target_account=customer,
            object=product.code,
            order_id=order,
            channel="counter",
            session_id=session,
        )
    )
    world.orders.record(index, product.index, ts)
    return order


def _counter_order(world: World, operator: str, session: str, ts: int) -> None:
    rng = world.rng
    index, customer = pick_customer(world)
    product = _counter_product(world)
    if not world.orders.free(index, product.index, ts):
        return
    order = counter_subscribe(world, operator, session, index, product, ts,
                              lookup_seconds=(30, 240), system=ORDER_SYSTEM)
    if rng.random() < COUNTER_UNCONFIRMED:
        # The customer never answers the SMS; the order lapses and nothing is billed.
        world.timeline.action(
            Action(
                ts + rng.randint(20, 40) * MINUTE,
                operator,
                "human",
                "cancel_order",
                ORDER_SYSTEM,
                target_account=customer,
                object=product.code,
                order_id=order,
                channel="counter",
                session_id=session,
            )
        )
        return
    confirmed = ts + rng.randint(60, 600)
    world.timeline.action(
        Action(
            confirmed,
            customer,
            "customer",
            "confirm_order",
            ORDER_SYSTEM,
            target_account=customer,
            object=product.code,
            order_id=order,
            channel="sms",
        )
    )
    charge = bill(
        world,
        confirmed + rng.randint(30, 240),
        customer,
        product,
        initiated_by=operator,
        system=ORDER_SYSTEM,
        channel="counter",
        order_id=world.exported_order(order),
    )
    _legit_charge(world, charge)
