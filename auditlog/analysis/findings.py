"""The findings store: findings of every run with stable ids, their triage status kept
across runs, and the runs themselves.

`run_packs` is the whole of `auditlog run`: rules execute on an engine (engines/, the
read-only DuckDB sandbox by default), then their findings are merged into the `findings`
table on a writable connection. A finding
that a rule stops producing is kept (with its triage) but marked not present, and the
run reports it as disappeared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from auditlog import store
from auditlog.analysis.id_spellings import (
    Misspelled,
    lake_misspelled_ids,
    misspelled_ids,
    record_id_spellings,
)
from auditlog.analysis.progress import Steps, no_progress
from auditlog.engines import open_engine
from auditlog.engines.base import concat_findings
from auditlog.errors import UsageError
from auditlog.pack.model import Rule
from auditlog.pack.params import with_model_params
from auditlog.pack.severity import SEVERITIES, severity_rank
from auditlog.pack.units import needed_units, shared_units
from auditlog.store.attribution import persist_attribution, persist_evidence
from auditlog.store.memory import leave_room
from auditlog.store.rule_sources import persist_rule_sources
from auditlog.values import decimal_text, iso_utc

if TYPE_CHECKING:
    from auditlog.engines.base import Engine
    from auditlog.pack.units import SqlUnit

STATUSES = ("open", "acknowledged", "false_positive", "resolved")

FINDINGS_DDL = """
CREATE TABLE IF NOT EXISTS findings (
    finding_id VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, severity VARCHAR NOT NULL,
    title VARCHAR NOT NULL, ts TIMESTAMPTZ, change_id VARCHAR, actor VARCHAR, account VARCHAR,
    amount DECIMAL(18,4), evidence VARCHAR[], key VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL, last_seen TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'open', note VARCHAR, run_id VARCHAR NOT NULL,
    present BOOLEAN NOT NULL DEFAULT true
)"""
RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, started_at TIMESTAMPTZ NOT NULL, rules VARCHAR[],
    params JSON, since TIMESTAMPTZ, until TIMESTAMPTZ,
    findings BIGINT, new BIGINT, disappeared BIGINT
)"""

# The columns a run produces for each finding, apart from its id.
DATA_COLUMNS = ("rule_id", "severity", "title", "ts", "change_id", "actor", "account",
                "amount", "evidence", "key")

# What `auditlog findings` shows, in this order.
PUBLIC_COLUMNS = ("finding_id", "rule_id", "severity", "title", "ts", "change_id", "actor",
                  "account", "amount", "evidence", "status", "note", "first_seen", "last_seen")


@dataclass
class RunReport:
    run_id: str
    findings: int
    new: list[str] = field(default_factory=list)
    disappeared: list[str] = field(default_factory=list)
    by_severity: dict[str, int] = field(default_factory=dict)
    # How many rules ran (the CLI's summary line; not in the JSON document).
    rules: int = 0
    # Ids that match across logs only in another spelling (told on stderr, not in JSON).
    id_spellings: list[Misspelled] = field(default_factory=list)

    def worst_at_least(self, severity: str) -> bool:
        floor = severity_rank(severity)
        return any(n and severity_rank(s) >= floor for s, n in self.by_severity.items())

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "findings": self.findings, "new": self.new,
                "disappeared": self.disappeared, "by_severity": self.by_severity}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(FINDINGS_DDL)
    con.execute(RUNS_DDL)


