"""The timeline: every event of the five kinds that touches an account, a customer or a
time range, merged in time order. Actions, grants and revocations, a change's start,
finish and approved window, charges and refunds, and accounts created or disabled, each
one row, flagged with the rules whose stored findings name it as evidence.

Every filter is pushed into each kind's own query (bound parameters, and with a limit
each kind contributes at most `limit` rows), so a timeline of one account on a database
of tens of millions of rows costs one scan of the columns it filters on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from auditlog.analysis.findings import has_table
from auditlog.errors import UsageError
from auditlog.values import decimal_text, iso_utc

KINDS = ("changes", "privileges", "actions", "charges", "accounts")
COLUMNS = ("ts", "kind", "event", "id", "actor", "account", "role", "system", "summary",
           "change_id", "order_id", "amount", "currency", "rules")
# Total order: time, then kind (a change before what ran under it), event, id.
ORDER = "ts, kind_rank, event, id"


@dataclass(frozen=True)
class Source:
    """How one kind's rows become timeline events."""

    kind: str
    id: str
    events: tuple[tuple[str, str], ...]  # (event name as SQL, time column)
    actor: str
    account: str
    system: str
    summary: str
    change_id: str
    order_id: str
    amount: str
    currency: str
    account_roles: tuple[tuple[str, str], ...]  # (role, condition on the account $who)
    customer_roles: tuple[tuple[str, str], ...] = ()


NULL = "CAST(NULL AS VARCHAR)"
NO_AMOUNT = "CAST(NULL AS DECIMAL(18,4))"

SOURCES = (
    Source(
        kind="changes", id="change_id",
        events=(("'change_started'", "started_at"), ("'change_finished'", "finished_at"),
                ("'window_start'", "window_start"), ("'window_end'", "window_end")),
        actor="implementer", account=NULL, system="system",
        summary="concat_ws(' ', coalesce(kind, 'change'), status, "
                "'approved by ' || approver, summary)",
        change_id="change_id", order_id=NULL, amount=NO_AMOUNT, currency=NULL,
        account_roles=(("implementer", "implementer = $who"), ("approver", "approver = $who")),
    ),
    Source(
        kind="privileges", id="event_id", events=(("operation", "ts"),),
        actor="actor", account="subject", system="system",
        summary="concat_ws(' ', operation, privilege, 'ticket ' || ticket, "
                "'approved by ' || approver)",
        change_id=NULL, order_id=NULL, amount=NO_AMOUNT, currency=NULL,
        account_roles=(("granter", "actor = $who"), ("subject", "subject = $who"),
                       ("approver", "approver = $who")),
    ),
    Source(
        kind="actions", id="event_id", events=(("'action'", "ts"),),
        actor="actor", account="target_account", system="system",
        summary="concat_ws(' ', action, object, 'via ' || channel, "
                "CASE WHEN result = 'failure' THEN '(failed)' END)",
        change_id="change_id", order_id="order_id", amount=NO_AMOUNT, currency=NULL,
        account_roles=(("actor", "actor = $who"), ("target", "target_account = $who")),
        # A customer acts for itself without a target (attribution.md, order action).
        customer_roles=(("target", "target_account = $who"),
                        ("actor", "actor = $who AND target_account IS NULL")),
    ),
    Source(
        kind="charges", id="charge_id",
        events=(("CASE WHEN type = 'refund' THEN 'refund' ELSE 'charge' END", "ts"),),
        actor="initiated_by", account="account", system="system",
        summary="concat_ws(' ', coalesce(type, 'one_time'), product, "
                "'of ' || refund_of, 'via ' || channel)",
        change_id=NULL, order_id="order_id", amount="amount", currency="currency",
        account_roles=(("charged", "account = $who"), ("initiator", "initiated_by = $who")),
        customer_roles=(("charged", "account = $who"),),
    ),
    Source(
        kind="accounts", id="account",
        events=(("'account_created'", "created_at"), ("'account_disabled'", "disabled_at")),
        actor=NULL, account="account", system=NULL,
        summary="concat_ws(' ', account_type, display_name, 'team ' || team, "
                "'owner ' || owner)",
        change_id=NULL, order_id=NULL, amount=NO_AMOUNT, currency=NULL,
        account_roles=(("account", "account = $who"), ("owner", "owner = $who"),
                       ("manager", "manager = $who")),
    ),
)


def event_sql(source: Source, rank: int, event: str, time_column: str,
              roles: tuple[tuple[str, str], ...] | None, bounded: dict[str, bool]) -> list[str]:
    """One kind's events at one of its time columns, every filter applied here.

    One scan per role, each with a plain `column = $who` that DuckDB pushes into the
    table scan (an OR of several columns is evaluated row by row: several times slower
    on tens of millions of rows); a row is in the scan of the first role it matches.
    """
    if roles is None:
        return [one_scan(source, rank, event, time_column, [], NULL, bounded)]
    scans = []
    for index, (name, condition) in enumerate(roles):
        earlier = [f"NOT coalesce({c}, false)" for _, c in roles[:index]]
        scans.append(one_scan(source, rank, event, time_column, [condition, *earlier],
                              f"'{name}'", bounded))
    return scans


