"""Refreshing the stored attribution for the rows an ingest brought or a forget took away,
instead of recomputing the whole model (issue 14).

The stored tables (store/attribution.py) are the shared views computed over all the data,
but each row of them depends on a small part of it, which the views' SQL fixes:

  charge_causes      a charge's causes depend on its *group*, the charges and order actions
                     of its (account, product), and on the rows that share an order_id
                     with a row of the group (its order's actions, whether that order is
                     named by a charge, the customer's own actions on it);
  charge_refunds     a charge's refunds: the refund rows naming it, and its own row;
  change_blame       an (actor, system): the anomalous charge_causes of the actor on the
                     system, whether the actor is a service account, the system's changes;
  anomalous_charges  a charge: its charge_causes row, its blame, its refunds;
  privilege_grants   a (subject, privilege, system): that privilege's grants and revokes.

So for the rows that came or went (their keys captured by `capture`, before a forget
deletes them, after an ingest loads them) only the groups, charges, pairs and privileges
they reach are recomputed, with the views' own SQL: the raw tables are shadowed, for the
length of one step, by TEMP tables holding just the rows those parts read (DuckDB
resolves a TEMP table before the database's table of the same name), the stored rows of
those parts are deleted and the recomputed ones inserted. The answer is the one a full
computation gives (tests/test_refresh_incremental.py compares them on generated worlds).

`dependencies_hold` guards the reasoning above: it is only valid while each stored view
reads the tables and views listed in EXPECTED_READS; when the SQL changes what a view
reads, the caller recomputes everything instead (and that test says to look here).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import duckdb

from auditlog.sqltext import quote_ident, sql_string
from auditlog.store.attribution import (
    KEYED_VIEWS,
    STATE_TABLE,
    View,
    fingerprint,
    key_name,
    stored_name,
    table_exists,
)


class Unit(View, Protocol):
    """A shared view with what it reads (pack.units.SqlUnit is one)."""

    @property
    def reads(self) -> frozenset[str]: ...


# What each stored view reads, through the views it is built on, as far as the raw tables:
# the partition keys above are derived from these, and from the joins of their SQL.
EXPECTED_READS: dict[str, frozenset[str]] = {
    "charge_causes": frozenset({"sale_charges", "order_causes", "unordered_causes",
                                "order_actions", "model_params", "charges", "actions"}),
    "charge_refunds": frozenset({"charges"}),
    "change_blame": frozenset({"charge_causes", "service_accounts", "changes", "accounts",
                               "actions", "model_params"}),
    "anomalous_charges": frozenset({"charge_causes", "change_blame", "charge_refunds"}),
    "privilege_grants": frozenset({"privileges"}),
}
# The units a stored view is recomputed from when the views below it are taken as given
# (change_blame over stored charge_causes, anomalous_charges over the stored three).
TAKEN_AS_STORED = {"change_blame": ("charge_causes",),
                   "anomalous_charges": ("charge_causes", "change_blame", "charge_refunds")}

# The keys of the rows that came or went, per raw table (TEMP tables of the connection).
DELTA_COLUMNS: dict[str, str] = {
    "charges": "charge_id, account, product, order_id, refund_of",
    "actions": "coalesce(target_account, actor) AS customer, object, order_id, actor, "
               "actor_type",
    "privileges": "subject, privilege, coalesce(system, '') AS system_key",
    "changes": "system",
    "accounts": "account",
}
PREFIX = "_refresh_"

# Above this share of the charges in the part to recompute, the whole model is cheaper.
FULL_SHARE = 0.25
# Up to this many keys a list is written into the SQL as literals; more go in a table.
LITERAL_MAX = 20_000


def delta_table(raw: str) -> str:
    return f"{PREFIX}delta_{raw}"


def transitive_reads(units: Sequence[Unit], name: str,
                     stop: Sequence[str] = ()) -> frozenset[str]:
    """Every unit and table `name` reads, through the units it reads, not past `stop`."""
    by_name = {unit.name: unit for unit in units}
    seen: set[str] = set()
    todo = list(by_name[name].reads)
    while todo:
        read = todo.pop()
        if read in seen:
            continue
        seen.add(read)
        if read in by_name and read not in stop:
            todo.extend(by_name[read].reads)
    return frozenset(seen)


def dependencies_hold(units: Sequence[Unit]) -> bool:
    """Whether each stored view reads exactly what the partition keys were derived from."""
    names = {unit.name for unit in units}
    if not set(EXPECTED_READS) <= names:
        return False
    return all(transitive_reads(units, view, TAKEN_AS_STORED.get(view, ())) == reads
               for view, reads in EXPECTED_READS.items())


def capture(con: duckdb.DuckDBPyConnection, shas: Sequence[str]) -> None:
    """Remember the keys (DELTA_COLUMNS) of every row stored from the files `shas`: call
    it after an ingest loaded them, or before a forget removes them. Appends."""
    for raw, columns in DELTA_COLUMNS.items():
        con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {delta_table(raw)} AS "
                    f"SELECT {columns} FROM {raw} LIMIT 0")
        if shas and table_exists(con, raw):  # literals: the scan reads _file alone
            files = ", ".join(sql_string(sha) for sha in sorted(set(shas)))
            con.execute(f"INSERT INTO {delta_table(raw)} SELECT {columns} FROM {raw} "
                        f"WHERE _file IN ({files})")


def forget_captured(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every TEMP table of a refresh (captured keys, parts, shadows)."""
    rows = con.execute("SELECT table_name FROM information_schema.tables "
                       "WHERE table_schema = 'main' AND table_catalog = 'temp' "
                       "AND starts_with(table_name, ?)", [PREFIX]).fetchall()
    for (name,) in rows:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")


