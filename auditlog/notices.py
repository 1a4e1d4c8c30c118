"""Notices: what an answer should be read with (coverage caveats, findings that may rest
on forgotten files, naive times read in a zone nobody chose). An Investigation hands each
to its `notify`; the CLI prints it on stderr, a notebook gets a Python warning.

Apart from investigation.py so that a command that is told nothing does not define them
(a frozen dataclass costs ~2-4 M instructions to create on Python 3.11, a few percent of
a `status`; issue 14). `auditlog.investigation` still offers every name here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditlog.analysis.id_spellings import Misspelled
    from auditlog.ingest.files import Hidden, Unrecognized
    from auditlog.ingest.pipeline import FileResult


@dataclass(frozen=True)
class Caveat:
    """What an answer cannot see (docs/coverage.md), one sentence."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class StaleFindings:
    """Files were forgotten since `run_id`; its findings may rest on rows that are gone."""

    run_id: str

    def __str__(self) -> str:
        return (f"files were forgotten since run {self.run_id}; its findings may rest on "
                "rows that are gone until the rules are run again")


@dataclass(frozen=True)
class NaiveTimes:
    """A file's timestamps carried no offset and were read in a zone nobody chose."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.naive_times:,} timestamp(s) in {self.file.path} carry no offset "
                f"and were read in {self.file.tz}, since no zone was given")


@dataclass(frozen=True)
class DaylightSaving:
    """Naive times of a file fell in a daylight-saving gap or overlap (validate.MACROS)."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.dst_resolved:,} naive time(s) in {self.file.path} fell in a "
                f"daylight-saving gap or overlap of {self.file.tz}; resolved with the offset "
                "in effect before the change")


@dataclass(frozen=True)
class RepeatedHeaders:
    """Lines of a CSV/TSV file repeated its header (files joined with their headers, a
    paginated export): no records, skipped and not counted as rows."""

    file: FileResult

    def __str__(self) -> str:
        r = self.file
        at = f"line {r.first_header_line:,}" if r.first_header_line else "a later record"
        return (f"{r.repeated_headers:,} line(s) of {r.path} repeat its header, the first at "
                f"{at} (files joined with their headers?): skipped, not counted as rows")


@dataclass(frozen=True)
class BelowMicrosecond:
    """Timestamps of a file carried digits below the microsecond (nanoseconds): stored
    as instants at microseconds, cut (validate.BELOW_US)."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.below_microsecond:,} timestamp(s) in {self.file.path} carried "
                "digits below the microsecond, cut to microseconds where stored; rows apart "
                "only by those digits are still told apart (not taken for duplicates)")


@dataclass(frozen=True)
class DateOnlyTimes:
    """Timestamps of a file were dates without a time of day (an invoice date): each is
    read as that day's midnight (validate.DATE_ONLY), hours before what happened."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.date_only:,} timestamp(s) in {self.file.path} are dates without "
                "a time of day, read as that day's midnight, so each event is placed at its "
                "day's start (a charge hours before its order, beyond the clock skew the "
                "attribution allows: only an order_id pairs it); export the time of day if "
                "the source has it")


@dataclass(frozen=True)
class OtherExtras:
    """Rows of a file repeated rows already loaded from another export (or earlier rows
    of the file), the same in the contract's columns and in every extra column both
    give, but with extra columns one of them lacks (judge.judge): duplicates, the first
    rows kept as they were."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.other_extras:,} row(s) of {self.file.path} repeat rows already "
                "loaded from another export (or earlier in the file) with other extra "
                "columns (the same in every contract column and every extra column both "
                "give): counted as duplicates, the first rows kept with their own extra "
                "columns, the repeats' other extra columns not added to them")


@dataclass(frozen=True)
class UnknownResults:
    """Requests of a file were logged only when received (a Kubernetes audit stage
    RequestReceived with no later stage): their outcome is unknown, stored as NULL."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.unknown_results:,} request(s) in {self.file.path} were logged "
                "only when received (stage RequestReceived, no response): stored with result "
                "unknown (null), not as successes, and a role binding so requested kept as "
                "an action, not a grant")


@dataclass(frozen=True)
class AnsweredLater:
    """A file answered requests stored with result unknown from an earlier file (their
    RequestReceived record): its answer replaced them (ingest/answered.py)."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.answered_later:,} request(s) stored with result unknown from an "
                f"earlier file (stage RequestReceived) were answered in {self.file.path}: "
                "stored with its result (a role binding as its grant or revoke), the "
                "earlier row counted as a duplicate")


@dataclass(frozen=True)
class AbsentColumns:
    """A file loaded as the kind named had no column for some of its required columns,
    so every row was quarantined; which of its columns may hold them (other_names.py)."""

    file: FileResult

    def __str__(self) -> str:
        from auditlog.ingest.other_names import mapping_hint

        r = self.file
        absent = r.absent_required[0] if len(r.absent_required) == 1 else (
            ", ".join(r.absent_required[:-1]) + f" or {r.absent_required[-1]}")
        reads = (f"a mapping file whose [columns] says {mapping_hint(dict(r.likely_names))} "
                 "reads them (--mapping FILE, docs/mappings.md)" if r.likely_names else
                 "a mapping file (--mapping FILE, docs/mappings.md) says which of its "
                 "columns hold them")
        return (f"{r.path} has no column named {absent} (required for {r.kind}), so each of its "
                f"rows was quarantined; {reads}")


@dataclass(frozen=True)
class SkippedFile:
    """A file of a directory given was in no format auditlog reads, and was passed over."""

    file: Unrecognized

    def __str__(self) -> str:
        return f"skipped {self.file.path}, not in a format auditlog reads: {self.file.reason}"


@dataclass(frozen=True)
class NoEvents:
    """A file was recognized, but holds no events to load (a CloudTrail digest file)."""

    file: FileResult

    def __str__(self) -> str:
        return f"{self.file.path} is {self.file.no_events}: nothing in it to load"


@dataclass(frozen=True)
class HiddenFiles:
    """Hidden files or folders of a directory given were passed over unread."""

    hidden: Hidden

    def __str__(self) -> str:
        return str(self.hidden)


@dataclass(frozen=True)
class FilteredRows:
    """Rows of a file a mapping's filters set aside: quarantined by choice, with the
    filter's name, not for breaking the contract (so --strict does not count them)."""

    file: FileResult

    def __str__(self) -> str:
        return (f"{self.file.filtered:,} of the {self.file.quarantined:,} quarantined row(s) "
                f"of {self.file.path} were set aside by the mapping's filters (each reason "
                "names its filter)")


@dataclass(frozen=True)
class IdSpellings:
    """Ids of one join match only in another spelling (case, full-width characters,
    leading zeros, a DOMAIN\\ prefix, an email domain); auditlog matches them exactly and
    merges nothing. `stale_run`: the run that found it, when files were loaded or
    forgotten since (status repeats what the latest run found)."""

    found: Misspelled
    stale_run: str | None = None

    def __str__(self) -> str:
        from auditlog.analysis.id_spellings import stale_text

        return (f"{stale_text(self.stale_run)} " if self.stale_run else "") + self.found.text()


Notice = (Caveat | StaleFindings | NaiveTimes | DaylightSaving | SkippedFile | HiddenFiles
          | FilteredRows | NoEvents | RepeatedHeaders | BelowMicrosecond | DateOnlyTimes
          | IdSpellings | UnknownResults | AbsentColumns | OtherExtras
          | AnsweredLater)
Notify = Callable[[Notice], None]
