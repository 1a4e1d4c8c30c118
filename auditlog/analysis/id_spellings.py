"""Ids that name the same thing across logs but are spelled differently: a join that
fails exactly and would succeed once case, full-width or decomposed characters (０４２ /
042, e + U+0301 / é), invisible ones (a zero-width space, a byte-order mark), leading
zeros or a trailing .0 of a number (0042 / 42 / 42.0), a Windows `DOMAIN\\` prefix or an
email's `@domain` are ignored (C0042 / c0042, JDOE / jdoe@corp.example, CORP\\jdoe /
jdoe).
Surrounding spaces (non-breaking ones too) never reach this check: ingest trims them.

auditlog matches ids exactly (case may matter, and the contract forbids merging rows
silently), so such ids are only found and told, never folded. One statement over the
stored tables: each id column is read once, grouped to its distinct values, and only
the values that miss exactly are folded and looked up again. The run keeps what it found
(meta), with the ingested files it saw: `status` and the answers it affects (refund
lists, traces, reports: each join's `answers`) repeat it without a scan, and say so
when files were loaded or forgotten since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from auditlog.kinds import KINDS
from auditlog.sqltext import sql_string
from auditlog.store.attribution import table_exists
from auditlog.store.lake import has_files, kind_path

# meta's key for what the latest run found: `status` reads it instead of scanning the
# logs again (a run reads every row anyway; a status is a look-up, issue 14).
META_KEY = "id_spellings"

# The differences ignored, in the order they are taken off an id.
HIDDEN, WIDTH, DOMAIN, EMAIL, CASE, ZEROS = (
    "invisible", "width", "domain", "email", "case", "zeros")
STEPS = (HIDDEN, WIDTH, DOMAIN, EMAIL, CASE, ZEROS)
IGNORED = {CASE: "case", WIDTH: "full-width or decomposed characters",
           HIDDEN: "invisible characters (zero-width spaces, byte-order marks)",
           ZEROS: "leading zeros or a trailing .0", DOMAIN: "a DOMAIN\\ prefix",
           EMAIL: "an email domain"}
# Characters no one sees that exports leave in a value (ingest trims only whitespace):
# zero-width space, non-joiner and joiner, word joiner, byte-order mark.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
SINGULAR = ((CASE,), (DOMAIN,), (EMAIL,))
# Full-width forms (U+FF01-U+FF5E: East Asian exports, some spreadsheets) and their ASCII.
FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
HALF_WIDTH = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F))
WIDE = f"[{FULL_WIDTH[0]}-{FULL_WIDTH[-1]}]"

# The answers (analysis/caveats.py NEEDS' names) an exact miss of a join can change.
VERDICTS = frozenset({"remediation", "export", "trace charge", "trace change", "report"})


@dataclass(frozen=True)
class Join:
    """One join the answers rely on: ids of `left` that should be found among `right`."""

    name: str
    left: str    # SQL: rows (id) of the side that names the id, one per row
    right: str   # SQL: rows (id) of the side that holds it
    left_kind: str
    right_kind: str
    # The answers whose result a miss may change, and whether it names a charge's own id
    # (then one charge's trace is told it only when that charge's id misses exactly).
    answers: frozenset[str] = VERDICTS
    verdict: bool = False


JOINS = (
    Join("charge_order", "SELECT order_id AS id FROM charges",
         "SELECT order_id AS id FROM actions", "charges", "actions", verdict=True),
    Join("charge_account", "SELECT account AS id FROM charges",
         "SELECT target_account AS id FROM actions UNION ALL SELECT actor FROM actions",
         "charges", "actions", verdict=True),
    # A charge with no order id pairs with an order of its account and product
    # (docs/attribution.md, rule 2: charges.product = the order actions' object).
    # Only one-time charges whose order id names no action's order pair so.
    Join("charge_product",
         "SELECT product AS id FROM charges WHERE coalesce(type, 'one_time') = 'one_time' "
         "AND (order_id IS NULL OR order_id NOT IN "
         "(SELECT order_id FROM actions WHERE order_id IS NOT NULL))",
         "SELECT object AS id FROM actions", "charges", "actions", verdict=True),
    Join("refund_of", "SELECT refund_of AS id FROM charges",
         "SELECT charge_id AS id FROM charges", "charges", "charges"),
    Join("actor_privileges", "SELECT actor AS id FROM actions",
         "SELECT subject AS id FROM privileges", "actions", "privileges",
         frozenset({"trace charge", "trace account", "report"})),
    Join("change_accounts",
         "SELECT implementer AS id FROM changes UNION ALL SELECT approver FROM changes",
         "SELECT account AS id FROM accounts", "changes", "accounts",
         frozenset({"trace change", "report"})),
    Join("actor_accounts", "SELECT actor AS id FROM actions",
         "SELECT account AS id FROM accounts", "actions", "accounts",
         VERDICTS | {"trace account"}),
)
JOINED = {j.name: j for j in JOINS}

# Per join: what the naming side's rows are, what they name, where it is held, and what
# an exact match alone costs the answers.
WORDS = {
    "charge_order": ("charge(s)", "name an order id", "an order in actions",
                     "they are traced as if their order had no action"),
    "charge_account": ("charge(s)", "bill an account", "an account of actions",
                       "their customers' own orders are not seen"),
    "charge_product": ("charge(s) without an order of their own", "bill a product",
                       "an object of actions",
                       "they are not paired with their customer's order of it"),
    "refund_of": ("refund(s)", "name a charge", "a charge_id of charges",
                  "the charges they refund are not seen as refunded"),
    "actor_privileges": ("action(s)", "have an actor", "a subject of privileges",
                         "no privilege is found for them"),
    "change_accounts": ("implementer/approver entries of changes", "name an account",
                        "an account of the accounts directory",
                        "their team and manager are not found"),
    "actor_accounts": ("action(s)", "have an actor", "an account of the accounts directory",
                       "its type, team and owner are not found"),
}


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
        if not words:  # kept by an earlier version, which could find none
            return "another spelling"
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]

    def text(self) -> str:
        """What was found and what it costs, in one sentence (without its full stop)."""
        rows, verb, held, effect = WORDS[self.join]
        join = JOINED[self.join]
        return (f"{self.rows:,} {rows} {verb} that matches {held} only when "
                f"{self.ignored_text()} {'is' if self.ignored in SINGULAR else 'are'} ignored "
                f"({self.ids:,} distinct id(s); e.g. {self.example!r} in {join.left_kind}, "
                f"{self.match!r} in {join.right_kind}); ids are matched exactly, so "
                f"{effect}; if they are the same, write them alike in the source, or load "
                "it with a mapping whose [values.COLUMN] rewrites them (docs/mappings.md)")


@dataclass(frozen=True)
class Recorded:
    """What the latest run found (`found`), which run it was, and whether files were
    loaded or forgotten since (`stale`: the logs may now hold other spellings)."""

    found: tuple[Misspelled, ...] = ()
    run_id: str | None = None
    stale: bool = False

    def affecting(self, answer: str, *, misses: Collection[str] | None = None
                  ) -> list[Misspelled]:
        """The findings whose join `answer` relies on; `misses`: for one charge, the joins
        of a charge's own ids (verdict joins) that its ids miss exactly (charge_misses):
        another charge's spelling does not change its pairing."""
        return [f for f in self.found if answer in JOINED[f.join].answers
                and (misses is None or not JOINED[f.join].verdict or f.join in misses)]

    def found_by(self) -> str:
        """Who found it, to open a sentence that repeats it: the latest run, or, when files
        were loaded or forgotten since, that run and that it may be out of date."""
        return stale_text(self.run_id) if self.stale else "the latest run found that"


