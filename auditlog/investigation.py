"""The one door: an Investigation is one database, an engine choice and rule packs, with
a method for every command. The CLI and a notebook both go through it, so they always
agree.

    import auditlog
    with auditlog.open("incident.duckdb") as inv:
        inv.ingest(["billing/charges.csv"], kind="charges", tz="Europe/Amsterdam")
        inv.run()
        inv.remediation()              # a polars DataFrame
        inv.trace_charge("CH-000123")  # a dict, as `auditlog trace charge --format json`

Each call opens the database for just as long as it needs it: `run` needs a read-only
sandbox and then a writer, which DuckDB does not allow beside a connection this object
kept open. What an answer should be read with (coverage caveats, findings that may rest
on forgotten files, naive times read in an assumed zone) goes to `notify` as a Notice;
by default each becomes a Python warning (`AuditlogWarning`), the CLI prints it on
stderr. Heavy modules are imported inside the methods that use them, so the CLI parses
its arguments first.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from auditlog.errors import AuditlogWarning, UsageError
from auditlog.values import parse_time

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from auditlog.analysis.access_review import AccessReview
    from auditlog.analysis.finding_views import FindingDetail, FindingsOverview
    from auditlog.analysis.findings import RunReport
    from auditlog.analysis.id_spellings import Misspelled
    from auditlog.analysis.progress import Steps
    from auditlog.analysis.review_decisions import Recorded, ReviewStatus
    from auditlog.analysis.timeline_digest import TimelineDigest
    from auditlog.analysis.triage import TriageResult
    from auditlog.answers import Demo, Report, RuleChecks
    from auditlog.engines.cases import CaseResult
    from auditlog.export.manifest import Verification
    from auditlog.ingest.pipeline import FileResult, Progress
    from auditlog.notices import Notice, Notify
    from auditlog.pack.model import Rule
    from auditlog.pack.sigma.convert import ImportResult as SigmaImport

TimeLike = datetime | str | None
PathLike = Path | str
# An engine's name in the registry (auditlog.engines.ENGINES): duckdb, spark, ...
EngineName = str
# The three lists billing works from (analysis/refunds.py), by name.
REFUND_LISTS = ("charges", "customers", "refund_issues")


def warn_notice(notice: Notice) -> None:
    """The notebook's default: each notice a Python warning, shown once per text."""
    warnings.warn(str(notice), AuditlogWarning, stacklevel=3)


# The notices (auditlog/notices.py) and the answers of several parts (auditlog/answers.py)
# are defined where a command needs them, and offered here by name (PEP 562).
_ELSEWHERE = {
    **dict.fromkeys(("Caveat", "StaleFindings", "NaiveTimes", "DaylightSaving", "SkippedFile",
                     "HiddenFiles", "FilteredRows", "NoEvents", "RepeatedHeaders",
                     "BelowMicrosecond", "DateOnlyTimes", "IdSpellings", "UnknownResults",
                     "AbsentColumns", "OtherExtras", "AnsweredLater", "Notice", "Notify"),
                    "auditlog.notices"),
    **dict.fromkeys(("Report", "Demo", "RuleChecks"), "auditlog.answers"),
}


def __getattr__(name: str) -> Any:
    home = _ELSEWHERE.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def open(path: PathLike | None = None, **options: Any) -> Investigation:
    """The investigation database at `path` (default ./auditlog.duckdb or $AUDITLOG_DB),
    created when it does not exist; `options` as Investigation's."""
    from auditlog import store

    investigation = Investigation(path, **options)
    # Create it, or fail now with one sentence; an existing one is only looked at, so
    # opening an investigation does not hold off another process's readers.
    store.connect(investigation.path, read_only=investigation.path.exists()).close()
    return investigation


