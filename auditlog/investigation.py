"""The notebook API: one object for one investigation database.

    import auditlog
    with auditlog.open("incident.duckdb") as inv:
        inv.ingest(["billing/charges.csv"], kind="charges", tz="Europe/Amsterdam")
        inv.run()
        inv.remediation()              # a polars DataFrame
        inv.trace_charge("CH-000123")  # a dict, as `auditlog trace charge --format json`

Every method is a thin wrapper over the library function the CLI command of the same
name calls, so a notebook and the command line always agree. Each call opens the
database for just as long as it needs it: `run` needs a read-only sandbox and then a
writer, which DuckDB does not allow beside a connection this object kept open.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import polars as pl

from auditlog import store
from auditlog.analysis import attribution
from auditlog.analysis import timeline as timeline_module
from auditlog.analysis.caveats import NEEDS, answer_caveats
from auditlog.analysis.findings import FindingFilter, RunReport, list_findings, run_packs
from auditlog.analysis.findings import triage as triage_finding
from auditlog.analysis.status import database_status
from auditlog.engines.bounds import RuleBounds
from auditlog.errors import UsageError
from auditlog.ingest.forget import forget as forget_files
from auditlog.ingest.pipeline import FileResult, ingest_paths
from auditlog.ingest.world import load_world
from auditlog.pack.loader import select_rules

TimeLike = datetime | str | None
PathLike = Path | str


def open(path: PathLike | None = None) -> Investigation:
    """The investigation database at `path` (default ./auditlog.duckdb or $AUDITLOG_DB),
    created when it does not exist."""
    return Investigation(path)


class Investigation:
    """An auditlog database: load logs, run rules, and look at what they found."""

    def __init__(self, path: PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else store.default_db_path()
        # Create it, or fail now with one sentence; an existing one is only looked at, so
        # opening an investigation does not hold off another process's readers.
        store.connect(self.path, read_only=self.path.exists()).close()
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

    @contextmanager
    def connect(self, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.closed:
            raise UsageError(f"the investigation of {self.path} is closed")
        con = store.connect(self.path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    # --- loading --------------------------------------------------------------------

    def ingest(self, paths: PathLike | Sequence[PathLike], *, kind: str | None = None,
               tz: str | None = None, strict: bool = False, mapping: PathLike | None = None,
               ) -> pl.DataFrame:
        """Load files or directories (one transaction), as `auditlog ingest`; one row per
        file: path, kind, sha256, rows_read, loaded, duplicates, quarantined. Without `tz`
        naive times are UTC (or, for a file loaded before, the zone it was read in)."""
        items = [paths] if isinstance(paths, str | Path) else list(paths)
        with self.connect(read_only=False) as con:
            results = ingest_paths(con, [Path(p) for p in items], kind=kind, tz=tz,
                                   strict=strict,
                                   mapping=Path(mapping) if mapping is not None else None)
        return file_results(results)

    def forget(self, targets: str | Sequence[str]) -> pl.DataFrame:
        """Take loaded files back out (one transaction), as `auditlog forget`; one row per
        file: path, sha256, kind, rows_removed, rows_handed_over, quarantine_removed."""
        items = [targets] if isinstance(targets, str) else list(targets)
        with self.connect(read_only=False) as con:
            report = forget_files(con, items)
        return pl.DataFrame([r.as_dict() for r in report], schema={
            "path": pl.String, "sha256": pl.String, "kind": pl.String,
            "rows_removed": pl.Int64, "rows_handed_over": pl.Int64,
            "quarantine_removed": pl.Int64})

    def ingest_world(self, root: PathLike) -> pl.DataFrame:
        """Load a generated world (or sample_logs/) with each file's kind and zone as its
        sources.json says."""
        with self.connect(read_only=False) as con:
            return file_results(load_world(con, Path(root)))

    def status(self) -> dict[str, Any]:
        """What is loaded, as `auditlog status --format json`."""
        with self.connect() as con:
            return database_status(con)

    def caveats(self, answer: str = "remediation", change_id: str | None = None) -> list[str]:
        """What an answer cannot see (docs/coverage.md): the sentences the CLI prints on
        stderr for `answer`, one of remediation, trace change, trace account, report,
        export."""
        if answer not in NEEDS or answer == "trace charge":
            choices = ", ".join(n for n in NEEDS if n != "trace charge")
            raise UsageError(f"no answer '{answer}'; use one of: {choices}")
        with self.connect() as con:
            return answer_caveats(con, NEEDS[answer], change_id=change_id)

    # --- rules and findings -----------------------------------------------------------

    def run(self, *, packs: Sequence[str] = (), rules: Sequence[str] = (),
            params: dict[str, Any] | None = None, since: TimeLike = None,
            until: TimeLike = None, rules_dirs: Sequence[PathLike] = (),
            rule_timeout: float | None = None, rule_memory: str | None = None,
            rule_spill: str | None = None) -> RunReport:
        """Run rule packs (all by default) and store their findings, as `auditlog run`.

        Each rule runs for at most rule_timeout seconds, in at most rule_memory of memory
        and rule_spill of disk (sizes such as '2GB'; defaults in rules/bounds.py).
        """
        if self.closed:
            raise UsageError(f"the investigation of {self.path} is closed")
        bounds = RuleBounds.of(rule_timeout, rule_memory, rule_spill)
        selected = select_rules([Path(d) for d in rules_dirs], packs, rules)
        return run_packs(self.path, selected, params,
                         as_time(since, "since"), as_time(until, "until"), bounds=bounds)

    def findings(self, *, rules: Sequence[str] = (), severity: str | None = None,
                 actor: str | None = None, change_id: str | None = None,
                 status: str | None = None, since: TimeLike = None, until: TimeLike = None,
                 include_gone: bool = False) -> pl.DataFrame:
        """Stored findings, most severe first, filtered as `auditlog findings`."""
        flt = FindingFilter(tuple(rules), severity, actor, change_id, status,
                            as_time(since, "since"), as_time(until, "until"), include_gone)
        with self.connect() as con:
            return list_findings(con, flt)

    def triage(self, finding_id: str, status: str, note: str | None = None) -> None:
        """Set a finding's status (open, acknowledged, false_positive, resolved)."""
        if self.closed:
            raise UsageError(f"the investigation of {self.path} is closed")
        triage_finding(self.path, finding_id, status, note)

    # --- attribution ------------------------------------------------------------------

    def remediation(self, change_id: str | None = None) -> pl.DataFrame:
        """Every anomalous charge, with the change, actor and moment responsible."""
        with self.connect() as con:
            return attribution.remediation(con, change_id)

    def trace_charge(self, charge_id: str) -> dict[str, Any]:
        with self.connect() as con:
            return attribution.trace_charge(con, charge_id)

    def trace_change(self, change_id: str) -> dict[str, Any]:
        with self.connect() as con:
            return attribution.trace_change(con, change_id)

    def trace_account(self, account: str) -> dict[str, Any]:
        with self.connect() as con:
            return attribution.trace_account(con, account)

    def timeline(self, *, account: str | None = None, customer: str | None = None,
                 since: TimeLike = None, until: TimeLike = None, kinds: Sequence[str] = (),
                 limit: int | None = None) -> pl.DataFrame:
        """Every event touching an account, a customer or a time range, in time order."""
        with self.connect() as con:
            return timeline_module.timeline(
                con, account=account, customer=customer, since=as_time(since, "since"),
                until=as_time(until, "until"), kinds=kinds, limit=limit)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None,
            ) -> pl.DataFrame:
        """A read-only query of your own on the tables (actions, charges, findings, ...)."""
        with self.connect() as con:
            return con.sql(query, params=params).pl()


def file_results(results: list[FileResult]) -> pl.DataFrame:
    columns = ("path", "kind", "sha256", "rows_read", "loaded", "duplicates", "quarantined")
    return pl.DataFrame([r.as_dict() for r in results], schema={
        c: pl.Int64 if c in columns[3:] else pl.String for c in columns})


def as_time(value: TimeLike, name: str) -> datetime | None:
    """A datetime, or ISO 8601 text; without an offset it is UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(f"{name} '{value}' is not an ISO 8601 time, "
                             "e.g. 2026-03-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
