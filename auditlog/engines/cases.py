"""The case harness: every rule ships small multi-table fixtures where it must fire and
where it must stay quiet (queries/<pack>/cases/<rule_id>.toml). One harness runs them
for pytest (tests/test_rule_cases.py) and for `auditlog rules test`.

A case file:

    [[case]]
    name = "service account subscribes for a customer who never ordered"
    expect = "fire"              # or "quiet"
    count = 1                    # optional: exact number of findings
    evidence = ["CH-1"]          # optional: ids that must appear in the findings' evidence
    keys = ["CH-1"]              # optional: the exact set of finding keys
    params = { window_hours = 2 }  # optional overrides
    [case.tables]
    charges = [ { charge_id = "CH-1", ts = "2026-03-01T10:00:00Z", account = "C1", ... } ]
    actions = [ { event_id = "A-1", ..., extra = { aws_account = "111122223333" } } ]

A row's `extra` table holds the columns an adapter keeps beyond the contract's (they
are stored in the row's `extra` JSON, as a standard source's are).

A case may instead (or as well) hold `records`: lines of a standard source (CloudTrail,
Kubernetes audit records as JSON text), loaded as one JSON Lines file through the whole
ingest, adapter and kept source record included: what a rule reading `<kind>_with_record`
needs (the cases `rules import-sigma` writes).
"""

from __future__ import annotations

import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from auditlog import store
from auditlog.engines.runner import run_rule
from auditlog.engines.sandbox import connect_sandbox, install_shared_views
from auditlog.errors import AuditlogError, RuleError
from auditlog.ingest.pipeline import ingest_paths, ingest_rows
from auditlog.kinds import KINDS
from auditlog.pack.model import Rule
from auditlog.pack.units import needed_units

Tables = dict[str, list[dict[str, Any]]]
# A case row's table of the columns an adapter keeps beyond the contract's (`extra`).
EXTRA = "extra"


@dataclass(frozen=True)
class Case:
    rule_id: str
    name: str
    expect: str
    tables: Tables
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    count: int | None = None
    evidence: tuple[str, ...] = ()
    keys: tuple[str, ...] | None = None
    records: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.rule_id}: {self.name}"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    passed: bool
    message: str = ""


def load_cases(rule: Rule) -> list[Case]:
    """The cases of a rule; a rule without a case file has none (validate flags it)."""
    if rule.cases_source is None:
        return []
    path = rule.cases_source
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"invalid TOML: {exc}", source=path) from None
    return [parse_case(rule.id, i, raw, path) for i, raw in enumerate(data.get("case", []))]


def parse_case(rule_id: str, index: int, raw: dict[str, Any], source: str) -> Case:
    name = str(raw.get("name") or f"case {index + 1}")
    where = f"{source} (case '{name}')"
    if raw.get("expect") not in ("fire", "quiet"):
        raise RuleError("expect must be \"fire\" or \"quiet\"", source=where)
    tables = raw.get("tables") or {}
    for table, rows in tables.items():
        if table not in KINDS:
            raise RuleError(f"unknown table '{table}'; use: {', '.join(KINDS)}", source=where)
        unknown = ({c for row in rows for c in row} - set(KINDS[table].column_names)
                   - {EXTRA})
        if unknown:
            raise RuleError(f"table {table} has no columns {sorted(unknown)}", source=where)
    keys = raw.get("keys")
    records = raw.get("records") or []
    if not isinstance(records, list) or not all(isinstance(r, str) for r in records):
        raise RuleError("records must be a list of strings (one source record each)",
                        source=where)
    return Case(
        rule_id=rule_id, name=name, expect=raw["expect"], tables=tables, source=where,
        params=dict(raw.get("params") or {}), count=raw.get("count"),
        evidence=tuple(raw.get("evidence", ())), keys=tuple(keys) if keys is not None else None,
        records=tuple(records),
    )


def build_fixture(path: Path, tables: Tables, *, source: str = "fixture",
                  records: tuple[str, ...] = ()) -> None:
    """A database at `path` holding exactly the case's rows, loaded through ingest's own
    typing and checks (pipeline.ingest_rows), so that a case sees what a real load
    stores: defaults filled (an action's result is 'success'), enums lower-cased, times
    as UTC instants. A row ingest would quarantine is an error naming `source` (the case
    file and case), the table and the row: a case must hold what a log can.

    Tables that are not log kinds (ingested_files, quarantine: bookkeeping a test may set
    up) hold no log rows and are inserted as given.

    No read snapshot is taken (snapshot=False): nobody else reads a case's database, and
    copying it took ~0.2 s of the ~1.3 s a case fixture took to build."""
    con = store.connect(path, snapshot=False)
    try:
        logs = {table: [_flatten_extra(row) for row in rows]
                for table, rows in tables.items() if table in KINDS and any(rows)}
        for table, rows in tables.items():
            if table not in KINDS and any(rows):
                _insert(con, table, rows)
        for table, done in (ingest_rows(con, logs, source=source) if logs else {}).items():
            if done.rejected:
                first = done.rejected[0]
                more = f" (and {len(done.rejected) - 1} more)" if len(done.rejected) > 1 else ""
                raise RuleError(
                    f"{table} row {first.row} breaks the ingest contract: {first.reason}{more}",
                    source=source,
                )
        if records:
            load_records(con, path.with_suffix(".records.jsonl"), records, source)
    finally:
        con.close()


