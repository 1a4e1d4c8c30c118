"""Shared SQL units: the views and controls that rules, traces and reports build on.

A unit is one .sql file under `queries/shared/` (a view of the attribution model) or
`queries/controls/` (a control check); the file's name is the view's name. What a unit
reads comes from sqlglot's parse of its SQL (the tables it names, minus its own CTEs),
never from its text or its file name, so the order in which units are created is derived
as a graph: a unit comes after every unit it reads, ties broken by name so that the
order is the same on every machine. A cycle, or one name defined by two files, is a
RuleError naming the files.

The same graph gives what a rule needs (`needed_units`) and the raw tables it reads
through them (`raw_tables`), which is the rule's `requires`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Literal

from auditlog.errors import RuleError
from auditlog.kinds import KINDS
from auditlog.pack import reads_cache
from auditlog.store.database import RECORD_VIEWS

UnitKind = Literal["view", "control"]
# The folders of the built-in package that hold units rather than rule packs.
UNIT_DIRS: dict[str, UnitKind] = {"shared": "view", "controls": "control"}


@dataclass(frozen=True)
class SqlUnit:
    """One shared view or control: its SQL, its file, and the tables and units it reads."""

    name: str
    sql: str
    source: str
    reads: frozenset[str]
    kind: UnitKind

    @property
    def body(self) -> str:
        """The SQL as the body of a CREATE VIEW (no trailing semicolon)."""
        return self.sql.strip().rstrip(";")


def sql_reads(sql: str, source: str | None = None) -> frozenset[str]:
    """The table and view names `sql` reads, lower case, its own CTEs left out; a
    RuleError naming `source` when sqlglot cannot parse it."""
    known = reads_cache.lookup(sql)
    if known is not None:  # parsed before, by this or an earlier process
        return known
    from sqlglot.errors import SqlglotError

    try:
        return reads_cache.remember(sql, parsed_reads(sql))
    except SqlglotError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuleError(f"sqlglot cannot parse it ({reason})", source=source) from None


@lru_cache(maxsize=256)
def parsed_reads(sql: str) -> frozenset[str]:
    # Cached by text: every sandbox and every rule asks for the same few units' reads,
    # and parsing the attribution model's larger views costs milliseconds each time.
    from sqlglot import exp

    from auditlog.pack.lint import parse

    names: set[str] = set()
    for tree in parse(sql):
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        names |= {t.name.lower() for t in tree.find_all(exp.Table)
                  if isinstance(t.this, exp.Identifier)} - ctes  # not a table function
    return frozenset(names)


def builtin_unit_dirs() -> list[tuple[Traversable, UnitKind]]:
    """The built-in package's unit folders, each with the kind of unit it holds."""
    root = files("auditlog.queries")
    return [(root / folder, kind) for folder, kind in UNIT_DIRS.items()]


def shared_units() -> list[SqlUnit]:
    """Every built-in shared view and control, in creation order."""
    return list(_builtin_units())


@lru_cache(maxsize=1)
def _builtin_units() -> tuple[SqlUnit, ...]:
    # Read once a process: the package's files do not change under it, and loading the
    # rules asks for them once per rule (what each rule reads through them).
    return tuple(load_units(builtin_unit_dirs()))


def load_units(folders: Iterable[tuple[Traversable, UnitKind]]) -> list[SqlUnit]:
    """Every .sql file of `folders` as a unit of the folder's kind, in creation order; a
    missing folder holds none (queries/controls is optional for a pack's author)."""
    return ordered(load_unit(f, kind) for folder, kind in folders if folder.is_dir()
                   for f in folder.iterdir() if f.name.endswith(".sql"))


def load_unit(sql_file: Traversable, kind: UnitKind) -> SqlUnit:
    source = str(sql_file)
    sql = sql_file.read_text(encoding="utf-8")
    return SqlUnit(name=sql_file.name.removesuffix(".sql").lower(), sql=sql, source=source,
                   reads=sql_reads(sql, source), kind=kind)


def ordered(units: Iterable[SqlUnit]) -> list[SqlUnit]:
    """`units` so that each comes after the units it reads, ties by name; a RuleError
    for a name defined twice or for units that read each other in a cycle."""
    by_name: dict[str, SqlUnit] = {}
    for unit in units:
        if unit.name in by_name:
            first, second = sorted((by_name[unit.name].source, unit.source))
            raise RuleError(f"shared unit '{unit.name}' is defined twice: by {first} and by "
                            f"{second}", source=second)
        by_name[unit.name] = unit
    # Kahn's algorithm with a heap of the ready names: the smallest ready name goes next.
    waiting = {name: set(u.reads & by_name.keys()) for name, u in by_name.items()}
    readers: dict[str, set[str]] = {name: set() for name in by_name}
    for name, deps in waiting.items():
        for dep in deps:
            readers[dep].add(name)
    ready = [name for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[SqlUnit] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(by_name[name])
        for reader in readers[name]:
            waiting[reader].discard(name)
            if not waiting[reader]:
                heapq.heappush(ready, reader)
    if len(order) < len(by_name):
        raise cycle_error(by_name, {n for n, deps in waiting.items() if deps})
    return order


def cycle_error(by_name: dict[str, SqlUnit], stuck: set[str]) -> RuleError:
    """The error for the units that could not be ordered: one cycle among them, each of
    its units with its file."""
    # Every stuck unit reads another stuck unit, so walking reads from any of them
    # must come back to a unit already seen: that stretch is a cycle.
    path = [min(stuck)]
    while True:
        nxt = min(by_name[path[-1]].reads & stuck)
        if nxt in path:
            cycle = path[path.index(nxt):] + [nxt]
            break
        path.append(nxt)
    steps = " -> ".join(f"{n} ({by_name[n].source})" for n in cycle)
    return RuleError(f"shared units read each other in a cycle, so none of them can be "
                     f"created first: {steps}", source=by_name[cycle[0]].source)


def needed_units(sql: str, units: Sequence[SqlUnit] | None = None) -> list[SqlUnit]:
    """The units `sql` reads, directly or through other units, in creation order.

    `units` is an ordered list (shared_units()), the built-in ones by default."""
    units = shared_units() if units is None else units
    by_name = {u.name: u for u in units}
    needed: set[str] = set()
    pending = list(reads_or_nothing(sql) & by_name.keys())
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending += by_name[name].reads & by_name.keys()
    return [u for u in units if u.name in needed]


def raw_tables(sql: str, units: Sequence[SqlUnit] | None = None) -> frozenset[str]:
    """The kinds (auditlog.kinds) `sql` reads, directly or through the units it needs."""
    reads = reads_or_nothing(sql).union(
        *(u.reads for u in needed_units(sql, units)))
    reads |= {RECORD_VIEWS[name] for name in reads if name in RECORD_VIEWS}
    return frozenset(reads & KINDS.keys())


def kinds_in_order(kinds: Iterable[str]) -> tuple[str, ...]:
    """`kinds` in the order auditlog.kinds lists them, for a stable `requires`."""
    wanted = set(kinds)
    return tuple(k for k in KINDS if k in wanted)


def reads_or_nothing(sql: str) -> frozenset[str]:
    # SQL that does not parse reads nothing as far as the graph knows; the loader's lint
    # refuses it with the parser's reason before anything runs it. What SQL that parses
    # reads is remembered across processes, as for the units (reads_cache).
    known = reads_cache.lookup(sql)
    if known is not None:
        return known
    from sqlglot.errors import SqlglotError

    try:
        return reads_cache.remember(sql, parsed_reads(sql))
    except SqlglotError:
        return frozenset()
