"""Random draws every flow shares: how many events a day, when, who, from where."""

from __future__ import annotations

from itertools import accumulate
from random import Random

from auditlog.world.clock import HOUR
from auditlog.world.context import World

# Relative customer activity per local hour: quiet nights, busy evenings.
_HOUR_WEIGHTS = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 8, 9, 9, 8, 5, 2)
_HOUR_CUMULATIVE = list(accumulate(_HOUR_WEIGHTS))
_HOURS = range(24)


def count(rng: Random, mean: float) -> int:
    """A day's number of events around `mean`, varying from day to day."""
    expected = mean * rng.uniform(0.85, 1.15)
    whole = int(expected)
    return whole + (rng.random() < expected - whole)


def customer_time(world: World, day: int) -> int:
    """A moment of local day `day`, weighted by when customers use their phones."""
    rng = world.rng
    hour = rng.choices(_HOURS, cum_weights=_HOUR_CUMULATIVE)[0]
    offset = hour * HOUR + rng.randrange(HOUR)
    return world.period.start_of(day) + min(offset, world.period.length_of(day) - 1)


def mobile_ip(rng: Random) -> str:
    """An address from the carrier-grade NAT range its mobile customers come from."""
    bits = rng.getrandbits(22)
    return f"100.{64 + (bits >> 16)}.{(bits >> 8) & 255}.{bits & 255}"


def pick_customer(world: World) -> tuple[int, str]:
    """A customer drawn uniformly: (index, account id)."""
    index = world.rng.randrange(len(world.cast.customers))
    return index, world.cast.customers[index]