def stale_text(run_id: str | None) -> str:
    """'run R-000002 found, before ...' for a finding repeated after the logs changed."""
    return (f"run {run_id or 'of an earlier version'} found, before files were last loaded "
            "or forgotten (auditlog run looks again), that")


def folded(column: str, steps: Collection[str] = STEPS) -> str:
    """SQL for `column` with the differences `steps` taken off (in STEPS' order). Each
    step names the one before once (regexp_replace, not CASE over strpos): nested six
    deep, CASEs repeated the inner steps dozens of times per value."""
    expr = column
    if HIDDEN in steps:  # o-1<U+200B> -> o-1 (a `to` shorter than `from` deletes)
        expr = f"translate({expr}, {sql_string(INVISIBLE)}, '')"
    if WIDTH in steps:  # ０４２ -> 042 (a long translate only where there is one), and
        # e + U+0301 -> é (macOS and some web forms write accents decomposed)
        expr = (f"nfc_normalize(CASE WHEN regexp_matches({expr}, {sql_string(WIDE)}) "
                f"THEN translate({expr}, {sql_string(FULL_WIDTH)}, {sql_string(HALF_WIDTH)}) "
                f"ELSE {expr} END)")
    if expr != column:  # all three change only an id that is not ASCII: most are
        expr = (f"CASE WHEN regexp_matches({column}, '[^\\x01-\\x7f]') THEN {expr} "
                f"ELSE {column} END")
    if DOMAIN in steps:  # CORP\jdoe -> jdoe (up to the first backslash)
        expr = f"regexp_replace({expr}, '^[^\\\\]*\\\\', '')"
    if EMAIL in steps:  # jdoe@corp.example -> jdoe (a name before the first @)
        expr = f"regexp_replace({expr}, '(?s)^([^@]+)@.*$', '\\1')"
    if CASE in steps:
        expr = f"lower({expr})"
    if ZEROS in steps:  # 0042 -> 42, 12345.0 -> 12345 (a number a spreadsheet or a
        # float column rewrote), only for an id of digits alone
        expr = f"regexp_replace({expr}, '^0*([0-9]+)(\\.0+)?$', '\\1')"
    return expr