@dataclass(frozen=True)
class Refreshed:
    """What an incremental refresh recomputed: stored rows replaced, per stored view."""

    groups: int
    rows: Mapping[str, int]


class TooLarge(Exception):
    """The rows that came or went reach too much of the data: recompute it all."""


def refresh_captured(con: duckdb.DuckDBPyConnection, units: Sequence[Unit]) -> Refreshed:
    """Bring the stored tables up to date for the captured rows, inside the caller's
    transaction, and store the fingerprint of the data as it is now. Only valid when the
    stored tables reflected the data before those rows came or went (the caller checked
    it then) and dependencies_hold(units); TooLarge when recomputing all is cheaper."""
    refresher = Refresher(con, units)
    try:
        counts = refresher.run()
    finally:
        refresher.drop_shadows()
    con.execute(f"CREATE OR REPLACE TABLE {STATE_TABLE} AS "
                "SELECT CAST(? AS VARCHAR) AS fingerprint, now() AS computed_at",
                [fingerprint(con, units)])
    return Refreshed(groups=refresher.groups, rows=counts)


class Refresher:
    """One refresh: the steps, in the order the stored views are built on one another.

    Each raw table is read twice at most: once for the row ids of what a step needs,
    by IN lists of literal keys on a few of its columns (the scan applies them, reading
    those columns only), then for those rows whole, by row id. A join on the keys
    instead would read every column of every row: seconds at 10M rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, units: Sequence[Unit]) -> None:
        self.con = con
        self.units = list(units)
        ((catalog,),) = con.execute("SELECT current_database()").fetchall()
        self.catalog = quote_ident(str(catalog))
        self.shadows: list[str] = []
        self.views: list[str] = []
        self.lists = 0
        # What one step finds and the next reads (each set by the step named).
        self.groups = 0  # charge_causes: the groups recomputed
        self.accounts: list[str] = []  # charge_causes: their accounts
        self.stored_in_groups = "false"  # charge_causes: a stored row (s) of a group
        self.refunded: list[str] = []  # charge_refunds: the charges refunded anew
        self.pair_actors: list[str] = []  # change_blame: the actors of the pairs
        self.stored_in_pairs = "false"  # change_blame: a stored charge_causes row of one

    # --- helpers ---

    def raw(self, table: str) -> str:
        """The database's own table, never a shadow of it."""
        return f"{self.catalog}.main.{table}"

    def sql(self, statement: str, params: Mapping[str, object] | None = None) -> None:
        self.con.execute(statement, params or {})

    def count(self, statement: str) -> int:
        ((n,),) = self.con.execute(statement).fetchall()
        return int(n)

    def values(self, select: str) -> list[str]:
        """The distinct values of a one-column SELECT, NULL left out."""
        rows = self.con.execute(f"SELECT DISTINCT v FROM ({select}) AS q(v) "
                                "WHERE v IS NOT NULL ORDER BY v").fetchall()
        return [str(r[0]) for r in rows]

    def any_in(self, *tests: tuple[str, Sequence[object]]) -> str:
        """`column IN (values)` for each (column, values), joined by OR; false for none.
        Up to LITERAL_MAX values are literals, which the scan applies itself."""
        parts = []
        for column, values in tests:
            if not values:
                continue
            if len(values) <= LITERAL_MAX:
                literals = ", ".join(str(v) if isinstance(v, int) else sql_string(str(v))
                                     for v in values)
                parts.append(f"{column} IN ({literals})")
            else:
                self.lists += 1
                name = f"{PREFIX}list{self.lists}"
                self.sql(f"CREATE TEMP TABLE {name} AS SELECT unnest($v) AS v",
                         {"v": list(values)})
                parts.append(f"{column} IN (SELECT v FROM {name})")
        return "(" + " OR ".join(parts) + ")" if parts else "false"

    def rows_of(self, table: str, keys: str, exact: str = "true") -> str:
        """A SELECT of the rows of raw `table` (as c) that `keys` (any_in) and `exact`
        keep, by their row ids."""
        if keys == "false":
            return f"SELECT * FROM {self.raw(table)} LIMIT 0"
        ids = [int(r[0]) for r in self.con.execute(
            f"SELECT c.rowid FROM {self.raw(table)} AS c WHERE {keys} AND ({exact})").fetchall()]
        return f"SELECT * FROM {self.raw(table)} WHERE {self.any_in(('rowid', ids))}"

    def temp(self, name: str, select: str) -> None:
        self.sql(f"CREATE OR REPLACE TEMP TABLE {PREFIX}{name} AS {select}")

    @contextmanager
    def shadowed(self, view: str, tables: Mapping[str, str],
                 stored: Mapping[str, str]) -> Iterator[None]:
        """The raw `tables` shadowed by TEMP tables of the rows each SELECT keeps, and
        `view` with the units it reads as TEMP views over them, those in `stored` given
        as bodies (over stored tables) instead of their SQL."""
        for table, select in tables.items():
            self.sql(f"CREATE TEMP TABLE {table} AS {select}")
            self.shadows.append(table)
        try:
            needed = transitive_reads(self.units, view, tuple(stored)) | {view}
            for unit in self.units:
                if unit.name in needed:
                    body = stored.get(unit.name, unit.sql.strip().rstrip(";"))
                    self.sql(f"CREATE OR REPLACE TEMP VIEW {unit.name} AS\n{body}\n")
                    self.views.append(unit.name)
            yield
        finally:
            self.drop_shadows()

    def drop_shadows(self) -> None:
        for name in reversed(self.views):
            self.sql(f"DROP VIEW IF EXISTS temp.{name}")
        self.views.clear()
        for table in reversed(self.shadows):
            self.sql(f"DROP TABLE IF EXISTS temp.{table}")
        self.shadows.clear()

    def replace(self, view: str, delete_where: str, new_rows: str | None) -> int:
        """Delete the stored rows of `view` that `delete_where` names (the alias is s),
        insert `new_rows` (a TEMP table) sorted by the view's look-up key (one of
        KEYED_VIEWS by its locator, and its key table's rows of the keys deleted or
        inserted derived again from the stored table)."""
        from auditlog.store.attribution import STORED_VIEWS

        table = stored_name(view)
        keyed = view in KEYED_VIEWS and table_exists(self.con, key_name(view))
        if keyed:
            key, locator = KEYED_VIEWS[view]
            inserted = f" UNION ALL SELECT {key}, {locator} FROM {new_rows}" if new_rows else ""
            self.temp(f"{view}_keys", f"SELECT {key} AS v, {locator} AS loc FROM {table} AS s "
                                      f"WHERE {delete_where}{inserted}")
        self.sql(f"DELETE FROM {table} AS s WHERE {delete_where}")
        if new_rows is not None:
            order = KEYED_VIEWS[view][1] if view in KEYED_VIEWS else STORED_VIEWS[view]
            self.sql(f"INSERT INTO {table} BY NAME SELECT * FROM {new_rows} ORDER BY {order}")
        if keyed:
            self.rekey(view, f"{PREFIX}{view}_keys")
        return self.count(f"SELECT count(*) FROM {new_rows}") if new_rows is not None else 0

    def located(self, view: str, keys: Sequence[object], at: str | None = None) -> str:
        """A WHERE clause for the stored rows of `view` (one of KEYED_VIEWS) whose key is
        one of `keys`: the key, and the locator's values of those keys in its key table
        (and those `at` selects, of rows not in it), which the zone maps of the stored
        table prune (it keeps the charges' time order), as a trace's cause_row does. The
        key alone without a key table, or with a NULL locator (it cannot filter then)."""
        key, locator = KEYED_VIEWS[view]
        where = self.any_in((key, keys))
        if where == "false" or not table_exists(self.con, key_name(view)):
            return where
        extra = f" UNION SELECT v FROM ({at}) AS a(v)" if at else ""
        ((n, nulls, values),) = self.con.execute(f"""
            SELECT count(*), count(*) - count(v), list(CAST(v AS VARCHAR) ORDER BY v) FROM (
                SELECT {locator} AS v FROM {key_name(view)} WHERE {where}{extra}) AS q
            """).fetchall()
        if nulls or n > LITERAL_MAX:
            return where  # a NULL cannot filter; a list that long is a join, pruning nothing
        if not n:
            return "false"
        literals = ", ".join(f"CAST({sql_string(v)} AS TIMESTAMPTZ)" for v in values)
        return f"({where} AND {locator} IN ({literals}))"

    def rekey(self, view: str, keys: str) -> None:
        """The key table's rows of the keys in `keys` (a TEMP table of v, the key, and loc,
        the locator of a row deleted or inserted) derived again from the stored table, so
        that it stays the stored table's (key, locator). The stored rows of those keys are
        found by key and locator: those the key table held and those inserted."""
        key, locator = KEYED_VIEWS[view]
        values = self.values(f"SELECT v FROM {keys}")
        where = self.any_in((key, values))
        if self.count(f"SELECT count(*) FROM {keys} WHERE v IS NULL"):
            where = f"({where} OR {key} IS NULL)"
            stored = where  # NULL keys: the key table is no help
        else:
            stored = self.located(view, values, f"SELECT loc FROM {keys}")
        self.sql(f"DELETE FROM {key_name(view)} WHERE {where}")
        self.sql(f"INSERT INTO {key_name(view)} SELECT {key}, {locator} "
                 f"FROM {stored_name(view)} WHERE {stored} ORDER BY {key}")

    # --- the steps ---

    def run(self) -> dict[str, int]:
        d = {raw: delta_table(raw) for raw in DELTA_COLUMNS}
        if not any(self.count(f"SELECT count(*) FROM {t}") for t in d.values()):
            return {}
        counts = {"charge_causes": self.charge_causes(d)}
        counts["charge_refunds"] = self.charge_refunds(d)
        counts["change_blame"] = self.change_blame(d)
        counts["anomalous_charges"] = self.anomalous_charges()
        counts["privilege_grants"] = self.privilege_grants(d)
        return counts

    def charge_causes(self, d: Mapping[str, str]) -> int:
        p, causes = PREFIX, stored_name("charge_causes")
        # The groups the rows reach: their own, and those of the rows sharing an order
        # id with one of them.
        orders = self.values(f"SELECT order_id FROM {d['charges']} "
                             f"UNION ALL SELECT order_id FROM {d['actions']}")
        sharing = self.any_in(("order_id", orders))
        self.temp("groups", f"""
            SELECT DISTINCT account, product FROM (
                SELECT account, product FROM {d['charges']}
                UNION ALL SELECT customer, object FROM {d['actions']}
                UNION ALL SELECT account, product FROM {self.raw('charges')} WHERE {sharing}
                UNION ALL SELECT coalesce(target_account, actor), object
                    FROM {self.raw('actions')} WHERE {sharing}) AS g
            WHERE account IS NOT NULL AND product IS NOT NULL""")
        self.groups = self.count(f"SELECT count(*) FROM {p}groups")
        self.accounts = self.values(f"SELECT account FROM {p}groups")
        in_groups = (f"EXISTS (SELECT 1 FROM {p}groups AS g "
                     "WHERE g.account = {a} AND g.product = {b})")
        charge_keys = self.any_in(("account", self.accounts))
        charge_in = in_groups.format(a="c.account", b="c.product")
        action_keys = self.any_in(("target_account", self.accounts), ("actor", self.accounts))
        action_in = in_groups.format(a="coalesce(c.target_account, c.actor)", b="c.object")
        self.stored_in_groups = (f"{self.any_in(('s.account', self.accounts))} AND "
                                 + in_groups.format(a="s.account", b="s.product"))
        self.temp("causes_before", f"SELECT s.charge_id, s.actor, s.cause_system FROM "
                                   f"{causes} AS s WHERE s.anomalous AND {self.stored_in_groups}")
        if not self.groups:
            self.temp("causes", f"SELECT * FROM {causes} LIMIT 0")
            return 0
        # What the groups' charges are computed from: the groups' rows and every row
        # sharing an order id with one of them.
        group_orders = self.values(f"""
            SELECT order_id FROM {self.raw('charges')} AS c WHERE {charge_keys} AND {charge_in}
            UNION ALL
            SELECT order_id FROM {self.raw('actions')} AS c WHERE {action_keys} AND {action_in}""")
        reach = self.any_in(("order_id", group_orders))
        shadows = {"charges": self.rows_of("charges", f"({charge_keys} OR {reach})",
                                           f"{charge_in} OR {reach}"),
                   "actions": self.rows_of("actions", f"({action_keys} OR {reach})",
                                           f"{action_in} OR {reach}")}
        with self.shadowed("charge_causes", shadows, {}):
            total = self.count(f"SELECT count(*) FROM {self.raw('charges')}")
            if self.count("SELECT count(*) FROM temp.charges") > FULL_SHARE * max(total, 1):
                raise TooLarge
            self.temp("causes", "SELECT v.* FROM charge_causes AS v WHERE "
                                + in_groups.format(a="v.account", b="v.product"))
        return self.replace("charge_causes", self.stored_in_groups, f"{p}causes")

    def charge_refunds(self, d: Mapping[str, str]) -> int:
        p = PREFIX
        # The charges refunded anew, and those come or gone that a refund names: only a
        # refund to the charge's account and in its currency counts, so the charge's own
        # row decides too.
        self.refunded = self.values(f"""
            SELECT refund_of FROM {d['charges']}
            UNION ALL SELECT d.charge_id FROM {d['charges']} AS d
            WHERE d.charge_id IN (SELECT refund_of FROM {self.raw('charges')})""")
        if not self.refunded:
            return 0
        keys = self.any_in(("refund_of", self.refunded), ("charge_id", self.refunded))
        shadows = {"charges": self.rows_of("charges", keys)}
        with self.shadowed("charge_refunds", shadows, {}):
            self.temp("refunds", "SELECT * FROM charge_refunds")
        return self.replace("charge_refunds", self.any_in(("s.charge_id", self.refunded)),
                            f"{p}refunds")

    def change_blame(self, d: Mapping[str, str]) -> int:
        p, causes = PREFIX, stored_name("charge_causes")
        # The (actor, system) pairs whose blame may move: those of the recomputed
        # groups' anomalous charges, before and after, and every pair of an actor whose
        # service status may have changed or on a system whose changes did.
        status = self.values(f"SELECT actor FROM {d['actions']} WHERE actor_type = 'service' "
                             f"UNION ALL SELECT account FROM {d['accounts']}")
        systems = self.values(f"SELECT system FROM {d['changes']}")
        reached = self.any_in(("s.actor", status), ("s.cause_system", systems))
        self.temp("pairs", f"""
            SELECT DISTINCT actor, system FROM (
                SELECT actor, cause_system AS system FROM {p}causes_before
                UNION ALL SELECT actor, cause_system FROM {p}causes WHERE anomalous
                UNION ALL SELECT s.actor, s.cause_system FROM {causes} AS s
                WHERE s.anomalous AND {reached}) AS q
            WHERE actor IS NOT NULL AND system IS NOT NULL""")
        self.pair_actors = self.values(f"SELECT actor FROM {p}pairs")
        if not self.pair_actors:
            self.stored_in_pairs = "false"
            return 0
        in_pairs = (f"EXISTS (SELECT 1 FROM {p}pairs AS q "
                    "WHERE q.actor = s.actor AND q.system = s.{system})")
        self.stored_in_pairs = (f"{self.any_in(('s.actor', self.pair_actors))} AND "
                                + in_pairs.format(system="cause_system"))
        systems = self.values(f"SELECT system FROM {p}pairs")
        shadows = {
            "actions": self.rows_of("actions", self.any_in(("actor", self.pair_actors))),
            "accounts": self.rows_of("accounts", self.any_in(("account", self.pair_actors))),
            "changes": self.rows_of("changes", self.any_in(("system", systems))),
        }
        stored = {"charge_causes": f"SELECT s.* FROM {causes} AS s WHERE {self.stored_in_pairs}"}
        with self.shadowed("change_blame", shadows, stored):
            self.temp("blame", "SELECT * FROM change_blame")
        return self.replace("change_blame",
                            f"{self.any_in(('s.actor', self.pair_actors))} AND "
                            + in_pairs.format(system="system"), f"{p}blame")

    def anomalous_charges(self) -> int:
        p, causes = PREFIX, stored_name("charge_causes")
        # Its charges: the recomputed groups', the refunded ones, those of a moved blame.
        charged = self.values(f"""
            SELECT charge_id FROM {p}causes
            UNION ALL SELECT s.charge_id FROM {causes} AS s WHERE {self.stored_in_pairs}""")
        charged = sorted(set(charged) | set(self.refunded))
        if not (self.groups or charged):
            return 0
        ids = self.any_in(("charge_id", charged))
        stored = {"charge_causes": f"SELECT * FROM {causes} "
                                   f"WHERE {self.located('charge_causes', charged)}",
                  "change_blame": f"SELECT * FROM {stored_name('change_blame')}",
                  "charge_refunds": f"SELECT * FROM {stored_name('charge_refunds')} "
                                    f"WHERE {ids}"}
        with self.shadowed("anomalous_charges", {}, stored):
            self.temp("anomalous", "SELECT * FROM anomalous_charges")
        # The groups' old rows go too: a charge forgotten has no row to recompute.
        return self.replace(
            "anomalous_charges",
            f"{self.any_in(('s.charge_id', charged))} OR ({self.stored_in_groups})",
            f"{p}anomalous")

    def privilege_grants(self, d: Mapping[str, str]) -> int:
        p = PREFIX
        self.temp("grant_keys", f"SELECT DISTINCT * FROM {d['privileges']}")
        subjects = self.values(f"SELECT subject FROM {p}grant_keys")
        if not subjects:
            return 0
        same = (f"EXISTS (SELECT 1 FROM {p}grant_keys AS k WHERE k.subject = {{t}}.subject "
                "AND k.privilege = {t}.privilege AND k.system_key = coalesce({t}.system, ''))")
        shadows = {"privileges": self.rows_of("privileges", self.any_in(("subject", subjects)),
                                              same.format(t="c"))}
        with self.shadowed("privilege_grants", shadows, {}):
            self.temp("grants", "SELECT * FROM privilege_grants")
        return self.replace("privilege_grants",
                            f"{self.any_in(('s.subject', subjects))} AND {same.format(t='s')}",
                            f"{p}grants")