def one_scan(source: Source, rank: int, event: str, time_column: str, where: list[str],
             role: str, bounded: dict[str, bool]) -> str:
    where = [f"{time_column} IS NOT NULL", *where]
    if bounded["since"]:
        where.append(f"{time_column} >= CAST($since AS TIMESTAMPTZ)")
    if bounded["until"]:
        where.append(f"{time_column} < CAST($until AS TIMESTAMPTZ)")
    body = (f"SELECT {time_column} AS ts, '{source.kind}' AS kind, {rank} AS kind_rank, "
            f"{event} AS event, {source.id} AS id, {source.actor} AS actor, "
            f"{source.account} AS account, {role} AS role, {source.system} AS system, "
            f"{source.summary} AS summary, {source.change_id} AS change_id, "
            f"{source.order_id} AS order_id, "
            f"CAST({source.amount} AS DECIMAL(18,4)) AS amount, {source.currency} AS currency "
            f"FROM {source.kind} WHERE {' AND '.join(where)}")
    if bounded["limit"]:
        body = f"SELECT * FROM ({body}) ORDER BY {ORDER} LIMIT $limit"
    return f"({body})"


def rules_sql(con: duckdb.DuckDBPyConnection) -> str:
    """(item, rules): rule ids of present findings naming an id of the timeline."""
    if not has_table(con, "findings"):
        return "SELECT CAST(NULL AS VARCHAR) AS item, CAST([] AS VARCHAR[]) AS rules LIMIT 0"
    return """
        SELECT item, list_sort(list_distinct(list(rule_id))) AS rules
        FROM (SELECT rule_id, unnest(evidence) AS item FROM findings WHERE present) AS f
        WHERE item IN (SELECT id FROM picked)
        GROUP BY item"""


def timeline(
    con: duckdb.DuckDBPyConnection,
    *,
    account: str | None = None,
    customer: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Sequence[str] = (),
    limit: int | None = None,
) -> pl.DataFrame:
    """Events touching `account` (in any role) or `customer` (as the charged or acted-on
    customer, or acting itself), within [since, until), of `kinds` (default all), in
    time order; at most `limit` rows (the earliest)."""
    sql, params = timeline_query(con, account=account, customer=customer, since=since,
                                 until=until, kinds=kinds, limit=limit)
    return con.sql(sql, params=params).pl() if sql else empty_timeline()


def timeline_query(
    con: duckdb.DuckDBPyConnection,
    *,
    account: str | None = None,
    customer: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Sequence[str] = (),
    limit: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SQL of `timeline` and its parameters ('' when no kind can match), so a reader
    that needs the whole timeline can keep it in the database (timeline_digest)."""
    check_arguments(account, customer, since, until, kinds, limit)
    who = account if account is not None else customer
    bounded = {"since": since is not None, "until": until is not None, "limit": bool(limit)}
    parts = []
    for rank, source in enumerate(SOURCES):
        if kinds and source.kind not in kinds:
            continue
        roles = None if who is None else (
            source.account_roles if account is not None else source.customer_roles)
        if roles == ():
            continue  # customers do not appear in this kind
        for event, column in source.events:
            parts += event_sql(source, rank, event, column, roles, bounded)
    if not parts:
        return "", {}
    params: dict[str, Any] = {}
    if who is not None:
        params["who"] = who
    if since is not None:
        params["since"] = since
    if until is not None:
        params["until"] = until
    if limit:
        params["limit"] = limit
    sql = f"""
        WITH picked AS (
            SELECT * FROM ({" UNION ALL ".join(parts)}) AS events
            ORDER BY {ORDER} {"LIMIT $limit" if limit else ""}
        )
        SELECT p.ts, p.kind, p.event, p.id, p.actor, p.account, p.role, p.system,
               p.summary, p.change_id, p.order_id, p.amount, p.currency,
               coalesce(m.rules, CAST([] AS VARCHAR[])) AS rules
        FROM picked AS p
        LEFT JOIN ({rules_sql(con)}) AS m ON m.item = p.id
        ORDER BY p.ts, p.kind_rank, p.event, p.id"""
    return sql, params


def check_arguments(account: str | None, customer: str | None, since: datetime | None,
                    until: datetime | None, kinds: Sequence[str], limit: int | None) -> None:
    # Arguments are named as {name}: the CLI words them as its flags (errors.py).
    if account is not None and customer is not None:
        raise UsageError("give {account} or {customer}, not both",
                         arguments=("account", "customer"))
    if account is None and customer is None and since is None and until is None:
        raise UsageError("a timeline needs {account}, {customer}, or a time range "
                         "({since}/{until})", arguments=("account", "customer", "since", "until"))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"unknown kind {', '.join(unknown)}; use one of: {', '.join(KINDS)}")
    if since is not None and until is not None and until <= since:
        raise UsageError(f"{{until}} {iso_utc(until)} is not after {{since}} {iso_utc(since)}",
                         arguments=("until", "since"))
    if limit is not None and limit < 0:
        raise UsageError(f"{{limit}} {limit} is negative; use 0 for no limit",
                         arguments=("limit",))


def empty_timeline() -> pl.DataFrame:
    schema: dict[str, Any] = {c: pl.String for c in COLUMNS}
    schema.update(ts=pl.Datetime("us", "UTC"), amount=pl.Decimal(18, 4),
                  rules=pl.List(pl.String))
    return pl.DataFrame(schema=schema)


def timeline_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Timeline rows for JSON: ISO times with Z, amounts as exact decimal strings."""
    return [
        {**row, "ts": iso_utc(row["ts"]), "amount": decimal_text(row["amount"]),
         "rules": list(row["rules"] or [])}
        for row in frame.select(COLUMNS).iter_rows(named=True)
    ]
