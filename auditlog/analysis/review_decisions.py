"""The access review's decisions, kept in the database: every decision read back from a
campaign workbook (export/campaign.py), with its reviewer, the period it certifies, who
imported it and when, and the workbook it came from (file name, SHA-256, sheet, row).

A later import of the same period replaces an earlier decision on the same row (the
history stays in the table). The status of a review is its rows joined with their
latest decisions: decided, still open, and the revocations a system owner carries out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from auditlog.analysis.access_review import AccessReview
from auditlog.analysis.findings import has_table
from auditlog.values import as_json

DECISIONS = ("keep", "revoke", "reduce")
# Decisions that ask a system owner to act.
ACTIONABLE = ("revoke", "reduce")
TABLE = "review_decisions"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    period_since TIMESTAMPTZ NOT NULL, period_until TIMESTAMPTZ NOT NULL,
    reviewer VARCHAR NOT NULL, account VARCHAR NOT NULL, privilege VARCHAR NOT NULL,
    system VARCHAR, decision VARCHAR NOT NULL, comment VARCHAR,
    recorded_at TIMESTAMPTZ NOT NULL, recorded_by VARCHAR NOT NULL,
    workbook VARCHAR NOT NULL, workbook_sha256 VARCHAR NOT NULL, sheet VARCHAR NOT NULL,
    row_number BIGINT NOT NULL
)"""


@dataclass(frozen=True)
class Decision:
    """One row's decision as the reviewer made it, and where it was made."""

    reviewer: str
    account: str
    privilege: str
    system: str | None
    decision: str
    comment: str | None
    sheet: str
    row: int


@dataclass(frozen=True)
class Campaign:
    """A filled-in workbook: the period it reviews and its decisions."""

    since: datetime
    until: datetime
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class Recorded:
    """What an import recorded."""

    since: datetime
    until: datetime
    decisions: int
    by_decision: dict[str, int]
    recorded_at: datetime
    recorded_by: str

    def as_json(self) -> dict[str, Any]:
        return {key: as_json(value) for key, value in self.__dict__.items()}


def record_decisions(con: duckdb.DuckDBPyConnection, campaign: Campaign, *, workbook: str,
                     sha256: str, by: str, at: datetime) -> Recorded:
    """Every decision of the campaign, in one transaction."""
    con.execute(DDL)
    rows = [(campaign.since, campaign.until, d.reviewer, d.account, d.privilege, d.system,
             d.decision, d.comment, at, by, workbook, sha256, d.sheet, d.row)
            for d in campaign.decisions]
    con.execute("BEGIN TRANSACTION")
    try:
        if rows:
            con.executemany(f"INSERT INTO {TABLE} VALUES "
                            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    counts = {name: sum(d.decision == name for d in campaign.decisions) for name in DECISIONS}
    return Recorded(campaign.since, campaign.until, len(rows), counts, at, by)


def latest_period(con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime] | None:
    """The period of the latest import, the one `review status` reports by default."""
    if not has_table(con, TABLE):
        return None
    found = con.execute(f"SELECT period_since, period_until FROM {TABLE} "
                        "ORDER BY recorded_at DESC LIMIT 1").fetchall()
    return (found[0][0], found[0][1]) if found else None


def latest_decisions(con: duckdb.DuckDBPyConnection, since: datetime,
                     until: datetime) -> pl.DataFrame:
    """The latest decision on each row of the period's review."""
    if not has_table(con, TABLE):
        return pl.DataFrame(schema={"account": pl.String, "privilege": pl.String,
                                    "system": pl.String, "decision": pl.String,
                                    "comment": pl.String, "decided_by": pl.String,
                                    "recorded_at": pl.Datetime("us", "UTC")})
    return con.sql(f"""
        SELECT account, privilege, system, decision, comment, reviewer AS decided_by,
               recorded_at
        FROM {TABLE} WHERE period_since = $since AND period_until = $until
        QUALIFY row_number() OVER (PARTITION BY account, privilege, system
                                   ORDER BY recorded_at DESC, row_number DESC) = 1
        """, params={"since": since, "until": until}).pl()


@dataclass(frozen=True)
class ReviewStatus:
    """A review and its decisions: `rows` is every row of the review with its decision
    (None = open); `revocations` the rows decided revoke or reduce, by system."""

    since: datetime
    until: datetime
    rows: pl.DataFrame
    revocations: pl.DataFrame
    # Decisions on rows the review no longer has (an edited account or privilege cell,
    # or logs forgotten since): recorded, but nothing to apply them to.
    unmatched: pl.DataFrame

    @property
    def decided(self) -> int:
        return self.rows.filter(pl.col("decision").is_not_null()).height

    @property
    def open(self) -> int:
        return self.rows.height - self.decided

    def as_json(self) -> dict[str, Any]:
        return {"since": as_json(self.since), "until": as_json(self.until),
                "rows": self.rows.height, "decided": self.decided, "open": self.open,
                "by_reviewer": [as_json(r) for r in by_reviewer(self.rows).iter_rows(
                    named=True)],
                "revocations": [as_json(r) for r in self.revocations.iter_rows(named=True)],
                "unmatched": [as_json(r) for r in self.unmatched.iter_rows(named=True)]}


def by_reviewer(rows: pl.DataFrame) -> pl.DataFrame:
    return (rows.group_by("reviewer")
            .agg(pl.len().alias("rows"), pl.col("decision").is_not_null().sum().alias("decided"))
            .with_columns((pl.col("rows") - pl.col("decided")).alias("open"))
            .sort("reviewer", nulls_last=True))


REVOCATION_COLUMNS = ("system", "account", "privilege", "decision", "comment", "decided_by",
                      "recorded_at", "still_held", "grant_event_ids")


def review_status(con: duckdb.DuckDBPyConnection, review: AccessReview) -> ReviewStatus:
    decisions = latest_decisions(con, review.since, review.until)
    rows = review.rows.select("reviewer", "account", "privilege", "system", "held_until",
                              "grant_event_ids", "flags").join(
        decisions, on=["account", "privilege", "system"], how="left", nulls_equal=True)
    revocations = (rows.filter(pl.col("decision").is_in(ACTIONABLE))
                   .with_columns(pl.col("held_until").is_null().alias("still_held"))
                   .select(REVOCATION_COLUMNS)
                   .sort("system", "account", "privilege", nulls_last=True))
    unmatched = decisions.join(review.rows.select("account", "privilege", "system"),
                               on=["account", "privilege", "system"], how="anti",
                               nulls_equal=True)
    return ReviewStatus(review.since, review.until, rows, revocations, unmatched)


def decisions_export(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """The decision history as an export table (`auditlog export` writes it beside the
    evidence, in a total order), or nothing when no campaign was ever imported."""
    if not has_table(con, TABLE):
        return {}
    return {TABLE: con.sql(f"SELECT * FROM {TABLE} ORDER BY recorded_at, workbook_sha256, "
                           "sheet, row_number").pl()}
