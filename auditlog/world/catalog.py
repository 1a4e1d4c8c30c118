"""What the carrier sells: monthly plans, add-ons, counter packages, partner services.

Product codes are fixed, sensible defaults (like the system names); which of them the
incident and the misbehaving operator use is drawn from the seed in incident.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    code: str
    amount: Decimal
    index: int  # dense number, used to key per-(customer, product) bookkeeping compactly


# (code, monthly fee, share of customers on it)
_PLANS = (
    ("PLAN-S", "12.50", 30),
    ("PLAN-M", "20.00", 40),
    ("PLAN-L", "30.00", 22),
    ("PLAN-XL", "45.00", 8),
)
# Add-ons customers buy in the app (and operators sell at the counter), with popularity.
_ADDONS = (
    ("ADDON-DATA-1GB", "2.99", 30),
    ("ADDON-DATA-5GB", "4.99", 25),
    ("ADDON-ROAM-EU", "7.50", 15),
    ("ADDON-INTL-60", "3.95", 12),
    ("ADDON-HD-VIDEO", "5.99", 10),
)
# Packages sold only at the counter.
_COUNTER = (
    ("PKG-TV-BASIC", "9.99", 40),
    ("PKG-TV-SPORT", "14.99", 25),
    ("PKG-DEVICE-CARE", "6.50", 35),
)
_PARTNER_PRICES = ("9.99", "7.99", "4.49")
PLAN_WEIGHTS = [w for _, _, w in _PLANS]
PROMO_CODE = "PROMO-WELCOME-FREE"


class Catalog:
    """Every product, with the weights the routine flows draw them by."""

    def __init__(self, partners: list[str]) -> None:
        self._products: list[Product] = []
        self.plans = self._add_all(_PLANS)
        self.addons = self._add_all(_ADDONS)
        self.addon_weights = [w for _, _, w in _ADDONS]
        self.counter = self._add_all(_COUNTER)
        self.counter_weights = [w for _, _, w in _COUNTER]
        # Each partner platform bills one service of its own.
        self.partner: dict[str, Product] = {
            partner: self._add(
                f"{partner.removeprefix('partner-').upper()}-MONTHLY",
                _PARTNER_PRICES[i % len(_PARTNER_PRICES)],
            )
            for i, partner in enumerate(partners)
        }
        # The bulk campaign's package: free, so billing never charges it.
        self.promo = self._add(PROMO_CODE, "0.00")

    def _add(self, code: str, amount: str) -> Product:
        product = Product(code, Decimal(amount), len(self._products))
        self._products.append(product)
        return product

    def _add_all(self, rows: tuple[tuple[str, str, int], ...]) -> tuple[Product, ...]:
        return tuple(self._add(code, amount) for code, amount, _ in rows)

    @property
    def size(self) -> int:
        return len(self._products)
