"""Ids that name the same thing across logs but are spelled differently: a join that
fails exactly and would succeed once case, leading zeros of a number, a Windows
`DOMAIN\\` prefix or an email's `@domain` are ignored (C0042 / c0042, 0042 / 42,
JDOE / jdoe@corp.example, CORP\\jdoe / jdoe).

auditlog matches ids exactly (case may matter, and the contract forbids merging rows
silently), so such ids are only found and told, never folded. One statement over the
stored tables: each id column is read once, grouped to its distinct values, and only
the values that miss exactly are folded and looked up again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import duckdb

from auditlog.sqltext import sql_string
from auditlog.store.attribution import table_exists

# meta's key for what the latest run found: `status` reads it instead of scanning the
# logs again (a run reads every row anyway; a status is a look-up, issue 14).
META_KEY = "id_spellings"

# The differences ignored, in the order they are taken off an id.
DOMAIN, EMAIL, CASE, ZEROS = "domain", "email", "case", "zeros"
STEPS = (DOMAIN, EMAIL, CASE, ZEROS)
IGNORED = {CASE: "case", ZEROS: "leading zeros", DOMAIN: "a DOMAIN\\ prefix",
           EMAIL: "an email domain"}


@dataclass(frozen=True)
class Join:
    """One join the answers rely on: ids of `left` that should be found among `right`."""

    name: str
    left: str    # SQL: rows (id) of the side that names the id, one per row
    right: str   # SQL: rows (id) of the side that holds it
    left_kind: str
    right_kind: str


JOINS = (
    Join("charge_order", "SELECT order_id AS id FROM charges",
         "SELECT order_id AS id FROM actions", "charges", "actions"),
    Join("charge_account", "SELECT account AS id FROM charges",
         "SELECT target_account AS id FROM actions UNION ALL SELECT actor FROM actions",
         "charges", "actions"),
    Join("refund_of", "SELECT refund_of AS id FROM charges",
         "SELECT charge_id AS id FROM charges", "charges", "charges"),
    Join("actor_privileges", "SELECT actor AS id FROM actions",
         "SELECT subject AS id FROM privileges", "actions", "privileges"),
    Join("change_accounts",
         "SELECT implementer AS id FROM changes UNION ALL SELECT approver FROM changes",
         "SELECT account AS id FROM accounts", "changes", "accounts"),
    Join("actor_accounts", "SELECT actor AS id FROM actions",
         "SELECT account AS id FROM accounts", "actions", "accounts"),
)


@dataclass(frozen=True)
class Misspelled:
    """Ids of one join that match only in another spelling: how many distinct ids, on
    how many rows of the naming side, one example pair, and what had to be ignored."""

    join: str
    ids: int
    rows: int
    example: str
    match: str
    ignored: tuple[str, ...]

    def ignored_text(self) -> str:
        words = [IGNORED[step] for step in IGNORED if step in self.ignored]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def folded(column: str, skip: str | None = None) -> str:
    """SQL for `column` with every difference of STEPS taken off but `skip`."""
    expr = column
    if skip != DOMAIN:  # CORP\jdoe -> jdoe
        expr = (f"CASE WHEN strpos({expr}, chr(92)) > 0 "
                f"THEN substr({expr}, strpos({expr}, chr(92)) + 1) ELSE {expr} END")
    if skip != EMAIL:  # jdoe@corp.example -> jdoe
        expr = (f"CASE WHEN strpos({expr}, '@') > 1 "
                f"THEN substr({expr}, 1, strpos({expr}, '@') - 1) ELSE {expr} END")
    if skip != CASE:
        expr = f"lower({expr})"
    if skip != ZEROS:  # 0042 -> 42, only for an id of digits alone
        expr = (f"CASE WHEN regexp_matches({expr}, '^[0-9]+$') "
                f"THEN coalesce(nullif(ltrim({expr}, '0'), ''), '0') ELSE {expr} END")
    return expr


def _qualifier(column: str, mark: str, before: bool) -> str:
    """The domain an id carries (before a backslash, after an @), '' when none."""
    at = f"strpos({column}, {mark})"
    part = f"substr({column}, 1, {at} - 1)" if before else f"substr({column}, {at} + 1)"
    return f"CASE WHEN {at} > 0 THEN lower({part}) ELSE '' END"


def _join_sql(join: Join) -> str:
    name = sql_string(join.name)
    left, right = "m.id", "r.id"
    # Two ids each qualified by a domain, the domains different, are two accounts.
    same_domains = " AND ".join(
        f"({_qualifier(left, mark, before)} = '' OR {_qualifier(right, mark, before)} = '' "
        f"OR {_qualifier(left, mark, before)} = {_qualifier(right, mark, before)})"
        for mark, before in (("chr(92)", True), ("'@'", False)))
    flags = ", ".join(f"bool_or({folded(left, step)} <> {folded(right, step)}) AS {step}_needed"
                      for step in STEPS)
    # Per id that misses: its nearest spelling and what had to be ignored; then per join.
    return f"""
    SELECT {name} AS name, count(*) AS ids, sum(n) AS n, min(id) AS example,
           min_by(match, id) AS match, {", ".join(f"bool_or({s}_needed)" for s in STEPS)}
    FROM (SELECT m.id, m.n, min(r.id) AS match, {flags}
          FROM misses_{join.name} m
          JOIN (SELECT id, {folded('id')} AS key FROM right_{join.name}) r
            ON r.key = m.key AND r.id <> m.id
          WHERE {same_domains}
          GROUP BY m.id, m.n)"""


def _ctes(join: Join) -> str:
    return f"""
    left_{join.name} AS (SELECT id, count(*) AS n FROM ({join.left}) WHERE id IS NOT NULL
                         GROUP BY id),
    right_{join.name} AS (SELECT DISTINCT id FROM ({join.right}) WHERE id IS NOT NULL),
    misses_{join.name} AS (
        SELECT id, n, {folded('id')} AS key FROM left_{join.name}
        WHERE id NOT IN (SELECT id FROM right_{join.name}))"""


def id_spellings_sql() -> str:
    ctes = ",".join(_ctes(j) for j in JOINS)
    return f"WITH {ctes}\n" + "\nUNION ALL".join(_join_sql(j) for j in JOINS)


def misspelled_ids(con: duckdb.DuckDBPyConnection) -> list[Misspelled]:
    """Per join of JOINS whose ids match only in another spelling, what was found, in
    JOINS' order; none when every id either matches exactly or not at all."""
    found = {}
    for name, ids, rows, example, match, *flags in con.execute(id_spellings_sql()).fetchall():
        if not ids:
            continue
        ignored = tuple(step for step, flag in zip(STEPS, flags, strict=True) if flag)
        found[name] = Misspelled(name, int(ids), int(rows), example, match, ignored)
    return [found[j.name] for j in JOINS if j.name in found]


def record_id_spellings(con: duckdb.DuckDBPyConnection, found: list[Misspelled]) -> None:
    """Keep what a run found for `status` (in the run's transaction)."""
    con.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)",
                {"k": META_KEY, "v": json.dumps([asdict(f) for f in found])})


def recorded_id_spellings(con: duckdb.DuckDBPyConnection) -> list[Misspelled]:
    """What the latest run found; nothing before any run."""
    if not table_exists(con, "meta"):
        return []
    rows = con.execute("SELECT value FROM meta WHERE key = $k", {"k": META_KEY}).fetchall()
    if not rows:
        return []
    return [Misspelled(**(f | {"ignored": tuple(f["ignored"])}))
            for f in json.loads(rows[0][0])]
