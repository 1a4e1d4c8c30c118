"""Findings for a person: what was checked, a summary per rule, one finding in full.

`auditlog findings` answers "what did the rules find" only after a run: before one, or
for a rule that was never run or is mistyped, the answer is an error that says so, never
an empty list that reads as "all clear". The summary gives per rule its severity, count,
money (per currency: a finding's currency is that of the charges it names) and first
and last time; the failed controls (rules tagged `control:` of the packs that judge how
a change or a grant was made) are picked out so they are not buried among per-charge
findings. `finding_detail` gathers everything about one finding: the rule's words, its
evidence rows as stored, and its triage history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from auditlog.analysis.findings import PUBLIC_COLUMNS, has_table
from auditlog.analysis.triage import TriageEntry, triage_history
from auditlog.errors import UsageError
from auditlog.kinds import KINDS
from auditlog.pack.model import Rule
from auditlog.pack.names import nearest, unknown_name
from auditlog.pack.severity import severity_rank
from auditlog.store import rule_sources

# The packs whose control-tagged rules judge how a change, a grant or an account was
# controlled (as report/controls.py CHANGE_PACKS): their findings are failed controls.
# Customer consent (billing, operator) is a control too, but checked per charge.
CONTROL_PACKS = ("change", "privilege")
CONTROL_TAG = "control:"

# The kinds an evidence id is looked up in, and the column that names it.
EVIDENCE_KINDS = ("charges", "actions", "privileges", "changes")
# The time a row of each kind is placed at (kinds.py): when it happened.
TIME_COLUMNS = {"changes": "started_at"}
# Ids shown as candidates when a prefix matches several findings.
CANDIDATES_SHOWN = 10


@dataclass(frozen=True)
class LatestRun:
    run_id: str
    started_at: datetime
    runs: int


@dataclass(frozen=True)
class Money:
    """A sum in one currency (None: the charges name none)."""

    currency: str | None
    amount: Decimal


@dataclass(frozen=True)
class RuleSummary:
    """One rule's findings among those selected."""

    rule_id: str
    title: str
    severity: str
    findings: int
    money: tuple[Money, ...]
    # Findings whose amount adds charges of several currencies: left out of `money`.
    mixed_currency: int
    first: datetime | None
    last: datetime | None
    control: bool


@dataclass(frozen=True)
class FindingsOverview:
    """The selected findings (PUBLIC_COLUMNS, plus `currency` and `mixed_currency`),
    in the order asked, with the per-rule summary and the run they come from."""

    latest: LatestRun
    findings: pl.DataFrame
    rules: tuple[RuleSummary, ...]

    @property
    def controls(self) -> pl.DataFrame:
        """The selected findings of failed controls, in the findings' order."""
        ids = [r.rule_id for r in self.rules if r.control]
        return self.findings.filter(pl.col("rule_id").is_in(ids))


@dataclass(frozen=True)
class EvidenceRow:
    """One row a finding names, as stored: its kind, id, time and contract columns."""

    kind: str
    id: str
    time: datetime | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class FindingDetail:
    finding: dict[str, Any]
    rule: Rule | None
    evidence: tuple[EvidenceRow, ...]
    # Evidence ids that name no stored row (an account, a key): shown as ids.
    unmatched: tuple[str, ...]
    history: tuple[TriageEntry, ...]
    # For a rule imported from Sigma: what the Sigma rule says of itself (id, level,
    # status, tags, references, falsepositives, ...), as the run stored it.
    sigma: dict[str, Any] | None = None
    # The rule's file as the run that found it read it (when the rule is not at hand).
    rule_source: str | None = None


def latest_run(con: duckdb.DuckDBPyConnection) -> LatestRun:
    """The last run, or an error saying none was run: findings before a run are not
    'nothing found'."""
    rows = (con.execute("SELECT run_id, started_at, count(*) OVER () FROM runs "
                        "ORDER BY started_at DESC, run_id DESC LIMIT 1").fetchall()
            if has_table(con, "runs") else [])
    if not rows:
        raise UsageError("no rules have been run on this database yet, so there are no "
                         "findings to show; run 'auditlog run' first")
    run_id, started_at, runs = rows[0]
    return LatestRun(run_id, started_at, int(runs))


