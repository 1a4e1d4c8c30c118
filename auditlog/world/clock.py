"""Time in the generated world: the period, its local days, and timestamp encodings.

Internally every instant is an int of epoch seconds (UTC): compact, exact and cheap to
sort. Local wall-clock time matters twice: people act at local hours, and the billing
export writes naive local times that a reader turns back into instants with `--tz`.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from zoneinfo import ZoneInfo

# The world always starts here; only its length, zone and seed vary. A fixed date keeps
# every generated file independent of the day it was generated on.
START_DATE = date(2026, 9, 1)

MINUTE = 60
HOUR = 3600
DAY = 86400

# Offsets and DST folds change at most every 15 minutes in real zones, so caching them
# per quarter hour is exact and avoids a zoneinfo lookup per row.
_OFFSET_GRAIN = 900


class Period:
    """The generated days, as local calendar days of the billing time zone."""

    def __init__(self, tz_name: str, days: int) -> None:
        self.tz_name = tz_name
        self.tz = ZoneInfo(tz_name)
        self.days = days
        # Local midnights of day 0 .. day `days` (the end), as epoch seconds.
        self.midnights = [self._epoch(START_DATE + timedelta(d)) for d in range(days + 1)]
        self._offsets: dict[int, int] = {}
        self._ambiguous: dict[int, bool] = {}

    def _epoch(self, day: date, hour: int = 0, minute: int = 0) -> int:
        local = datetime.combine(day, wall_time(hour, minute), tzinfo=self.tz)
        return int(local.timestamp())

    @property
    def start(self) -> int:
        return self.midnights[0]

    @property
    def end(self) -> int:
        return self.midnights[-1]

    def date_of(self, day: int) -> date:
        return START_DATE + timedelta(day)

    def start_of(self, day: int) -> int:
        return self.midnights[day]

    def length_of(self, day: int) -> int:
        """Seconds in local day `day` (23 or 25 hours on a DST change)."""
        return self.midnights[day + 1] - self.midnights[day]

    def at(self, day: int, hour: int, minute: int = 0) -> int:
        """The instant of local wall-clock time hour:minute on `day` (may be past the end)."""
        return self._epoch(self.date_of(day), hour, minute)

    def day_of(self, ts: int) -> int:
        """Index of the local day holding `ts`; instants after the period map past the end."""
        if ts < self.start:
            raise ValueError("instant before the generated period")
        index = bisect_right(self.midnights, ts) - 1
        if index < self.days:
            return index
        return self.days + (ts - self.end) // DAY

    def weekday(self, day: int) -> int:
        return self.date_of(day).weekday()

    def offset(self, ts: int) -> int:
        """UTC offset of the billing zone at `ts`, in seconds."""
        key = ts // _OFFSET_GRAIN
        cached = self._offsets.get(key)
        if cached is None:
            delta = datetime.fromtimestamp(ts, self.tz).utcoffset() or timedelta(0)
            cached = self._offsets[key] = int(delta.total_seconds())
        return cached

    def is_ambiguous(self, ts: int) -> bool:
        """Whether the naive local time of `ts` occurs twice (the hour repeated at DST end).

        Such a time cannot be written without an offset and read back to the same
        instant, so billing never charges at one (see `billable`).
        """
        key = ts // _OFFSET_GRAIN
        cached = self._ambiguous.get(key)
        if cached is None:
            naive = datetime.fromtimestamp(ts, self.tz).replace(tzinfo=None)
            first = naive.replace(tzinfo=self.tz, fold=0).utcoffset()
            second = naive.replace(tzinfo=self.tz, fold=1).utcoffset()
            cached = self._ambiguous[key] = first != second
        return cached

    def billable(self, ts: int) -> int:
        """`ts`, moved an hour later when its naive local time would be ambiguous."""
        while self.is_ambiguous(ts):
            ts += HOUR
        return ts

    # Encodings of an instant, one per timestamp style a file can use.

    def iso_utc(self, ts: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))

    def local_naive(self, ts: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts + self.offset(ts)))

    def local_offset(self, ts: int) -> str:
        offset = self.offset(ts)
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset) // MINUTE, 60)
        return f"{self.local_naive(ts)}{sign}{hours:02d}:{minutes:02d}"


def iso_utc(ts: int) -> str:
    """ISO 8601 in UTC with `Z`, the form of every time in the ground truth."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