# What is said to be ignored for a pair is what the fewest, least sweeping differences
# need: the shortest prefix of this order under which the two match, less the steps of it
# the pair matches without (user@CORP.EXAMPLE / user@corp.example: case alone, though
# dropping both email domains would match them too).
PREFERENCE = (HIDDEN, WIDTH, CASE, ZEROS, DOMAIN, EMAIL)
PREFIXES = tuple(PREFERENCE[:k] for k in range(1, len(PREFERENCE) + 1))


# Each fold a pair is judged by, once: the prefixes, and each prefix less one of its steps
# (most coincide). They are computed per id of a pair only, in one CTE for every join, so
# the statement names each fold once (its planning, not its rows, was most of its time).
SUBSETS = tuple(dict.fromkeys(
    [tuple(p) for p in PREFIXES]
    + [tuple(s for s in p if s != step) for p in PREFIXES for step in p]))


def _at(steps: Sequence[str]) -> int:
    """The index of a fold in SUBSETS: columns f<i> of folds, l<i> and r<i> of a pair."""
    return SUBSETS.index(tuple(steps))


def _judge_sql() -> tuple[str, str]:
    """Per pair of folds (l*, r*): `k`, the shortest prefix under which it matches; and,
    over `k`, whether each step of that prefix is needed there (`<step>_needed`)."""
    k = "CASE " + " ".join(f"WHEN l{_at(p)} = r{_at(p)} THEN {n}"
                           for n, p in enumerate(PREFIXES)) + " END AS k"
    needed = []
    for step in STEPS:
        less = {n: _at([s for s in p if s != step]) for n, p in enumerate(PREFIXES)
                if step in p}
        whens = " ".join(f"WHEN {n} THEN l{i} <> r{i}" for n, i in less.items())
        needed.append(f"CASE k {whens} ELSE false END AS {step}_needed")
    return k, ", ".join(needed)


