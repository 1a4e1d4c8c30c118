"""What the logs cannot decide about a charge paired by account, product and time
(docs/attribution.md, "What the logs cannot decide").

The model (queries/shared/unordered_causes.sql) pairs a one-time charge that no order_id
ties to an order with an order of the same customer and product that no one-time charge
names by order_id and whose reach holds the charge: from clock_skew_minutes before the
order's first action until pairing_hours after its last one. Those charges and orders
form a bipartite graph, a charge joined to each order whose reach holds it. Only within
the connected part of it that holds the traced charge could another pairing be chosen:
charges and orders outside it can never take part in this charge's. So the question is
asked of that group: more orders than charges, with the customer acting on some and not
others (which one went unbilled is open, and decides the verdicts), or more charges than
orders (which charge went without one is open).

The group is found for the one traced charge by widening a time window around it until
it holds the whole group: each widening reads the customer's order actions and charges
of the product in the window (which the zone maps of `ts` prune), and for the order ids
found there, once each, every action carrying them (an order's reach spans all of its
actions, and its customer may have confirmed it on another day) and whether a one-time
charge names them (then the order is billed by id and takes no part). The window
reaches pairing_hours + clock_skew_minutes beyond every charge and order of the group,
so an order within reach of a charge of the group has an action in it, unless two of
its consecutive actions lie more than twice that apart, on either side of the charge:
such an order is not seen. The look-ups by order_id read the whole column (no index);
the rest is pruned by time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

PARAMS_SQL = "SELECT pairing_hours, clock_skew_minutes FROM model_params"

# The customer's order actions for the product in a window, one row per order.
WINDOW_ORDERS_SQL = """
    SELECT order_key, order_id, min(ts) AS first_ts, max(ts) AS last_ts,
           max(CASE WHEN actor = ? THEN 1 ELSE 0 END) AS own
    FROM order_actions
    WHERE customer = ? AND object = ?
      AND ts BETWEEN CAST(? AS TIMESTAMPTZ) AND CAST(? AS TIMESTAMPTZ)
    GROUP BY order_key, order_id"""

# The customer's one-time charges of the product in a window.
WINDOW_CHARGES_SQL = """
    SELECT charge_id, ts, order_id
    FROM sale_charges
    WHERE account = ? AND product = ? AND charge_type = 'one_time'
      AND ts BETWEEN CAST(? AS TIMESTAMPTZ) AND CAST(? AS TIMESTAMPTZ)"""


@dataclass(frozen=True)
class Order:
    """An order that a charge without a pairing order_id may bill (unordered_causes.sql:
    `orders`), and whether the charged customer placed or confirmed it itself."""

    key: str
    first: datetime
    last: datetime
    own: bool


@dataclass(frozen=True)
class OrderIdFacts:
    """What the whole log says of one order_id: the span of its actions for the
    customer and product (None when it has none there), whether the customer acted on
    it, and whether a one-time charge names it (it is then billed by id)."""

    first: datetime | None
    last: datetime | None
    own: bool
    carried: bool
    bound: bool


@dataclass(frozen=True)
class PairingGroup:
    """The connected group of charges and orders that can pair with one another."""

    charges: frozenset[str]
    orders: tuple[Order, ...]

    def undecided(self, account: str, product: str) -> str | None:
        """The sentence that says what the logs cannot decide, or None."""
        orders, charges = len(self.orders), len(self.charges)
        if orders > charges and len({o.own for o in self.orders}) > 1:
            return (f"{orders} orders of {account} for {product} can be billed by {charges} "
                    "charge(s) that no order_id pairs within their reach, some of the orders "
                    "placed or confirmed by the customer and some not, and the logs do not "
                    "say which one this charge bills; they are paired in time order")
        if 0 < orders < charges:
            return (f"{charges} charges of {account} for {product} that no order_id pairs "
                    f"compete for {orders} order(s) within their reach; they are paired in "
                    "time order and the logs do not say which charge went without one")
        return None


class Window:
    """The orders and open charges of one customer and product seen so far, read a
    time window at a time (the union of the windows read)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, account: str, product: str) -> None:
        self.con, self.account, self.product = con, account, product
        self.span: tuple[datetime, datetime] | None = None
        self.facts: dict[str, OrderIdFacts] = {}
        self.orders: dict[str, Order] = {}
        self.charges: dict[str, datetime] = {}

    def cover(self, lo: datetime, hi: datetime, pad: timedelta) -> None:
        """Read what lies in [lo, hi] and has not been read yet, `pad` more on a side
        that grows, so that a group growing by minutes is not read again each time."""
        if self.span is None:
            self.span = (lo, hi)
            self.read(lo, hi)
            return
        start, end = self.span
        if lo < start:
            self.read(lo - pad, start)
            start = lo - pad
        if hi > end:
            self.read(end, hi + pad)
            end = hi + pad
        self.span = (start, end)

    def read(self, lo: datetime, hi: datetime) -> None:
        """The orders and open charges with a row in [lo, hi]. An order's span and
        whether the customer acted on it are its order_id's (OrderIdFacts), so reading
        the window in slices sees each order whole."""
        who = [self.account, self.product]
        actions = self.con.execute(WINDOW_ORDERS_SQL, [self.account, *who, lo, hi]).fetchall()
        charges = self.con.execute(WINDOW_CHARGES_SQL, [*who, lo, hi]).fetchall()
        self.learn([r[1] for r in actions] + [r[2] for r in charges])
        for key, order_id, first, last, own in actions:
            if order_id is None:  # an action without order_id is an order of its own
                self.orders[key] = Order(key, first, last, bool(own))
                continue
            facts = self.facts[order_id]
            if not facts.bound and facts.first is not None and facts.last is not None:
                self.orders[key] = Order(key, facts.first, facts.last, facts.own)
        for charge_id, ts, order_id in charges:
            # A charge whose order_id an action carries is paired by it (order_causes).
            if order_id is None or not self.facts[order_id].carried:
                self.charges[charge_id] = ts

    def learn(self, order_ids: list[str | None]) -> None:
        """OrderIdFacts of the order ids not known yet: two look-ups by order_id."""
        new = sorted({i for i in order_ids if i is not None} - self.facts.keys())
        if not new:
            return
        marks = ", ".join("?" for _ in new)
        spans = {row[0]: row[1:] for row in self.con.execute(f"""
            SELECT order_id,
                   min(CASE WHEN customer = ? AND object = ? THEN ts END) AS first_ts,
                   max(CASE WHEN customer = ? AND object = ? THEN ts END) AS last_ts,
                   max(CASE WHEN actor = ? THEN 1 ELSE 0 END) AS own
            FROM order_actions WHERE order_id IN ({marks})
            GROUP BY order_id""", [self.account, self.product, self.account, self.product,
                                   self.account, *new]).fetchall()}
        bound = {row[0] for row in self.con.execute(f"""
            SELECT DISTINCT order_id FROM sale_charges
            WHERE charge_type = 'one_time' AND order_id IN ({marks})""", new).fetchall()}
        for order_id in new:
            first, last, own = spans.get(order_id, (None, None, 0))
            self.facts[order_id] = OrderIdFacts(first, last, bool(own),
                                                order_id in spans, order_id in bound)


