"""The connection rule SQL runs on: the database opened read-only, with file access,
ATTACH, extension loading and settings changes all disabled.

DuckDB enforces these limits itself (enable_external_access=false, no extension
autoloading, then the configuration locked), so a rule cannot lift them; a rule that
tries gets a RuleError naming its file (see runner.py). The shared views and controls
every rule may use (pack/units.py, in the order it derives from their SQL) are created as
TEMP views, which live in memory and leave the read-only database untouched. Other
readers (traces, remediation, reports) get the views `auditlog run` stored while they are
fresh (store/attribution.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from auditlog.engines.bounds import DEFAULT_BOUNDS, RuleBounds
from auditlog.engines.installing import install_units, missing_database
from auditlog.errors import UsageError
from auditlog.pack.params import with_model_params
from auditlog.pack.units import SqlUnit, shared_units
from auditlog.store import first_line
from auditlog.store.attribution import fresh_stored_views, stored_name
from auditlog.store.locking import open_database
from auditlog.store.runs import latest_run_params

SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "preserve_insertion_order": True,
}


def open_sandbox(db_path: Path | str, *, materialize: bool = False, use_stored: bool = False,
                 bounds: RuleBounds = DEFAULT_BOUNDS,
                 params: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """A sandbox connection (connect_sandbox) with every shared unit installed.

    With materialize, the shared views are computed once into TEMP tables: worth it
    when several rules read them (a run), not for one look-up. With use_stored, they
    read the attribution tables instead, which only a run that has just recomputed
    them asks for (findings.run_packs); otherwise rules compute the views afresh.
    `params` are the run's (install_shared_views).
    """
    con = connect_sandbox(db_path, bounds)
    install_shared_views(con, materialize=materialize, use_stored=use_stored, params=params)
    return con


def connect_sandbox(db_path: Path | str,
                    bounds: RuleBounds = DEFAULT_BOUNDS) -> duckdb.DuckDBPyConnection:
    """A locked, read-only connection to `db_path`, under the memory and spill limits of
    `bounds` (bounds.py; the time limit is the runner's), with no unit installed yet."""
    path = Path(db_path)
    if not path.exists():
        raise missing_database(path)
    try:
        con = open_database(path, read_only=True, config={**SANDBOX_CONFIG, **bounds.config()})
    except duckdb.Error as exc:
        raise UsageError(f"cannot open database {path}: {first_line(exc)}") from None
    # The time zone needs ICU, loaded only once connected; then nothing may change.
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET lock_configuration = true")
    return con


def install_shared_views(con: duckdb.DuckDBPyConnection, units: Sequence[SqlUnit] | None = None,
                         *, materialize: bool = False, use_stored: bool = True,
                         params: Mapping[str, Any] | None = None,
                         reads: Collection[str] | None = None) -> frozenset[str]:
    """Create `units` as TEMP views or tables (allowed on a read-only database).

    Without `units`, every shared unit, the model's parameters taking a run's `params`
    (pack/params.py), or without those the latest run's, so that a reader agrees with
    that run's findings. Given `units` (an engine's install: a run's, its parameters
    already in them) are created as they are.

    With use_stored, a view that the last run stored (store/attribution.py) and that is
    still fresh reads its table instead of being recomputed. Freshness is judged over
    every shared unit, as the store fingerprints them, the given ones in their place.

    With `reads` (a reader's: the views its SQL reads), only those and what they are
    built from are created: a trace over fresh stored tables creates four one-line
    views instead of binding the whole model's SQL (start time, issue 14).

    Returns the views whose stored tables are fresh: those it created read them (a
    trace needs not ask the catalog which do).
    """
    every = with_model_params(shared_units(),
                              latest_run_params(con) if params is None else params)
    if units is not None:
        given = {unit.name: unit for unit in units}
        every = [given.get(unit.name, unit) for unit in every]
    stored = fresh_stored_views(con, every) if use_stored else set()
    if reads is not None:
        every = needed_units(every, reads, stored)
    # Over stored tables the remaining views are cheap filters of the raw tables, or
    # steps only a stored view was built from: left lazy, so none is computed for nothing.
    kind = "TABLE" if materialize and not stored else "VIEW"

    def create(unit: SqlUnit) -> None:
        body = f"SELECT * FROM {stored_name(unit.name)}" if unit.name in stored else unit.body
        # One round trip, the statements run in order as before (a trace creates seven
        # views: 21 queries were ~5 ms of its start, issue 14).
        con.execute(f"DROP VIEW IF EXISTS {unit.name}; DROP TABLE IF EXISTS {unit.name};\n"
                    f"CREATE TEMP {kind} {unit.name} AS\n{body}\n")

    install_units(every if units is None or reads is not None else units, create)
    return frozenset(stored)


def needed_units(every: Sequence[SqlUnit], reads: Collection[str],
                 stored: Collection[str]) -> list[SqlUnit]:
    """The units `reads` names and, transitively, those they read (a stored one reads
    only its table), in `every`'s order, which creates each after what it reads."""
    by_name = {unit.name: unit for unit in every}
    wanted: set[str] = set()
    pending = [name for name in reads if name in by_name]
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted.add(name)
            if name not in stored:
                pending.extend(r for r in by_name[name].reads if r in by_name)
    return [unit for unit in every if unit.name in wanted]