def _qualifier(column: str, mark: str, before: bool) -> str:
    """The domain an id carries (before a backslash, after an @), '' when none."""
    at = f"strpos({column}, {mark})"
    part = f"substr({column}, 1, {at} - 1)" if before else f"substr({column}, {at} + 1)"
    return f"CASE WHEN {at} > 0 THEN lower({part}) ELSE '' END"


def _pairs_sql(join: Join) -> str:
    """The join's ids that miss, each with every id of the other side it folds onto."""
    left, right = "m.id", "r.id"
    # Two ids each qualified by a domain, the domains different, are two accounts.
    same_domains = " AND ".join(
        f"({_qualifier(left, mark, before)} = '' OR {_qualifier(right, mark, before)} = '' "
        f"OR {_qualifier(left, mark, before)} = {_qualifier(right, mark, before)})"
        for mark, before in (("chr(92)", True), ("'@'", False)))
    return f"""
    SELECT {sql_string(join.name)} AS name, m.id, m.n, r.id AS rid
    FROM misses_{join.name} m
    JOIN (SELECT id, {folded('id')} AS key FROM right_{join.name}) r
      ON r.key = m.key AND r.id <> m.id
    WHERE {same_domains}"""


def _ctes(join: Join) -> str:
    return f"""
    left_{join.name} AS (SELECT id, count(*) AS n FROM ({join.left}) WHERE id IS NOT NULL
                         GROUP BY id),
    right_{join.name} AS (SELECT DISTINCT id FROM ({join.right}) WHERE id IS NOT NULL),
    misses_{join.name} AS (
        SELECT id, n, {folded('id')} AS key FROM left_{join.name}
        WHERE id NOT IN (SELECT id FROM right_{join.name}))"""


def id_spellings_sql() -> str:
    """Per join with ids that miss exactly and fold onto the other side: how many ids,
    on how many rows, an example and its match, and per step whether it was needed."""
    ctes = ",".join(_ctes(j) for j in JOINS)
    pairs = "\n    UNION ALL".join(_pairs_sql(j) for j in JOINS)
    folds = ", ".join(f"{folded('id', steps)} AS f{n}" for n, steps in enumerate(SUBSETS))
    sides = ", ".join(f"l.f{n} AS l{n}, r.f{n} AS r{n}" for n in range(len(SUBSETS)))
    k, needed = _judge_sql()
    flags = ", ".join(f"bool_or({step}_needed) AS {step}_needed" for step in STEPS)
    # Per pair what had to be ignored; per id that misses, its nearest spelling and what
    # had to be ignored; then per join.
    return f"""WITH {ctes},
    pairs AS ({pairs}),
    folds AS (SELECT id, {folds} FROM (SELECT id FROM pairs UNION SELECT rid FROM pairs)),
    sided AS (SELECT p.name, p.id, p.n, p.rid, {sides} FROM pairs p
              JOIN folds l ON l.id = p.id JOIN folds r ON r.id = p.rid),
    ranked AS (SELECT *, {k} FROM sided),
    judged AS (SELECT name, id, n, rid, {needed} FROM ranked),
    per_id AS (SELECT name, id, n, min(rid) AS match, {flags} FROM judged
               GROUP BY name, id, n)
    SELECT name, count(*) AS ids, sum(n) AS n, min(id) AS example, min_by(match, id) AS match,
           {", ".join(f"bool_or({s}_needed)" for s in STEPS)}
    FROM per_id GROUP BY name"""


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


# Which of one charge's own ids (its order id, account, product) no action names exactly:
# a point look-up per trace, where a spelling may have cost that charge its pairing.
CHARGE_MISSES_SQL = """
    SELECT c.order_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.order_id = c.order_id),
           NOT EXISTS (SELECT 1 FROM actions a WHERE a.target_account = c.account)
               AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.actor = c.account),
           NOT EXISTS (SELECT 1 FROM actions a WHERE a.object = c.product)
    FROM charges c WHERE c.charge_id = $id LIMIT 1"""