def pairing_group(con: duckdb.DuckDBPyConnection, charge_id: str, ts: datetime,
                  account: str, product: str) -> PairingGroup:
    """The group of `charge_id` (a one-time charge of `account` for `product` at `ts`
    that no order_id pairs): the charges and orders joined to it through reach."""
    ((hours, minutes),) = con.execute(PARAMS_SQL).fetchall()  # model_params: one row
    after, before = timedelta(hours=float(hours)), timedelta(minutes=float(minutes))

    def reaches(order: Order, t: datetime) -> bool:
        return order.first - before <= t <= order.last + after

    window = Window(con, account, product)
    charges: dict[str, datetime] = {charge_id: ts}
    orders: dict[str, Order] = {}
    while True:
        times = [*charges.values(), *(o.first for o in orders.values()),
                 *(o.last for o in orders.values())]
        # Every order a charge of the group reaches has an action in
        # [charge - after, charge + before], and every charge an order of the group
        # reaches lies in [first - before, last + after].
        window.cover(min(times) - after - before, max(times) + after + before,
                     (after + before) / 2)
        grown = {k: o for k, o in window.orders.items()
                 if any(reaches(o, t) for t in charges.values())}
        joined = {c: t for c, t in window.charges.items()
                  if any(reaches(o, t) for o in grown.values())}
        joined[charge_id] = ts
        if grown.keys() == orders.keys() and joined.keys() == charges.keys():
            return PairingGroup(frozenset(charges), tuple(orders[k] for k in sorted(orders)))
        orders, charges = grown, joined