class Investigation:
    """An auditlog database, the engine that runs its rules and the rule packs: load
    logs, run rules, and look at what they found. Creating one touches nothing (`open`
    creates the database); each method opens it for as long as it needs."""

    def __init__(self, path: PathLike | None = None, *, engine: EngineName = "duckdb",
                 master: str | None = None, lake: PathLike | None = None,
                 rules_dirs: Sequence[PathLike] = (), notify: Notify | None = None) -> None:
        from auditlog import store

        self.path = Path(path) if path is not None else store.default_db_path()
        self.engine = engine
        self.master = master
        self.lake = Path(lake) if lake is not None else None
        self.rules_dirs = tuple(Path(d) for d in rules_dirs)
        self.notify: Notify = notify or warn_notice
        self.closed = False

    def __repr__(self) -> str:
        return f"Investigation({str(self.path)!r}{', closed' if self.closed else ''})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; after close() every call is an error."""
        self.closed = True

    def check_open(self) -> None:
        if self.closed:
            raise UsageError(f"the investigation of {self.path} is closed")

    @contextmanager
    def connect(self, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        from auditlog import store
        from auditlog.store.catalog import frozen

        self.check_open()
        con = store.connect(self.path, read_only=read_only)
        try:
            if read_only:  # its tables cannot change: the catalog is read once
                with frozen(con):
                    yield con
            else:
                yield con
        finally:
            con.close()

    def caveat(self, lines: Sequence[str]) -> list[str]:
        """Hand each caveat to notify; the lines, for answers that carry them too."""
        if lines:
            from auditlog.notices import Caveat

        for line in lines:
            self.notify(Caveat(line))
        return list(lines)

    def tell_stale(self, con: duckdb.DuckDBPyConnection) -> None:
        from auditlog.store.runs import stale_findings

        run_id = stale_findings(con)
        if run_id is not None:
            from auditlog.notices import StaleFindings

            self.notify(StaleFindings(run_id))

    def tell_id_spellings(self, found: Sequence[Misspelled], stale_run: str | None = None
                          ) -> list[dict[str, Any]]:
        """Tell each join whose ids match only in another spelling (analysis/id_spellings.py),
        found by `stale_run` if files came or went since; the same, as JSON records."""
        from auditlog.notices import IdSpellings
        from auditlog.values import as_json

        for item in found:
            self.notify(IdSpellings(item, stale_run))
        return [as_json(item) for item in found]

    def tell_times(self, results: Sequence[FileResult], *, tz_chosen: bool) -> None:
        from auditlog.notices import (
            AbsentColumns,
            AnsweredLater,
            BelowMicrosecond,
            DateOnlyTimes,
            DaylightSaving,
            FilteredRows,
            NaiveTimes,
            NoEvents,
            OtherExtras,
            RepeatedHeaders,
            UnknownResults,
        )

        for result in results:
            if result.naive_times and not (tz_chosen or result.zone_chosen):
                self.notify(NaiveTimes(result))
            if result.dst_resolved:
                self.notify(DaylightSaving(result))
            if result.filtered:
                self.notify(FilteredRows(result))
            if result.no_events:
                self.notify(NoEvents(result))
            if result.repeated_headers:
                self.notify(RepeatedHeaders(result))
            if result.below_microsecond:
                self.notify(BelowMicrosecond(result))
            if result.date_only:
                self.notify(DateOnlyTimes(result))
            if result.unknown_results:
                self.notify(UnknownResults(result))
            if result.absent_required:
                self.notify(AbsentColumns(result))
            if result.other_extras:
                self.notify(OtherExtras(result))
            if result.answered_later:
                self.notify(AnsweredLater(result))

    # --- loading --------------------------------------------------------------------

    def ingest(self, paths: PathLike | Sequence[PathLike], *, kind: str | None = None,
               tz: str | None = None, strict: bool = False, currency: str | None = None,
               mapping: PathLike | None = None, lake: PathLike | None = None,
               progress: Progress | None = None) -> pl.DataFrame:
        """Load files or directories (one transaction), as `auditlog ingest`; one row per
        file: path, kind, sha256, rows_read, loaded, duplicates, quarantined. Without `tz`
        naive times are UTC (or, for a file loaded before, the zone it was read in).
        `currency` is the ISO 4217 code of charges that name none; with `lake`, the rows
        loaded are appended to that Parquet lake as new files."""
        return file_results(self.ingest_results(
            paths, kind=kind, tz=tz, strict=strict, currency=currency, mapping=mapping,
            lake=lake, progress=progress))

    def ingest_results(self, paths: PathLike | Sequence[PathLike], *, kind: str | None = None,
                       tz: str | None = None, strict: bool = False,
                       currency: str | None = None, mapping: PathLike | None = None,
                       lake: PathLike | None = None, progress: Progress | None = None
                       ) -> list[FileResult]:
        """`ingest`, its rows as FileResult records: the CLI renders them without
        importing polars (with pyarrow ~0.35 CPU s of every `auditlog ingest`, issue 14)."""
        from auditlog.analysis.stored_refresh import before_change, refresh_after
        from auditlog.ingest.pipeline import ingest_paths
        from auditlog.notices import HiddenFiles, SkippedFile
        from auditlog.store.lake import append_files

        items = [paths] if isinstance(paths, str | Path) else list(paths)
        with self.connect(read_only=False) as con:
            stored = before_change(con)
            results = ingest_paths(con, [Path(p) for p in items], kind=kind, tz=tz,
                                   strict=strict, currency=currency, progress=progress,
                                   mapping=Path(mapping) if mapping is not None else None,
                                   skipped=lambda file: self.notify(SkippedFile(file)),
                                   hidden=lambda unread: self.notify(HiddenFiles(unread)))
            if lake is not None:  # the rows this call loaded, as new files; none rewritten
                append_files(con, Path(lake), (r.sha256 for r in results if r.loaded))
            # Traces stay point look-ups (issue 14): what the new rows reach is recomputed.
            refresh_after(con, stored, came=[r.sha256 for r in results if r.loaded])
        self.tell_times(results, tz_chosen=tz is not None)
        return results

    def ingest_world(self, root: PathLike, *, progress: Progress | None = None
                     ) -> pl.DataFrame:
        """Load a generated world (or sample_logs/) with each file's kind and zone as its
        sources.json says."""
        return file_results(self.ingest_world_results(root, progress=progress))

    def ingest_world_results(self, root: PathLike, *, progress: Progress | None = None
                             ) -> list[FileResult]:
        """`ingest_world`, its rows as FileResult records (see ingest_results)."""
        from auditlog.analysis.stored_refresh import before_change, refresh_after
        from auditlog.ingest.world import load_world

        with self.connect(read_only=False) as con:
            stored = before_change(con)
            results = load_world(con, Path(root), progress=progress)
            # As ingest: traces stay point look-ups.
            refresh_after(con, stored, came=[r.sha256 for r in results if r.loaded])
            return results

    def forget(self, targets: str | Sequence[str]) -> pl.DataFrame:
        """Take loaded files back out (one transaction), as `auditlog forget`; one row per
        file: path, sha256, kind, rows_removed, rows_handed_over, quarantine_removed."""
        import polars as pl

        from auditlog.analysis.stored_refresh import before_change, refresh_after
        from auditlog.ingest.forget import forget as forget_files
        from auditlog.ingest.forget import resolve

        if not self.path.exists():  # a writer would create it: nothing was loaded
            raise UsageError(f"no database at {self.path}; nothing was loaded, so nothing "
                             "can be forgotten")
        items = [targets] if isinstance(targets, str) else list(targets)
        with self.connect(read_only=False) as con:
            # The rows that go are captured first, so that the stored attribution is
            # refreshed for what they reach and a trace stays a point look-up (issue 14).
            stored = before_change(con, leaving=[e.sha256 for e in resolve(con, items)])
            report = forget_files(con, items)
            refresh_after(con, stored)
            self.tell_stale(con)
        return pl.DataFrame([r.as_dict() for r in report], schema={
            "path": pl.String, "sha256": pl.String, "kind": pl.String,
            "rows_removed": pl.Int64, "rows_handed_over": pl.Int64,
            "quarantine_removed": pl.Int64})

    def status(self) -> dict[str, Any]:
        """What is loaded, as `auditlog status --format json`."""
        from auditlog.analysis.id_spellings import recorded_spellings
        from auditlog.analysis.status import database_status

        with self.connect() as con:
            summary = database_status(con).as_json()
            spelled = recorded_spellings(con)
            summary["id_spellings"] = self.tell_id_spellings(
                spelled.found, spelled.run_id if spelled.stale else None)
            # Files loaded or forgotten since the run that looked: it may be out of date.
            summary["id_spellings_stale"] = spelled.stale
            self.tell_stale(con)
        return summary

    def quarantine(self, *, file: str | None = None, limit: int | None = 100
                   ) -> list[dict[str, Any]]:
        """The quarantined rows (of `file`, as ingested), at most `limit`: file, position,
        reason and raw text, as `auditlog quarantine --format json`."""
        from auditlog.analysis.status import quarantined_rows
        from auditlog.values import as_json

        with self.connect() as con:
            rows: list[dict[str, Any]] = as_json(quarantined_rows(con, path=file, limit=limit))
        return rows

    def quarantine_page(self, *, file: str | None = None, limit: int | None = 100
                        ) -> dict[str, Any]:
        """`quarantine(file=, limit=)` as `rows`, with `total`, the rows quarantined before
        the cut (`auditlog quarantine` says at the end what it leaves out)."""
        from auditlog.analysis.status import quarantined_count, quarantined_rows
        from auditlog.values import as_json

        with self.connect() as con:
            rows = as_json(quarantined_rows(con, path=file, limit=limit))
            return {"total": quarantined_count(con, path=file), "rows": rows}

    def caveats(self, answer: str = "remediation", change_id: str | None = None) -> list[str]:
        """What an answer cannot see (docs/coverage.md): the sentences the CLI prints on
        stderr for `answer`, one of remediation, trace change, trace account, report,
        export."""
        from auditlog.analysis.caveats import NEEDS, answer_caveats

        if answer not in NEEDS or answer == "trace charge":
            choices = ", ".join(n for n in NEEDS if n != "trace charge")
            raise UsageError(f"no answer '{answer}'; use one of: {choices}")
        with self.connect() as con:
            return answer_caveats(con, NEEDS[answer], change_id=change_id, answer=answer)

    # --- rules and findings -----------------------------------------------------------

    def run(self, *, packs: Sequence[str] = (), rules: Sequence[str] = (),
            params: Mapping[str, Any] | None = None, since: TimeLike = None,
            until: TimeLike = None, rules_dirs: Sequence[PathLike] = (),
            rule_timeout: float | None = None, rule_memory: str | None = None,
            rule_spill: str | None = None, engine: EngineName | None = None,
            master: str | None = None, lake: PathLike | None = None,
            progress: Steps | None = None) -> RunReport:
        """Run rule packs (all by default) and store their findings, as `auditlog run`;
        `progress(done, total, label)` hears of each rule as it starts.

        Each rule runs for at most rule_timeout seconds and, on DuckDB, in at most
        rule_memory of memory and rule_spill of disk (sizes such as '2GB'; defaults in
        engines/bounds.py). `engine` (default: this investigation's) is duckdb or spark;
        spark takes `master` and the Parquet `lake` to read.
        """
        from auditlog.analysis.caveats import answer_caveats
        from auditlog.analysis.findings import run_packs
        from auditlog.analysis.progress import no_progress
        from auditlog.engines.bounds import RuleBounds

        self.check_open()
        engine = engine or self.engine
        master = master or self.master
        lake_dir = Path(lake) if lake is not None else self.lake
        if engine != "spark" and (lake_dir is not None or master is not None):
            raise UsageError("{lake} and {master} go with {engine} spark",
                             arguments=("lake", "master", "engine"))
        if engine == "spark" and (rule_memory or rule_spill):
            raise UsageError("{rule_memory} and {rule_spill} bound DuckDB; Spark's memory is "
                             "the cluster's (spark.executor.memory)",
                             arguments=("rule_memory", "rule_spill"))
        bounds = RuleBounds.of(rule_timeout, rule_memory, rule_spill)
        selected = self.select_rules(packs, rules, rules_dirs)
        start, end = parse_time(since, "since"), parse_time(until, "until")
        options: dict[str, Any] = {"bounds": bounds}
        if engine == "spark":
            options |= {"lake": lake_dir} | ({"master": master} if master else {})
        report = replace(run_packs(self.path, selected, dict(params or {}), start, end,
                                   engine, progress=progress or no_progress, **options),
                         rules=len(selected))
        with self.connect() as con:
            self.caveat(answer_caveats(con, {k for r in selected for k in r.requires},
                                       since=start, until=end))
        self.tell_id_spellings(report.id_spellings)
        return report

    def findings(self, *, rules: Sequence[str] = (), severity: str | None = None,
                 actor: str | None = None, change_id: str | None = None,
                 status: str | None = None, since: TimeLike = None, until: TimeLike = None,
                 include_gone: bool = False) -> pl.DataFrame:
        """Stored findings, most severe first, filtered as `auditlog findings`."""
        from auditlog.analysis.findings import FindingFilter, list_findings

        flt = FindingFilter(tuple(rules), severity, actor, change_id, status,
                            parse_time(since, "since"), parse_time(until, "until"),
                            include_gone)
        with self.connect() as con:
            found = list_findings(con, flt)
            self.tell_stale(con)
        return found

    def findings_overview(self, *, rules: Sequence[str] = (), severity: str | None = None,
                          actor: str | None = None, change_id: str | None = None,
                          status: str | None = None, since: TimeLike = None,
                          until: TimeLike = None, sort: str = "severity") -> FindingsOverview:
        """`auditlog findings`: the findings selected as `findings()` does, in `sort`
        order (severity, time, amount, rule, id), each with its currency, a summary per
        rule and the latest run. Before any run, or for a rule that is unknown or was
        never run, a UsageError says so (nearest names for a typo): not an empty list."""
        from auditlog.analysis import finding_views as views
        from auditlog.analysis.findings import FindingFilter, list_findings

        flt = FindingFilter(tuple(rules), severity, actor, change_id, status,
                            parse_time(since, "since"), parse_time(until, "until"))
        known = {rule.id: rule for rule in self.list_rules()}
        with self.connect() as con:
            latest = views.latest_run(con)
            views.check_rules(con, rules, list(known))
            frame = views.sort_findings(list_findings(con, flt), sort)
            frame = views.with_currency(con, frame)
            self.tell_stale(con)
        return views.FindingsOverview(latest, frame, views.summarize(frame, known))

    def finding(self, finding_id: str) -> FindingDetail:
        """Everything about one finding (`finding_id` or a unique prefix of it): the
        finding, its rule's words, its evidence rows and its triage history."""
        from auditlog.analysis import finding_views as views

        with self.connect() as con:
            views.latest_run(con)
            found = views.with_currency(con, views.one_finding(con, views.resolve_id(
                con, finding_id)))
            rule = {r.id: r for r in self.list_rules()}.get(found["rule_id"][0])
            return views.finding_detail(con, found, rule)

    def triage(self, finding_id: str, status: str, note: str | None = None, *,
               by: str | None = None) -> TriageResult:
        """Set a finding's status (open, acknowledged, false_positive, resolved) and
        note; `finding_id` may be a unique prefix. Logged with `by` (default: the user)."""
        from auditlog.analysis import finding_views as views
        from auditlog.analysis.findings import FindingFilter
        from auditlog.analysis.triage import check_status, triage_findings

        check_status(status)
        self.check_open()
        return triage_findings(self.path, FindingFilter(include_gone=True), status, note,
                               prepare=lambda con: [views.resolve_id(con, finding_id)],
                               by=by)

    def triage_many(self, status: str, note: str | None = None, *,
                    rules: Sequence[str] = (), severity: str | None = None,
                    actor: str | None = None, change_id: str | None = None,
                    from_status: str | None = None, since: TimeLike = None,
                    until: TimeLike = None, by: str | None = None,
                    dry_run: bool = False) -> TriageResult:
        """Set `status` and `note` on every present finding selected as `findings()`
        selects them (`from_status`: only those of this status now), in one transaction,
        each logged with `by`; `dry_run` only counts them. Needs a filter: triaging
        every finding at once is refused."""
        from auditlog.analysis import finding_views as views
        from auditlog.analysis.findings import FindingFilter
        from auditlog.analysis.triage import check_status, triage_findings

        check_status(status)
        if not (rules or severity or actor or change_id or from_status or since or until):
            raise UsageError("bulk triage needs a filter ({rules}, {severity}, {actor}, "
                             "{change_id}, {from_status}, {since}, {until}); name one finding "
                             "by its id instead", arguments=("rules", "severity", "actor",
                                                             "change_id", "from_status", "since",
                                                             "until"))
        flt = FindingFilter(tuple(rules), severity, actor, change_id, from_status,
                            parse_time(since, "since"), parse_time(until, "until"))
        known = [r.id for r in self.list_rules()] if rules else []

        def prepare(con: duckdb.DuckDBPyConnection) -> None:
            views.latest_run(con)
            views.check_rules(con, rules, known)

        self.check_open()
        return triage_findings(self.path, flt, status, note, prepare=prepare, by=by,
                               dry_run=dry_run)

    # --- attribution ------------------------------------------------------------------

    def remediation(self, change_id: str | None = None) -> pl.DataFrame:
        """Every anomalous charge, with the change, actor and moment responsible."""
        from auditlog.analysis import attribution

        with self.connect() as con:
            return attribution.remediation(con, change_id)

    def refunds(self, change_id: str | None = None, *, workbook: PathLike | None = None
                ) -> dict[str, pl.DataFrame]:
        """The lists billing works from, as `auditlog remediation --list`: charges (each
        anomalous charge, refunded and outstanding), customers (totals per customer) and
        refund_issues (refunds that match no charge needing them). With `workbook`, they
        are also written to that .xlsx file."""
        from auditlog.analysis.caveats import NEEDS, answer_caveats
        from auditlog.analysis.refunds import refund_report
        from auditlog.export.manifest import document_time

        with self.connect() as con:
            lists, created = refund_report(con, change_id), document_time(con)
            self.caveat(answer_caveats(con, NEEDS["remediation"], charges=lists["charges"]
                                       .select("charge_id", "charged_at").iter_rows(),
                                       answer="remediation"))
        if workbook is not None:
            from auditlog.export.workbook import write_workbook

            write_workbook(Path(workbook), lists, created)
        return lists

    def trace_charge(self, charge_id: str, *, records: bool = False) -> dict[str, Any]:
        """Charge -> causal action -> privilege that allowed it -> change, as `auditlog
        trace charge --format json`; `records`: with `source_records`, where each row of
        the chain came from and its verbatim source record (`--records`)."""
        from auditlog.analysis.attribution import trace_charge
        from auditlog.analysis.caveats import NEEDS, charge_caveats

        with self.connect() as con:
            trace = trace_charge(con, charge_id, records=records)
            unblamed = trace.responsible.actor if trace.responsible.change_id is None else None
            self.caveat(charge_caveats(con, NEEDS["trace charge"], charge_id, trace.anomalous,
                                       unblamed))
        return trace.as_json()

    def trace_change(self, change_id: str, *, records: bool = False) -> dict[str, Any]:
        """The change, its approval and window, and what it cost customers; `records`:
        with the change's source record (see trace_charge)."""
        from auditlog.analysis.attribution import trace_change
        from auditlog.analysis.caveats import NEEDS, answer_caveats

        with self.connect() as con:
            doc = trace_change(con, change_id, records=records).as_json()
            self.caveat(answer_caveats(con, NEEDS["trace change"], change_id=change_id,
                                       answer="trace change"))
        return doc

    def trace_account(self, account: str, *, records: bool = False) -> dict[str, Any]:
        """What an account did, with which privileges, and whom it affected; `records`:
        with the source records of its directory row and grants (see trace_charge)."""
        from auditlog.analysis.attribution import trace_account
        from auditlog.analysis.caveats import NEEDS, answer_caveats

        with self.connect() as con:
            doc = trace_account(con, account, records=records).as_json()
            self.caveat(answer_caveats(con, NEEDS["trace account"], answer="trace account"))
        return doc

    def changes(self, *, system: str | None = None, account: str | None = None,
                since: TimeLike = None, until: TimeLike = None, anomalous: bool = False,
                limit: int | None = None) -> dict[str, Any]:
        """The changes `trace change` can take (started in [since, until), on `system`,
        by `account` as implementer or approver), each with the anomalous charges blamed
        on it; `total` before the cut to `limit`. As `auditlog changes --format json`."""
        from auditlog.analysis.browse import list_changes

        with self.connect() as con:
            return list_changes(con, system=system, account=account,
                                since=parse_time(since, "since"),
                                until=parse_time(until, "until"), anomalous=anomalous,
                                limit=limit).as_json("changes")

    def accounts(self, *, system: str | None = None, account_type: str | None = None,
                 since: TimeLike = None, until: TimeLike = None, anomalous: bool = False,
                 customers: bool = False, limit: int | None = None) -> dict[str, Any]:
        """The accounts `trace account` can take: what each did, held and caused; those
        behind anomalous charges first. As `auditlog accounts --format json`."""
        from auditlog.analysis.browse import list_accounts

        with self.connect() as con:
            return list_accounts(con, system=system, account_type=account_type,
                                 since=parse_time(since, "since"),
                                 until=parse_time(until, "until"), anomalous=anomalous,
                                 customers=customers, limit=limit).as_json("accounts")

    def privileges(self, *, as_of: TimeLike = None,
                   between: tuple[TimeLike, TimeLike] | None = None,
                   account: str | None = None, privilege: str | None = None,
                   system: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """Who held what: the privileges held at instant `as_of`, or the intervals
        overlapping `between` (t1, t2), each with the grant that gave it and what ended
        it (docs/privileges.md). As `auditlog privileges --format json`."""
        from auditlog.analysis.privileges import privileges_held

        window = None if between is None else (
            parse_time(between[0], "between"), parse_time(between[1], "between"))
        with self.connect() as con:
            return privileges_held(con, as_of=parse_time(as_of, "as_of"),
                                   between=window,  # type: ignore[arg-type]
                                   account=account, privilege=privilege, system=system,
                                   limit=limit).as_json()

    def timeline(self, *, account: str | None = None, customer: str | None = None,
                 since: TimeLike = None, until: TimeLike = None, kinds: Sequence[str] = (),
                 limit: int | None = None) -> pl.DataFrame:
        """Every event touching an account, a customer or a time range, in time order."""
        from auditlog.analysis.timeline import timeline

        with self.connect() as con:
            return timeline(con, account=account, customer=customer,
                            since=parse_time(since, "since"), until=parse_time(until, "until"),
                            kinds=kinds, limit=limit)

    def timeline_digest(self, *, account: str | None = None, customer: str | None = None,
                        since: TimeLike = None, until: TimeLike = None,
                        kinds: Sequence[str] = (), limit: int | None = 20) -> TimelineDigest:
        """The timeline for a person (`auditlog timeline`'s table): a summary of every
        event by what it is, then at most `limit` events chosen to keep the key ones
        (changes, grants, revocations, where each burst starts and stops), each with the
        count of events left out before it; all events when `limit` is None."""
        from auditlog.analysis.timeline_digest import timeline_digest

        with self.connect() as con:
            return timeline_digest(con, limit, account=account, customer=customer,
                                   since=parse_time(since, "since"),
                                   until=parse_time(until, "until"), kinds=kinds)

    # --- access review (docs/access-review.md) --------------------------------------

    def review_access(self, *, since: TimeLike = None, until: TimeLike = None,
                      reviewer: str | None = None, params: Mapping[str, Any] | None = None
                      ) -> AccessReview:
        """One row per (account, privilege, system) held in [since, until) (default:
        what the logs cover): reviewer, held from/until, used, last use, flags.
        `params` are model parameters (privilege_actions, deploy_privileges, ...)."""
        from auditlog.analysis.access_review import access_review

        with self.connect() as con:
            return access_review(con, parse_time(since, "since"), parse_time(until, "until"),
                                 reviewer=reviewer, params=params)

    def review_workbook(self, out: PathLike, *, since: TimeLike = None,
                        until: TimeLike = None, reviewer: str | None = None,
                        params: Mapping[str, Any] | None = None) -> dict[str, int]:
        """The review as a certification campaign (XLSX, one sheet per reviewer with a
        decision column); returns reviewer -> rows."""
        from datetime import UTC

        from auditlog.export.campaign import write_campaign

        review = self.review_access(since=since, until=until, reviewer=reviewer,
                                    params=params)
        return write_campaign(Path(out), review, datetime.now(UTC))

    def review_import(self, workbook: PathLike, *, by: str | None = None) -> Recorded:
        """Record every decision of a filled-in campaign workbook (all or, on a bad
        decision, none: a UsageError naming sheet, row and value)."""
        import hashlib
        from datetime import UTC

        from auditlog import store
        from auditlog.analysis.review_decisions import record_decisions
        from auditlog.analysis.triage import current_user
        from auditlog.export.campaign import read_campaign

        path = Path(workbook)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        campaign = read_campaign(path)
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.check_open()
        if not self.path.exists():
            raise UsageError(f"no database at {self.path}; load logs first with "
                             "'auditlog ingest PATH'")
        con = store.connect(self.path, read_only=False, snapshot=False)
        try:
            return record_decisions(con, campaign, workbook=path.name, sha256=sha256,
                                    by=by or current_user(), at=datetime.now(UTC))
        finally:
            con.close()

    def review_status(self, *, since: TimeLike = None, until: TimeLike = None,
                      params: Mapping[str, Any] | None = None) -> ReviewStatus:
        """The review of the latest imported campaign's period (or [since, until)): what
        is decided, what is open, and the revocations to carry out."""
        from auditlog.analysis.access_review import access_review
        from auditlog.analysis.review_decisions import latest_period, review_status

        with self.connect() as con:
            start, end = parse_time(since, "since"), parse_time(until, "until")
            if start is None and end is None:
                start, end = latest_period(con) or (None, None)
            review = access_review(con, start, end, params=params)
            return review_status(con, review)

    # --- documents ------------------------------------------------------------------

    def report(self, change_id: str | None = None) -> Report:
        """The accountability report (only what `change_id` is responsible for, if
        given), as `auditlog report accountability`."""
        from auditlog.analysis.caveats import NEEDS, answer_caveats
        from auditlog.answers import Report
        from auditlog.report.accountability import accountability

        with self.connect() as con:
            model = accountability(con, change_id)
            caveats = self.caveat(answer_caveats(con, NEEDS["report"], change_id=change_id,
                                                 answer="report"))
        return Report(model, caveats)

    def export(self, out: PathLike, formats: Sequence[str] = ("csv",),
               rules_dirs: Sequence[PathLike] = (), *, progress: Steps | None = None
               ) -> dict[str, Any]:
        """Write findings, refund list and evidence with a manifest of digests into `out`
        (new or empty, or an earlier export, which is replaced); the manifest, and under
        `manifest_sha256` the SHA-256 of manifest.json, to record elsewhere.
        `progress(done, total, label)` hears of each file as it is written."""
        from auditlog.analysis.progress import no_progress
        from auditlog.export.bundle import export_bundle
        from auditlog.export.manifest import manifest_sha256

        self.check_open()
        manifest = export_bundle(self.path, Path(out), formats,
                                 [*self.rules_dirs, *(Path(d) for d in rules_dirs)],
                                 progress=progress or no_progress)
        self.caveat(manifest.coverage.caveats)
        return {**manifest.as_json(), "manifest_sha256": manifest_sha256(manifest)}

    def verify(self, directory: PathLike, *, inputs: bool = False,
               manifest_sha256: str | None = None) -> Verification:
        """Recompute an export's digests (and its input files', with `inputs`); with
        `manifest_sha256`, the manifest must also be the one whose digest was recorded."""
        from auditlog.export.manifest import verify

        return verify(Path(directory), inputs=inputs, manifest_sha256=manifest_sha256)

    def lake_export(self, out: PathLike) -> dict[str, int]:
        """Write every kind as Parquet, partitioned by UTC day; rows written per kind."""
        from auditlog.store.lake import export_lake

        with self.connect() as con:
            return export_lake(con, Path(out))

    # --- rule packs -------------------------------------------------------------------

    def select_rules(self, packs: Sequence[str] | str | None = (),
                     rules: Sequence[str] | str | None = (),
                     rules_dirs: Sequence[PathLike] = ()) -> list[Rule]:
        """The built-in and this investigation's rules, narrowed to `packs` and `rules`."""
        from auditlog.pack.loader import select_rules

        return select_rules([*self.rules_dirs, *(Path(d) for d in rules_dirs)], packs, rules)

    def list_rules(self) -> list[Rule]:
        """Every rule, built-in and of this investigation's rules_dirs."""
        from auditlog.pack.loader import load_rules

        return load_rules(self.rules_dirs)

    def rule(self, rule_id: str) -> Rule:
        (found,) = self.select_rules((), [rule_id])
        return found

    def rule_sql(self, rule_id: str, engine: EngineName | None = None) -> str:
        """The SQL `engine` runs for the rule: its own on DuckDB, the translation on Spark."""
        from auditlog.engines import open_engine

        rule = self.rule(rule_id)
        return open_engine(engine or self.engine, self.path).sql_of(rule)

    def validate_rules(self) -> RuleChecks:
        """Every rule's metadata and SQL checked; all problems at once."""
        from auditlog.answers import RuleChecks
        from auditlog.engines.validate import validate

        valid, errors = validate(self.rules_dirs)
        return RuleChecks(valid, errors)

    def test_rules(self, rules: Sequence[str] = (), *, builtin: bool = True
                   ) -> list[CaseResult]:
        """Every fire and quiet case of the rules (of `rules`, if given)."""
        from auditlog.engines.cases import run_all_cases
        from auditlog.pack.loader import load_rules

        loaded = [r for r in load_rules(self.rules_dirs, builtin=builtin)
                  if not rules or r.id in rules]
        return run_all_cases(loaded)

    def import_sigma(self, paths: Sequence[PathLike], out: PathLike) -> SigmaImport:
        """Sigma rules (files or folders) converted into rule packs under `out`, one
        `<pack>/` per logsource; the rules that could not be converted, each with why."""
        from auditlog.pack.sigma.convert import import_sigma

        return import_sigma([Path(p) for p in paths], Path(out))

    # --- the sample incident ------------------------------------------------------------

    def demo(self, world: PathLike | None = None, *, progress: Progress | None = None
             ) -> Demo:
        """Load the sample incident (or a generated `world`), run every pack, and answer
        who and what is responsible, as `auditlog demo`."""
        from auditlog.analysis.attribution import remediation, trace_change, trace_charge
        from auditlog.analysis.findings import run_packs
        from auditlog.analysis.summary import incident_summary
        from auditlog.answers import Demo
        from auditlog.ingest.world import sample_logs_dir
        from auditlog.pack.loader import load_rules
        from auditlog.values import as_json

        loaded = self.ingest_world(world or sample_logs_dir(), progress=progress)
        report = run_packs(self.path, load_rules())
        with self.connect() as con:
            summary = incident_summary(con)
            example = None
            if summary.parties:  # the first charge of the largest responsible party
                top = summary.parties[0]
                frame = remediation(con, top.change_id)
                frame = frame.filter(frame["actor"] == top.actor)
                if frame.height:
                    example = trace_charge(con, frame["charge_id"][0]).as_json()
            changes = {p.change_id: trace_change(con, p.change_id).as_json()
                       for p in summary.parties if p.change_id}
        return Demo(loaded, report, as_json(summary), changes, example)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None,
            ) -> pl.DataFrame:
        """A read-only query of your own on the tables (actions, charges, findings, ...)."""
        with self.connect() as con:
            return con.sql(query, params=params).pl()


def file_results(results: list[FileResult]) -> pl.DataFrame:
    import polars as pl

    columns = ("path", "kind", "sha256", "rows_read", "loaded", "duplicates", "quarantined")
    return pl.DataFrame([r.as_dict() for r in results], schema={
        c: pl.Int64 if c in columns[3:] else pl.String for c in columns})