def run_packs(
    db_path: Path | str,
    rules: Sequence[Rule],
    params: dict[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    engine: Engine | str = "duckdb",
    progress: Steps = no_progress,
    **options: Any,
) -> RunReport:
    """Run `rules` with `engine` and store their findings in the database at db_path;
    `progress` hears of the attribution, then of each rule as it starts.

    `engine` is an engine's name (engines.ENGINES), opened with `options` (e.g. bounds
    on DuckDB; lake, master, bounds on Spark), or an Engine, which the run uses and
    closes. A rule stopped by its bounds raises before anything is stored, so the
    findings stay as the last run left them.

    Whatever engine ran them, findings are merged here, and the attribution is stored
    from the database, so ids, new and disappeared findings, triage and traces work the
    same after a run on any engine.
    """
    if not rules:
        raise UsageError("no rules selected; see 'auditlog rules list'")
    if not isinstance(engine, str) and options:
        raise UsageError(f"options ({', '.join(sorted(options))}) go with an engine's name, "
                         "not with an opened engine")
    running = open_engine(engine, db_path, **options) if isinstance(engine, str) else engine
    with running:  # checks first that the engine can run: nothing is stored otherwise
        # The attribution is computed once, stored, and read by the rules and, later,
        # by every trace and remediation (store/attribution.py).
        total = len(rules) + 1
        progress(0, total, "attribution")
        store_attribution(db_path, params)
        found = run_on_engine(running, rules, params, since, until,
                              lambda done, _, label: progress(done + 1, total, label))
        # An engine that read a lake (Spark with --lake) names it: its rows, which the
        # database may not hold, are the ones whose ids are checked.
        lake: Path | None = getattr(running, "lake", None)
        lake = lake.resolve() if lake is not None else None  # status may run elsewhere
        spelled = lake_misspelled_ids(lake) if lake is not None else None
    con = store.connect(db_path)
    try:
        leave_room(con, int(found.estimated_size()))
        ensure_tables(con)
        con.execute("BEGIN TRANSACTION")
        report = merge(con, found, [r.id for r in rules], params or {}, since, until)
        persist_evidence(con, report.run_id)
        persist_rule_sources(con, [(r.id, r.source, r.sigma) for r in rules])
        # Once per run, over the stored logs; status reads what was kept.
        report.id_spellings = misspelled_ids(con) if spelled is None else spelled
        record_id_spellings(con, report.id_spellings, report.run_id, lake)
        con.execute("COMMIT")
    finally:
        con.close()
    return report


def store_attribution(db_path: Path | str, params: dict[str, Any] | None = None) -> None:
    """Recompute and store the attribution views from the logs in the database as they
    are now, with the model's parameters of a run given `params` (pack/params.py)."""
    con = store.connect(db_path)
    try:
        con.execute("BEGIN TRANSACTION")
        persist_attribution(con, with_model_params(shared_units(), params or {}), force=True)
        con.execute("COMMIT")
    finally:
        con.close()


def run_on_engine(engine: Engine, rules: Sequence[Rule], params: dict[str, Any] | None,
                  since: datetime | None, until: datetime | None,
                  progress: Steps | None = None) -> pl.DataFrame:
    """The findings of `rules` on `engine`, after it installed the units they read with
    the model's parameters of this run. With `progress`, the rules run one call each
    (in run_rules' order, rule id), so each can be told as it starts."""
    engine.install(with_model_params(units_for(rules), params or {}))
    if progress is None:
        return engine.run_rules(rules, params, since, until)
    ordered = sorted(rules, key=lambda r: r.id)
    frames = []
    for done, rule in enumerate(ordered):
        progress(done, len(ordered), rule.id)
        frames.append(engine.run_rules([rule], params, since, until))
    progress(len(ordered), len(ordered), "")
    return concat_findings(frames)


def units_for(rules: Sequence[Rule]) -> list[SqlUnit]:
    """The shared units `rules` read, directly or through others, in creation order."""
    every = shared_units()
    needed = {unit.name for rule in rules for unit in needed_units(rule.sql, every)}
    return [unit for unit in every if unit.name in needed]


def merge(
    con: duckdb.DuckDBPyConnection, found: pl.DataFrame, rule_ids: list[str],
    params: dict[str, Any], since: datetime | None, until: datetime | None,
) -> RunReport:
    """Merge this run's findings in; mark the run's rules' missing findings not present."""
    now = datetime.now(UTC)
    ((count,),) = con.execute("SELECT count(*) FROM runs").fetchall()
    run_id = f"R-{count + 1:06d}"
    # Arrow's string views share polars' buffers: the default large strings would copy
    # every finding once more outside DuckDB's limit (at 10M charges, ~0.8 GB of peak RSS).
    con.register("run_found", found.to_arrow(compat_level=pl.CompatLevel.newest()))
    scope = ("rule_id IN (SELECT unnest(?)) AND present"
             " AND (CAST(? AS TIMESTAMPTZ) IS NULL OR ts >= CAST(? AS TIMESTAMPTZ))"
             " AND (CAST(? AS TIMESTAMPTZ) IS NULL OR ts < CAST(? AS TIMESTAMPTZ))")
    scope_args = [rule_ids, since, since, until, until]
    new = ids(con, "SELECT finding_id FROM run_found WHERE finding_id NOT IN "
                   "(SELECT finding_id FROM findings WHERE present)")
    gone = ids(con, f"SELECT finding_id FROM findings WHERE {scope} AND finding_id NOT IN "
                    "(SELECT finding_id FROM run_found)", scope_args)
    # One rewrite of the table instead of row-by-row upserts (much faster in DuckDB):
    # this run's findings take their new content, keep first_seen and triage; the run's
    # rules' other findings in scope are no longer present; the rest stay as they were.
    con.execute(f"""
        CREATE OR REPLACE TABLE findings AS
        SELECT
            coalesce(n.finding_id, o.finding_id) AS finding_id,
            {", ".join(f"CASE WHEN n.finding_id IS NULL THEN o.{c} ELSE n.{c} END AS {c}"
                       for c in DATA_COLUMNS)},
            coalesce(o.first_seen, CAST(? AS TIMESTAMPTZ)) AS first_seen,
            CASE WHEN n.finding_id IS NULL THEN o.last_seen ELSE CAST(? AS TIMESTAMPTZ) END
                AS last_seen,
            coalesce(o.status, 'open') AS status, o.note,
            CASE WHEN n.finding_id IS NULL THEN o.run_id ELSE ? END AS run_id,
            n.finding_id IS NOT NULL OR (o.present AND o.finding_id NOT IN
                (SELECT finding_id FROM findings WHERE {scope})) AS present
        FROM findings AS o
        FULL OUTER JOIN run_found AS n ON n.finding_id = o.finding_id
        ORDER BY finding_id""", [now, now, run_id, *scope_args])
    con.unregister("run_found")
    by_severity = {s: int((found["severity"] == s).sum()) for s in SEVERITIES}
    con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, now, rule_ids, json.dumps(params, sort_keys=True, default=str),
                 since, until, found.height, len(new), len(gone)])
    return RunReport(run_id, found.height, new, gone, by_severity)


