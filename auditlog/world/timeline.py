"""Bookkeeping shared by every flow: id sequences, the streaming timeline, the order book.

The generator walks the period day by day, but a flow started on one day schedules rows
later (a charge minutes after a subscription, a refund days after a charge). The
timeline keeps rows in per-day buckets and writes a day only once no flow can add to
it, sorted by time, so the files come out in time order while memory holds a few days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from random import Random

from auditlog.world.clock import HOUR, Period
from auditlog.world.records import Action, Charge


class Ids:
    """Id sequences. Each starts at a seed-drawn number, so ids differ between seeds."""

    _NAMES = ("event", "charge", "order", "ticket", "privilege", "change", "invoice")

    def __init__(self, rng: Random) -> None:
        self._next = {name: rng.randrange(100_000, 900_000) for name in self._NAMES}
        self._rng = rng

    def _take(self, name: str) -> int:
        value = self._next[name]
        self._next[name] = value + 1
        return value

    def event(self) -> str:
        return f"EV{self._take('event'):010d}"

    def charge(self) -> str:
        return f"CH{self._take('charge'):09d}"

    def invoice(self) -> str:
        return f"INV{self._take('invoice'):09d}"

    def order(self) -> str:
        return f"ORD{self._take('order'):09d}"

    def ticket(self, prefix: str = "OPS") -> str:
        return f"{prefix}-{self._take('ticket')}"

    def privilege(self) -> str:
        return f"PRV{self._take('privilege'):08d}"

    def change(self) -> str:
        return f"CHG{self._take('change'):07d}"

    def session(self) -> str:
        return f"S{self._rng.getrandbits(48):012x}"


class Timeline:
    """Per-day buckets of actions and charges, written in time order with ids assigned."""

    def __init__(
        self,
        period: Period,
        ids: Ids,
        write_actions: Callable[[list[Action]], None],
        write_charges: Callable[[list[Charge]], None],
    ) -> None:
        self._period = period
        self._ids = ids
        self._write_actions = write_actions
        self._write_charges = write_charges
        self._actions: defaultdict[int, list[Action]] = defaultdict(list)
        self._charges: defaultdict[int, list[Charge]] = defaultdict(list)
        self.counts = {"actions": 0, "charges": 0}

    def action(self, action: Action) -> Action:
        self._actions[self._period.day_of(action.ts)].append(action)
        return action

    def charge(self, charge: Charge) -> Charge:
        # Billing never charges at an ambiguous local time: the export writes naive
        # local times, and such a time could not be read back to the same instant.
        charge.ts = self._period.billable(charge.ts)
        if charge.refund_of is not None and charge.ts <= charge.refund_of.ts:
            charge.ts = charge.refund_of.ts + HOUR  # a refund never precedes its charge
        self._charges[self._period.day_of(charge.ts)].append(charge)
        return charge

    def flush_through(self, day: int) -> None:
        """Write every bucket up to and including `day`; nothing may be added to them later."""
        for bucket in sorted(k for k in self._actions if k <= day):
            self._flush_actions(self._actions.pop(bucket))
        for bucket in sorted(k for k in self._charges if k <= day):
            self._flush_charges(self._charges.pop(bucket))

    def flush_all(self) -> None:
        last = max([*self._actions, *self._charges], default=0)
        self.flush_through(last)

    def _flush_actions(self, actions: list[Action]) -> None:
        actions.sort(key=lambda a: a.ts)  # stable: same-second rows keep creation order
        for action in actions:
            action.event_id = self._ids.event()
        self._write_actions(actions)
        self.counts["actions"] += len(actions)

    def _flush_charges(self, charges: list[Charge]) -> None:
        charges.sort(key=lambda c: c.ts)
        for charge in charges:
            charge.charge_id = self._ids.charge()
            charge.invoice_no = self._ids.invoice()
        self._write_charges(charges)
        self.counts["charges"] += len(charges)


class OrderBook:
    """The latest subscription-like action per (customer, product).

    A charge without an order_id is traced by pairing it with a subscription of the same
    customer and product at most 24 hours earlier (docs/attribution.md). The flows ask
    `free` before subscribing, so no two subscriptions of one customer to one product
    fall within 25 hours of each other and that pairing is never ambiguous; the only
    exception is the incident's deliberate stacking, which keeps both in order.
    """

    GAP = 25 * HOUR

    def __init__(self, products: int) -> None:
        self._products = products
        self._last: dict[int, int] = {}

    def _key(self, customer: int, product: int) -> int:
        return customer * self._products + product

    def free(self, customer: int, product: int, ts: int) -> bool:
        """Whether `customer` may subscribe to `product` at `ts` (conservative: a later
        subscription already on the books blocks an earlier one too)."""
        last = self._last.get(self._key(customer, product))
        return last is None or ts - last > self.GAP

    def record(self, customer: int, product: int, ts: int) -> None:
        key = self._key(customer, product)
        self._last[key] = max(ts, self._last.get(key, ts))