def charge_misses(con: duckdb.DuckDBPyConnection, charge_id: str) -> set[str]:
    """The verdict joins (charge_order, charge_account, charge_product) that the ids of
    charge `charge_id` miss exactly; none for a charge not stored."""
    row = con.execute(CHARGE_MISSES_SQL, {"id": charge_id}).fetchone()
    names = ("charge_order", "charge_account", "charge_product")
    return {name for name, missed in zip(names, row or (), strict=False) if missed}


# The ingested files as a run saw them: a later ingest or forget changes it.
# The files that brought rows (a copy loaded again under another name brings none).
FILES_SQL = ("SELECT count(*) || ':' || coalesce(md5(string_agg(sha256 || '/' || path, ',' "
             "ORDER BY sha256, path)), '') FROM ingested_files WHERE loaded > 0")


def files_seen(con: duckdb.DuckDBPyConnection) -> str:
    if not table_exists(con, "ingested_files"):
        return ""
    row = con.execute(FILES_SQL).fetchone()
    return str(row[0]) if row else ""


def lake_misspelled_ids(lake: Path) -> list[Misspelled]:
    """misspelled_ids over the Parquet lake a Spark run read (store/lake.py), not over the
    database, which may hold none of its rows: DuckDB reads the lake's files in place."""
    con = duckdb.connect()
    try:
        for name, kind in KINDS.items():
            path = kind_path(lake, name)
            if has_files(path):
                files = sql_string(str(path / "**" / "*.parquet"))
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files}, "
                            "hive_partitioning = true, union_by_name = true)")
            else:  # a kind the lake lacks: no rows, as an empty table in the database
                columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in kind.column_names)
                con.execute(f"CREATE VIEW {name} AS SELECT {columns} WHERE false")
        return misspelled_ids(con)
    finally:
        con.close()


def lake_seen(lake: Path) -> str:
    """The lake's files (appended, never rewritten: store/lake.py) as one digest."""
    names = sorted(str(p.relative_to(lake)) for p in lake.rglob("*.parquet")) \
        if lake.is_dir() else []
    return f"{len(names)}:" + hashlib.md5("\n".join(names).encode()).hexdigest()


def record_id_spellings(con: duckdb.DuckDBPyConnection, found: list[Misspelled],
                        run_id: str | None = None, lake: Path | None = None) -> None:
    """Keep what run `run_id` found, with the files it saw (of `lake` when it read one),
    for `status` and the answers (in the run's transaction)."""
    value = {"run_id": run_id, "files": files_seen(con) if lake is None else lake_seen(lake),
             "lake": None if lake is None else str(lake), "found": [asdict(f) for f in found]}
    con.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)",
                {"k": META_KEY, "v": json.dumps(value)})


def recorded_spellings(con: duckdb.DuckDBPyConnection) -> Recorded:
    """What the latest run found, and whether it is stale; nothing before any run."""
    if not table_exists(con, "meta"):
        return Recorded()
    rows = con.execute("SELECT value FROM meta WHERE key = $k", {"k": META_KEY}).fetchall()
    if not rows:
        return Recorded()
    value = json.loads(rows[0][0])
    if isinstance(value, list):  # kept by an earlier version: no files to compare
        return Recorded(_found(value))
    lake = value.get("lake")
    seen = files_seen(con) if lake is None else lake_seen(Path(lake))
    return Recorded(_found(value["found"]), value["run_id"], value["files"] != seen)


def _found(items: list[dict[str, object]]) -> tuple[Misspelled, ...]:
    return tuple(Misspelled(**(f | {"ignored": tuple(f["ignored"])}))  # type: ignore[arg-type]
                 for f in items)


def recorded_id_spellings(con: duckdb.DuckDBPyConnection) -> list[Misspelled]:
    """What the latest run found; nothing before any run."""
    return list(recorded_spellings(con).found)