def ids(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any] | None = None) -> list[str]:
    """The ids `sql` selects, sorted by DuckDB and handed over as one Arrow column (a
    first run's millions of new ids cost no Python tuple or comparison each)."""
    table = con.sql(f"SELECT * FROM ({sql}) AS found ORDER BY 1",
                    params=args or None).to_arrow_table()
    return table.column(0).to_pylist()


def triage(db_path: Path | str, finding_id: str, status: str, note: str | None) -> None:
    """Set a finding's status and note; both survive later runs."""
    if status not in STATUSES:
        raise UsageError(f"unknown status '{status}'; use one of: {', '.join(STATUSES)}")
    con = store.connect(db_path, snapshot=False)  # a moment's write: readers wait
    try:
        ensure_tables(con)
        hit = con.execute("UPDATE findings SET status = ?, note = coalesce(?, note) "
                          "WHERE finding_id = ? RETURNING finding_id",
                          [status, note, finding_id]).fetchall()
    finally:
        con.close()
    if not hit:
        raise UsageError(f"no finding '{finding_id}'; see 'auditlog findings'")


@dataclass(frozen=True)
class FindingFilter:
    rules: tuple[str, ...] = ()
    severity: str | None = None  # at least this severe
    actor: str | None = None
    change_id: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_gone: bool = False


def list_findings(con: duckdb.DuckDBPyConnection, flt: FindingFilter) -> pl.DataFrame:
    """Stored findings matching `flt`, most severe first, then by rule, time and id."""
    if flt.severity is not None and flt.severity not in SEVERITIES:
        raise UsageError(f"unknown severity '{flt.severity}'; use one of: {', '.join(SEVERITIES)}")
    if flt.status is not None and flt.status not in STATUSES:
        raise UsageError(f"unknown status '{flt.status}'; use one of: {', '.join(STATUSES)}")
    if not has_table(con, "findings"):
        return pl.DataFrame(schema={c: pl.String for c in PUBLIC_COLUMNS})
    where, args = filter_sql(flt)
    rank = "list_position(?, severity)"
    sql = (f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM findings WHERE {' AND '.join(where)} "
           f"ORDER BY {rank} DESC, rule_id, ts, finding_id")
    return con.sql(sql, params=[*args, list(SEVERITIES)]).pl()


def filter_sql(flt: FindingFilter) -> tuple[list[str], list[Any]]:
    where, args = ["true"], []
    if not flt.include_gone:
        where.append("present")
    checks: Iterable[tuple[str, Any]] = (
        ("actor = ?", flt.actor), ("change_id = ?", flt.change_id), ("status = ?", flt.status),
        ("ts >= ?", flt.since), ("ts < ?", flt.until),
    )
    for clause, value in checks:
        if value is not None:
            where.append(clause)
            args.append(value)
    if flt.rules:
        where.append("rule_id IN (SELECT unnest(?))")
        args.append(list(flt.rules))
    if flt.severity is not None:
        where.append("severity IN (SELECT unnest(?))")
        args.append(list(SEVERITIES[severity_rank(flt.severity):]))
    return where, args


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    ((count,),) = con.execute("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_name = ? AND table_schema = 'main'", [name]).fetchall()
    return bool(count)


def findings_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Findings as JSON-ready dicts: ISO times with Z, amounts as exact decimal strings."""
    return [
        {**row, "ts": iso_utc(row["ts"]), "first_seen": iso_utc(row["first_seen"]),
         "last_seen": iso_utc(row["last_seen"]), "amount": decimal_text(row["amount"]),
         "evidence": list(row["evidence"] or [])}
        for row in frame.iter_rows(named=True)
    ]