def check_rules(con: duckdb.DuckDBPyConnection, wanted: Sequence[str],
                known: Sequence[str]) -> None:
    """Each rule asked for was run at least once; a typo gets the nearest names, a rule
    never run says how to run it."""
    ran = {r[0] for r in con.execute("SELECT DISTINCT unnest(rules) FROM runs").fetchall()}
    for rule_id in wanted:
        if rule_id in ran:
            continue
        if rule_id not in known:
            raise unknown_name("rule", rule_id, {*ran, *known}, see="auditlog rules list")
        raise UsageError(f"rule '{rule_id}' has not been run on this database, so it has "
                         f"no findings yet; run 'auditlog run --rule {rule_id}'")


def with_currency(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each finding's currency: the one of the charges its evidence names
    (null when it names none, or they carry none); `mixed_currency` when they carry
    several, since its amount then adds currencies. Such an amount is split per
    currency (`by_currency`: currency, amount) only when the charges it names add up to
    it exactly, so the split is known to be the amount's, never a guess."""
    found = pl.DataFrame(schema=CURRENCY_SCHEMA)
    if frame.height and has_table(con, "charges"):
        con.register("shown_findings",
                     frame.select("finding_id", "evidence", "amount").to_arrow())
        try:
            found = con.sql("""
                WITH items AS (
                    SELECT DISTINCT finding_id, amount, unnest(evidence) AS item
                    FROM shown_findings),
                per AS (
                    SELECT i.finding_id, any_value(i.amount) AS finding_amount, c.currency,
                           sum(c.amount) AS amount
                    FROM items AS i JOIN charges AS c ON c.charge_id = i.item
                    GROUP BY i.finding_id, c.currency)
                SELECT finding_id,
                       CASE WHEN count(DISTINCT currency) = 1 THEN min(currency) END
                           AS currency,
                       count(DISTINCT currency) > 1 AS mixed_currency,
                       CASE WHEN count(DISTINCT currency) > 1
                                 AND sum(amount) = any_value(finding_amount)
                            THEN list({'currency': currency, 'amount': amount}
                                      ORDER BY currency) END AS by_currency
                FROM per GROUP BY finding_id""").pl()
        finally:
            con.unregister("shown_findings")
    # A join need not keep the left frame's order: the findings' order is restored.
    joined = frame.with_row_index("_order").join(
        found if found.height else pl.DataFrame(schema=CURRENCY_SCHEMA),
        on="finding_id", how="left").sort("_order").drop("_order")
    return joined.with_columns(pl.col("mixed_currency").fill_null(False))


CURRENCY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {"finding_id": pl.String, "currency": pl.String,
                   "mixed_currency": pl.Boolean,
                   "by_currency": pl.List(pl.Struct({"currency": pl.String,
                                                     "amount": pl.Decimal(38, 4)}))}


def summarize(frame: pl.DataFrame, rules: dict[str, Rule]) -> tuple[RuleSummary, ...]:
    """Per rule of `frame` (with currency), most severe first, then by rule id."""
    out = []
    for (rule_id,), group in frame.group_by(["rule_id"], maintain_order=True):
        rule = rules.get(str(rule_id))
        money = rule_money(group)
        first, last = group["ts"].min(), group["ts"].max()
        out.append(RuleSummary(
            str(rule_id), group["title"][0], group["severity"][0], group.height, money,
            int((group["mixed_currency"] & group["by_currency"].is_null()).sum()),
            first, last,  # type: ignore[arg-type]
            rule is not None and is_control(rule)))
    return tuple(sorted(out, key=lambda r: (-severity_rank(r.severity), r.rule_id)))


def rule_money(group: pl.DataFrame) -> tuple[Money, ...]:
    """The money of a rule's findings per currency: each finding's amount in its one
    currency, or its split when it adds several; amounts with an unknown split are
    left out (the summary counts them)."""
    plain = group.filter(~pl.col("mixed_currency") & pl.col("amount").is_not_null())
    parts = [(cur, amount) for cur, amount in plain.select("currency", "amount").iter_rows()]
    for split in group.filter(pl.col("by_currency").is_not_null())["by_currency"]:
        parts += [(part["currency"], part["amount"]) for part in split]
    sums: dict[str | None, Decimal] = {}
    for cur, amount in parts:
        sums[cur] = sums.get(cur, Decimal(0)) + Decimal(amount)
    return tuple(Money(cur, sums[cur]) for cur in sorted(sums, key=lambda c: (c is None, c)))


def is_control(rule: Rule) -> bool:
    return rule.pack in CONTROL_PACKS and any(t.startswith(CONTROL_TAG) for t in rule.tags)


SORTS = {
    "severity": None,  # list_findings' own order: severity, rule, time, id
    "time": (["ts", "finding_id"], [False, False]),
    "amount": (["amount", "ts", "finding_id"], [True, False, False]),
    "rule": (["rule_id", "ts", "finding_id"], [False, False, False]),
    "id": (["finding_id"], [False]),
}


def sort_findings(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    if by not in SORTS:
        raise unknown_name("sort", by, SORTS)
    order = SORTS[by]
    if order is None:
        return frame
    columns, descending = order
    return frame.sort(columns, descending=descending, nulls_last=True)


def resolve_id(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """The finding id `text` names: itself, or the one id it is a prefix of (the `F-`
    may be left out). Several: an error listing them; none: the nearest ids."""
    wanted = text.strip()
    if not has_table(con, "findings"):
        latest_run(con)  # raises: nothing was run yet
    prefixes = [wanted] if wanted.upper().startswith("F-") else [wanted, "F-" + wanted]
    starts = " OR ".join("starts_with(lower(finding_id), lower(?))" for _ in prefixes)
    rows = con.execute(f"SELECT finding_id FROM findings WHERE finding_id = ? OR {starts} "
                       "ORDER BY finding_id", [wanted, *prefixes]).fetchall()
    ids = [r[0] for r in rows]
    if wanted in ids:
        return wanted
    if len(ids) == 1:
        return str(ids[0])
    if ids:
        shown = ", ".join(ids[:CANDIDATES_SHOWN])
        more = f" and {len(ids) - CANDIDATES_SHOWN} more" if len(ids) > CANDIDATES_SHOWN else ""
        raise UsageError(f"finding id '{wanted}' is ambiguous: {len(ids):,} ids start with "
                         f"it ({shown}{more}); give more of it")
    every = [r[0] for r in con.execute("SELECT finding_id FROM findings").fetchall()]
    close = nearest(wanted, every)
    hint = ("did you mean " + " or ".join(close) + "?") if close else "see 'auditlog findings'"
    raise UsageError(f"no finding '{wanted}'; {hint}")


def one_finding(con: duckdb.DuckDBPyConnection, finding_id: str) -> pl.DataFrame:
    """The finding with this exact id (present or not), as `list_findings` gives it."""
    return con.sql(f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM findings WHERE finding_id = ?",
                   params=[finding_id]).pl()


def evidence_rows(con: duckdb.DuckDBPyConnection, items: Sequence[str]
                  ) -> tuple[list[EvidenceRow], list[str]]:
    """The stored rows the evidence ids name, in the evidence's order, and the ids that
    name none. Only the contract's columns (kinds.py), not the bookkeeping ones."""
    found: dict[str, EvidenceRow] = {}
    wanted = list(dict.fromkeys(items))
    for name in EVIDENCE_KINDS:
        kind = KINDS[name]
        if not has_table(con, name):
            continue
        columns = [c.name for c in kind.columns]
        time_column = TIME_COLUMNS.get(name, "ts")
        cursor = con.execute(f"SELECT {', '.join(columns)} FROM {name} "
                             f"WHERE {kind.id_column} IN (SELECT unnest(?))", [wanted])
        for row in cursor.fetchall():
            fields = dict(zip(columns, row, strict=True))
            item = str(fields[kind.id_column])
            if item not in found:
                found[item] = EvidenceRow(name, item, fields.get(time_column), fields)
    return ([found[i] for i in wanted if i in found], [i for i in wanted if i not in found])


def finding_detail(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame,
                   rule: Rule | None) -> FindingDetail:
    """Everything about the one finding of `frame` (with currency)."""
    finding = frame.row(0, named=True)
    rows, unmatched = evidence_rows(con, list(finding["evidence"] or []))
    rule_id = finding["rule_id"]
    source = (con.execute(f"SELECT source FROM {rule_sources.TABLE} WHERE rule_id = ?",
                          [rule_id]).fetchall() if has_table(con, rule_sources.TABLE) else [])
    return FindingDetail(finding, rule, tuple(rows), tuple(unmatched),
                         tuple(triage_history(con, finding["finding_id"])),
                         rule_sources.sigma_metadata(con, [rule_id]).get(rule_id),
                         source[0][0] if source else None)