def load_records(con: duckdb.DuckDBPyConnection, file: Path, records: tuple[str, ...],
                 source: str) -> None:
    """`records` written as one JSON Lines file and ingested like a user's log; a record
    the ingest passes over or quarantines is an error naming the case."""
    file.write_text("".join(r.strip() + "\n" for r in records), encoding="utf-8")
    try:
        done = ingest_paths(con, [file], strict=True)
    except AuditlogError as exc:
        raise RuleError(f"its records do not ingest: {exc}", source=source) from None
    finally:
        file.unlink(missing_ok=True)
    bad = sum(d.quarantined for d in done)
    if bad or sum(d.loaded + d.duplicates for d in done) == 0:
        reasons = con.execute("SELECT location || ': ' || reason FROM quarantine "
                              "ORDER BY location LIMIT 1").fetchone()
        raise RuleError(f"its records do not ingest ({bad} quarantined"
                        + (f", first {reasons[0]}" if reasons else "") + ")", source=source)


def _flatten_extra(row: dict[str, Any]) -> dict[str, Any]:
    # A case row's `extra = { ... }` holds what an adapter keeps beyond the contract's
    # columns: its members are handed over as such columns, which ingest keeps in extra.
    members = row.get(EXTRA) or {}
    if not isinstance(members, dict):
        raise RuleError(f"{EXTRA} must be a table of the columns beyond the contract's")
    return {**{k: v for k, v in row.items() if k != EXTRA}, **members}


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = sorted({c for row in rows for c in row})
    marks = ", ".join("?" for _ in columns)
    con.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
        [[_value(row.get(c)) for c in columns] for row in rows],
    )


def _value(value: Any) -> Any:
    # TOML and Python dates become ISO text, as ingest writes them.
    return value.isoformat() if hasattr(value, "isoformat") else value


def run_case(rule: Rule, case: Case, workdir: Path) -> CaseResult:
    db = workdir / f"{rule.id}-{abs(hash(case.name))}.duckdb"
    try:
        build_fixture(db, case.tables, source=case.source, records=case.records)
        # A case's params reach the model's parameters too (grace_minutes), as in a run.
        # Only the shared views the rule reads are created: binding the whole model's
        # SQL for every case was about a fifth of the harness's time.
        reads = {unit.name for unit in needed_units(rule.sql)}
        con = connect_sandbox(db)
        try:
            install_shared_views(con, params=case.params, use_stored=False, reads=reads)
            found = run_rule(con, rule, case.params)
        finally:
            con.close()
    except (RuleError, duckdb.Error) as exc:
        return CaseResult(case, False, f"error: {exc}")
    finally:
        db.unlink(missing_ok=True)
    return CaseResult(case, *judge(case, found["key"].to_list(), found["evidence"].to_list()))


def judge(case: Case, keys: list[str], evidence: list[list[str]]) -> tuple[bool, str]:
    if case.expect == "quiet" and keys:
        return False, f"expected no finding, got {len(keys)}: keys {keys[:5]}"
    if case.expect == "fire" and not keys:
        return False, "expected a finding, got none"
    if case.count is not None and len(keys) != case.count:
        return False, f"expected {case.count} findings, got {len(keys)}: keys {keys[:5]}"
    if case.keys is not None and sorted(keys) != sorted(case.keys):
        return False, f"expected keys {sorted(case.keys)}, got {sorted(keys)}"
    seen = {i for ids in evidence for i in (ids or [])}
    missing = [i for i in case.evidence if i not in seen]
    if missing:
        return False, f"evidence lacks {missing}; it holds {sorted(seen)[:10]}"
    return True, ""


def run_all_cases(rules: list[Rule]) -> list[CaseResult]:
    """Every case of every rule; a rule with no fire or no quiet case fails too."""
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="auditlog-cases-") as tmp:
        for rule in rules:
            cases = load_cases(rule)
            for expect in ("fire", "quiet"):
                if not any(c.expect == expect for c in cases):
                    missing = Case(rule.id, f"has a {expect} case", expect, {}, rule.source)
                    results.append(CaseResult(missing, False, f"rule has no '{expect}' case"))
            results += [run_case(rule, c, Path(tmp)) for c in cases]
    return results
