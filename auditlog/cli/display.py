"""How the command line shows a value to a person: times in UTC or in the zone `--tz`
names, money with its currency and thousands separators (`auditlog.report.formatting`,
the one number format of the tool), counts with separators, flags as yes/no, and a
record as readable `name  value` lines: never a Python dict or list repr.

JSON output never passes through here: it stays UTC with exact amounts (values.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from auditlog.report import formatting as fmt

# An instant as the library's JSON writes it (values.iso_utc), or with an offset.
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
# Fields that are sums of money: shown with the record's `currency`.
AMOUNT_FIELDS = ("amount", "refunded_amount", "outstanding_amount")


def zone_option(name: str | None) -> str | None:
    """`--tz`: an IANA zone name, checked while parsing so a typo exits 2 at once."""
    if name is not None:
        # Here, not at the top: a command without --tz never reads a zone (start time).
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise typer.BadParameter(f"unknown time zone '{name}'; use an IANA name such "
                                     "as UTC, Europe/Berlin or America/New_York") from None
    return name


TzOption = Annotated[str | None, typer.Option(
    "--tz", callback=zone_option, metavar="ZONE", show_default=False,
    help="Show times in this IANA zone (e.g. Europe/Berlin) instead of UTC; "
         "--format json stays UTC.")]


@dataclass(frozen=True)
class Clock:
    """Times for people in one zone, the zone's abbreviation after each time."""

    zone: tzinfo = UTC

    @classmethod
    def named(cls, name: str | None) -> Clock:
        if not name or name == "UTC":
            return cls()
        from zoneinfo import ZoneInfo

        return cls(ZoneInfo(name))

    def instant(self, value: datetime | str | None) -> datetime | None:
        if value is None or value == "":
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return fmt.utc(moment).astimezone(self.zone)

    def time(self, value: datetime | str | None) -> str:
        """'2026-09-22T17:45:00Z' -> '2026-09-22 17:45:00 UTC' (or '19:45:00 CEST')."""
        moment = self.instant(value)
        return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S ") + self.label(
            moment)

    def day_and_clock(self, value: datetime | str | None) -> tuple[str, str]:
        """('2026-09-22', '17:45:00') in this zone, for tables grouped by day."""
        moment = self.instant(value)
        if moment is None:
            return "-", ""
        return moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")

    def label(self, moment: datetime | None = None) -> str:
        """The zone's abbreviation at `moment` (CET or CEST), UTC for UTC."""
        if self.zone is UTC:
            return "UTC"
        return (moment or datetime.now(UTC)).astimezone(self.zone).tzname() or str(self.zone)

    @property
    def name(self) -> str:
        return "UTC" if self.zone is UTC else str(self.zone)


def looks_like_instant(value: object) -> bool:
    return isinstance(value, str) and ISO_INSTANT.fullmatch(value) is not None


def money(amount: Decimal | str | None, currency: str | None) -> str:
    """'EUR 3,453.19': the report's formatter, for exact decimal text too."""
    try:
        return fmt.money(amount, currency)
    except InvalidOperation:  # not a number after all: shown as it is
        return str(amount)


def value_text(value: Any, clock: Clock) -> str:
    """One scalar, or a list of scalars, for a person."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, datetime) or looks_like_instant(value):
        return clock.time(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(value_text(v, clock) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{label(k)} {value_text(v, clock)}" for k, v in value.items()
                         if v not in (None, "", []))
    return str(value)


def label(key: str) -> str:
    """A field's name as words: refunded_amount -> 'refunded amount'."""
    return key.replace("_", " ")


def field_lines(record: Mapping[str, Any], clock: Clock, *, skip: Sequence[str] = (),
                keep_empty: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(name, value) for each field worth a line: empty fields left out (unless named in
    `keep_empty`), amounts joined with the record's currency, nested records flattened
    as 'name part' lines."""
    currency = record.get("currency")
    lines: list[tuple[str, str]] = []
    for key, value in record.items():
        if key in skip or (key == "currency" and "amount" in record):
            continue
        if value in (None, "", [], {}):
            if key in keep_empty:  # its absence is the point: no ticket, no approver
                lines.append((label(key), "none"))
            continue
        if key in AMOUNT_FIELDS and isinstance(value, str | Decimal):
            lines.append((label(key), money(value, currency)))
        elif isinstance(value, Mapping):
            lines += [(f"{label(key)} {name}", text)
                      for name, text in field_lines(value, clock)]
        else:
            lines.append((label(key), value_text(value, clock)))
    return lines


def fields_grid(lines: Sequence[tuple[str, str]]) -> Table:
    """Name and value in two columns; a long value wraps at word boundaries inside its
    column (a token longer than the column, an id, folds rather than being cut)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, text in lines:
        grid.add_row(name, Text(text))
    return grid


def cut_notice(shown: int, total: int, noun: str) -> Text | None:
    """The line after a table that shows part of the answer, or None when it is whole:
    printed last, so it is on the screen when the command ends."""
    if shown >= total:
        return None
    return Text(f"showing {shown:,} of {total:,} {noun}; --all shows all, --limit N "
                "shows N", style="yellow")


def compact_table(title: str | None = None) -> Table:
    """No vertical rules and collapsed padding: the room goes to the columns' content."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                 pad_edge=False, collapse_padding=True)


def common_root(paths: list[str]) -> str:
    """The directory several paths are all under, with its separator ('' when none),
    so each path can be shown by what tells it apart from the others."""
    if len(set(paths)) < 2 or len({os.path.isabs(p) for p in paths}) > 1:
        return ""  # one path is shown whole: there is nothing to tell it apart from
    root = os.path.commonpath(paths)
    if root in ("", os.sep) or root in paths:
        return ""
    return root + os.sep


def shorten_left(path: str, width: int) -> str:
    """The path cut from the left to `width`, keeping its end (the file name, then as
    many directories as fit), at a directory boundary where one is near: '…/billing/x.csv'."""
    if len(path) <= width:
        return path
    tail = path[-(width - 1):]
    cut = tail.find(os.sep)
    if 0 <= cut < len(tail) - 1 and len(tail) - cut >= min(20, width // 2):
        tail = tail[cut:]
    return "…" + tail
