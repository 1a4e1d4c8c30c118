"""The stored attribution kept fresh across an ingest or a forget (issue 14), so that a
trace after either stays a point look-up instead of recomputing the model.

`auditlog run` stores the attribution (store/attribution.py). An ingest or a forget then
changes the data under it; Investigation calls `before_change` first (was it fresh? the
rows a forget is about to take away are captured then), and `refresh_after` once the
change is made (the rows an ingest loaded are captured then). When it was fresh, only
what those rows reach is recomputed (store/refresh.py); otherwise, or when they reach too
much of the data, the model is computed whole, as `run` does. Before any run nothing is
stored and nothing is done. Findings stay the last run's until the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import duckdb

from auditlog.pack.params import with_model_params
from auditlog.pack.units import shared_units
from auditlog.store.attribution import (
    STATE_TABLE,
    STORED_VIEWS,
    fresh_stored_views,
    persist_attribution,
    table_exists,
)
from auditlog.store.refresh import (
    TooLarge,
    capture,
    dependencies_hold,
    forget_captured,
    refresh_captured,
)
from auditlog.store.runs import latest_run_params

if TYPE_CHECKING:
    from auditlog.pack.units import SqlUnit

# How the stored attribution was brought up to date: not stored (no run yet), only the
# rows' reach recomputed, the whole model recomputed, or nothing to do.
How = Literal["none", "incremental", "full", "fresh"]


@dataclass(frozen=True)
class StoredBefore:
    """The stored attribution as a change found it."""

    units: list[SqlUnit] | None  # the latest run's model; None: no run stored one
    fresh: bool  # its tables reflected the data as it was before the change


def before_change(con: duckdb.DuckDBPyConnection, *,
                  leaving: Sequence[str] = ()) -> StoredBefore:
    """Call on the writer before an ingest or a forget; `leaving`: the SHA-256 of the
    files a forget is about to take out (their rows' keys are captured now)."""
    if not table_exists(con, STATE_TABLE):
        return StoredBefore(None, False)
    units = with_model_params(shared_units(), latest_run_params(con))
    fresh = fresh_stored_views(con, units) == set(STORED_VIEWS)
    if fresh and leaving:
        capture(con, leaving)
    return StoredBefore(units, fresh)


def refresh_after(con: duckdb.DuckDBPyConnection, before: StoredBefore, *,
                  came: Sequence[str] = ()) -> How:
    """Bring the stored attribution up to date after the change, in one transaction;
    `came`: the SHA-256 of the files an ingest loaded rows from."""
    if before.units is None:
        return "none"
    units = before.units
    con.execute("BEGIN TRANSACTION")
    try:
        how: How
        if before.fresh and dependencies_hold(units):
            capture(con, came)
            try:
                refresh_captured(con, units)
                how = "incremental"
            except TooLarge:
                persist_attribution(con, units, force=True)
                how = "full"
        else:
            how = "full" if persist_attribution(con, units) else "fresh"
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        forget_captured(con)
    return how
