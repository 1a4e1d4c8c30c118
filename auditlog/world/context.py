"""Everything a flow needs to add rows to the world, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from auditlog.world.cast import Cast
from auditlog.world.catalog import Catalog
from auditlog.world.clock import Period
from auditlog.world.plan import BillingShape, IncidentPlan
from auditlog.world.records import Charge
from auditlog.world.timeline import Ids, OrderBook, Timeline
from auditlog.world.truth import GroundTruth


@dataclass
class World:
    rng: Random
    period: Period
    cast: Cast
    catalog: Catalog
    ids: Ids
    timeline: Timeline
    orders: OrderBook
    truth: GroundTruth
    plan: IncidentPlan
    upgrade_id: str  # the change the service account's charges are blamed on
    shape: BillingShape = field(default_factory=BillingShape)
    # Customers billed in the second currency (the others in EUR).
    currency_of: dict[str, str] = field(default_factory=dict)
    # A few legitimate, unrefunded charges that the corrections file refunds by hand.
    spare_charges: list[Charge] = field(default_factory=list)

    def exported_order(self, order: str) -> str | None:
        """The order_id as the billing export writes it: missing for a share of charges."""
        return None if self.rng.random() < self.shape.missing_order_id else order
