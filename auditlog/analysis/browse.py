"""What can be traced: the changes and the accounts the logs hold, each with what the
attribution blames on it, so an investigator can pick the id `trace change` or `trace
account` takes; and the nearest known ids when one is mistyped.

Lists are typed records (a `Listing` of `ChangeEntry` or `AccountEntry`) with the total
before the cut, so a reader can say "showing 50 of 1,204". Every filter is a bound
parameter; the anomalous charges come from the shared views (attribution.md), the same
ones the traces read, so a list and a trace cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from auditlog.analysis.money import CurrencyMoney, currency_money
from auditlog.engines.sandbox import install_shared_views
from auditlog.errors import UsageError
from auditlog.values import as_json


@dataclass(frozen=True)
class ChangeEntry:
    """A change as its record says, with the anomalous charges blamed on it."""

    change_id: str
    system: str | None
    kind: str | None
    status: str | None
    implementer: str | None
    approver: str | None
    ticket: str | None
    started_at: datetime | None
    finished_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    summary: str | None
    anomalous_charges: int
    customers: int


@dataclass(frozen=True)
class AccountEntry:
    """An operator, service or system account: what it did, what it held, what it cost.
    Customers (the accounts the charges bill) are listed only when asked for."""

    account: str
    account_type: str | None
    display_name: str | None
    team: str | None
    actions: int
    systems: tuple[str, ...]
    first: datetime | None
    last: datetime | None
    grants: int
    anomalous_charges: int


@dataclass(frozen=True)
class Listing:
    """`shown` of `total` entries matching the filters; `by_currency` is the money of the
    anomalous charges of the entries shown, per currency."""

    total: int
    entries: tuple[ChangeEntry, ...] | tuple[AccountEntry, ...]
    by_currency: tuple[CurrencyMoney, ...]

    def as_json(self, name: str) -> dict[str, Any]:
        return {"total": self.total, "shown": len(self.entries),
                name: as_json(self.entries), "by_currency": as_json(self.by_currency)}


def check_bounds(since: datetime | None, until: datetime | None, limit: int | None) -> None:
    if since is not None and until is not None and until <= since:
        raise UsageError("{until} is not after {since}", arguments=("until", "since"))
    if limit is not None and limit < 0:
        raise UsageError(f"{{limit}} {limit} is negative", arguments=("limit",))


CHANGES_SQL = """
    WITH blamed AS (
        SELECT change_id, count(*) AS charges, count(DISTINCT account) AS customers
        FROM anomalous_charges WHERE change_id IS NOT NULL GROUP BY change_id),
    picked AS (
        SELECT c.change_id, c.system, c.kind, c.status, c.implementer, c.approver, c.ticket,
               c.started_at, c.finished_at, c.window_start, c.window_end, c.summary,
               coalesce(b.charges, 0) AS anomalous_charges,
               coalesce(b.customers, 0) AS customers
        FROM changes AS c LEFT JOIN blamed AS b USING (change_id)
        WHERE ($system IS NULL OR c.system = $system)
          AND ($account IS NULL OR $account IN (c.implementer, c.approver))
          AND ($since IS NULL OR c.started_at >= $since)
          AND ($until IS NULL OR c.started_at < $until)
          AND (NOT $anomalous OR b.charges > 0))
    SELECT *, count(*) OVER () AS total FROM picked
    ORDER BY started_at NULLS LAST, change_id
    LIMIT $limit"""


def list_changes(con: duckdb.DuckDBPyConnection, *, system: str | None = None,
                 account: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, anomalous: bool = False,
                 limit: int | None = None) -> Listing:
    """Changes started in [since, until) on `system`, implemented or approved by
    `account`, only those blamed for anomalous charges if `anomalous`; in time order, at
    most `limit` (None: all)."""
    check_bounds(since, until, limit)
    install_shared_views(con)
    rows = con.execute(CHANGES_SQL, {
        "system": system, "account": account, "since": since, "until": until,
        "anomalous": anomalous, "limit": 2**62 if limit is None else limit}).fetchall()
    entries = tuple(ChangeEntry(*row[:-1]) for row in rows)
    ids = [e.change_id for e in entries if e.anomalous_charges]
    money = currency_money(con, "list_contains(?, change_id)", [ids]) if ids else []
    return Listing(rows[0][-1] if rows else count_matching(con, CHANGES_SQL, {
        "system": system, "account": account, "since": since, "until": until,
        "anomalous": anomalous}), entries, tuple(money))


# Customers are the accounts charges bill; an actor typed `customer`, or untyped and
# billed while absent from the accounts directory, is one.
ACCOUNTS_SQL = """
    WITH billed AS (SELECT DISTINCT account FROM charges),
    directory AS (SELECT account, any_value(account_type) AS account_type,
                         any_value(display_name) AS display_name, any_value(team) AS team
                  FROM accounts GROUP BY account),
    acted AS (
        SELECT actor AS account, any_value(actor_type) AS actor_type, count(*) AS actions,
               list_sort(list_distinct(list(system) FILTER (WHERE system IS NOT NULL)))
                   AS systems,
               min(ts) AS first, max(ts) AS last
        FROM actions
        WHERE actor IS NOT NULL
          AND ($system IS NULL OR system = $system)
          AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
        GROUP BY actor),
    held AS (
        SELECT subject AS account, count(*) AS grants FROM privileges
        WHERE operation = 'grant'
          AND ($system IS NULL OR system = $system)
          AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
        GROUP BY subject),
    caused AS (
        SELECT actor AS account, count(*) AS charges FROM anomalous_charges
        WHERE actor IS NOT NULL
          AND ($system IS NULL OR cause_system = $system)
          AND ($since IS NULL OR cause_time >= $since)
          AND ($until IS NULL OR cause_time < $until)
        GROUP BY actor),
    everyone AS (
        SELECT account FROM acted UNION SELECT account FROM held
        UNION SELECT account FROM caused
        UNION SELECT account FROM directory
        WHERE $system IS NULL AND $since IS NULL AND $until IS NULL),
    picked AS (
        SELECT e.account, coalesce(d.account_type, a.actor_type) AS account_type,
               d.display_name, d.team, coalesce(a.actions, 0) AS actions,
               coalesce(a.systems, CAST([] AS VARCHAR[])) AS systems, a.first, a.last,
               coalesce(h.grants, 0) AS grants, coalesce(c.charges, 0) AS anomalous_charges
        FROM everyone AS e
        LEFT JOIN directory AS d USING (account) LEFT JOIN acted AS a USING (account)
        LEFT JOIN held AS h USING (account) LEFT JOIN caused AS c USING (account)
        WHERE ($customers OR NOT (coalesce(d.account_type, a.actor_type, '') = 'customer'
               OR (coalesce(d.account_type, a.actor_type) IS NULL AND d.account IS NULL
                   AND e.account IN (SELECT account FROM billed))))
          AND ($type IS NULL OR coalesce(d.account_type, a.actor_type) = $type)
          AND (NOT $anomalous OR c.charges > 0))
    SELECT *, count(*) OVER () AS total FROM picked
    ORDER BY anomalous_charges DESC, actions DESC, account
    LIMIT $limit"""


def list_accounts(con: duckdb.DuckDBPyConnection, *, system: str | None = None,
                  account_type: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, anomalous: bool = False,
                  customers: bool = False, limit: int | None = None) -> Listing:
    """Accounts that acted, were granted privileges or caused anomalous charges (on
    `system`, in [since, until)), or, without those filters, that the directory holds;
    those that caused anomalous charges first, then the busiest; at most `limit`."""
    check_bounds(since, until, limit)
    install_shared_views(con)
    params = {"system": system, "type": account_type, "since": since, "until": until,
              "anomalous": anomalous, "customers": customers}
    rows = con.execute(ACCOUNTS_SQL, {**params, "limit": 2**62 if limit is None else limit}
                       ).fetchall()
    entries = tuple(AccountEntry(account, kind, name, team, actions, tuple(systems), first,
                                 last, grants, charges)
                    for account, kind, name, team, actions, systems, first, last, grants,
                    charges, _total in rows)
    names = [e.account for e in entries if e.anomalous_charges]
    money = currency_money(con, "list_contains(?, actor)", [names]) if names else []
    total = rows[0][-1] if rows else count_matching(con, ACCOUNTS_SQL, params)
    return Listing(total, entries, tuple(money))


def count_matching(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> int:
    """The entries matching when the page is empty (a limit of 0): the count without it."""
    row = con.execute(f"SELECT count(*) FROM ({sql})", {**params, "limit": 2**62}).fetchone()
    return int(row[0]) if row else 0


def nearest(con: duckdb.DuckDBPyConnection, table: str, column: str, value: str,
            count: int = 3) -> list[str]:
    """The known values of `table.column` closest to a mistyped `value` (edit distance
    at most a third of its length, at least 2) that are nearest; of those, first
    those it begins (an id cut short when copied), then the most alike."""
    limit = max(2, len(value) // 3)
    rows = con.execute(
        f"""
        SELECT {column} AS v, min(levenshtein({column}, $value)) AS d
        FROM {table} WHERE {column} IS NOT NULL
          AND abs(length({column}) - length($value)) <= $limit
        GROUP BY {column} HAVING min(levenshtein({column}, $value)) <= $limit
        ORDER BY d, starts_with(v, $value) DESC,
                 jaro_winkler_similarity(v, $value) DESC, v
        LIMIT $count""",
        {"value": value, "limit": limit, "count": count}).fetchall()
    best = min((row[1] for row in rows), default=None)
    return [row[0] for row in rows if row[1] == best]


def nearest_account(con: duckdb.DuckDBPyConnection, account: str) -> list[str]:
    """The known accounts (actors, grantees, the directory) nearest a mistyped name."""
    found = {name for table, column in (("actions", "actor"), ("privileges", "subject"),
                                        ("accounts", "account"))
             for name in nearest(con, table, column, account)}
    return sorted(found)[:3]


def did_you_mean(candidates: list[str]) -> str:
    """' (did you mean A, B or C?)', or nothing without candidates."""
    if not candidates:
        return ""
    names = candidates[0] if len(candidates) == 1 else (
        f"{', '.join(candidates[:-1])} or {candidates[-1]}")
    return f" (did you mean {names}?)"

