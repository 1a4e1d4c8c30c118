"""What the latest rule run was given, for readers that must agree with it, and whether
its findings may rest on rows forgotten since.

`auditlog run` records each run's parameters in the `runs` table (analysis/findings.py
writes it). Traces and reports install the model's parameters with the latest run's
values (pack/params.py), so a control they show is the one that run's rules judged.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from auditlog.store.attribution import table_exists
from auditlog.store.catalog import remembered

# meta's key for the run whose findings were made before a `forget` (ingest/forget.py
# writes it; the next run makes it stale no more). Here, not in forget.py, so that
# `status` reads it without importing the forgetting.
STALE_KEY = "forgotten_since_run"


def latest_run_params(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The parameters the latest run was given; none before any run. Read once per
    frozen read-only connection (catalog.py): a trace asks installing its views and
    again for its caveats."""
    return dict(remembered(con, "latest run params", lambda: _latest_run_params(con)))


def _latest_run_params(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    if not table_exists(con, "runs"):
        return {}
    row = con.execute("SELECT params FROM runs ORDER BY started_at DESC, run_id DESC "
                      "LIMIT 1").fetchone()
    if row is None or row[0] is None:
        return {}
    params = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return dict(params) if isinstance(params, dict) else {}


def stale_findings(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run whose findings may rest on rows of a file forgotten since, else None."""
    if not table_exists(con, "runs"):
        return None
    rows = con.execute("SELECT value FROM meta WHERE key = $k AND value = "
                       "(SELECT max(run_id) FROM runs)", {"k": STALE_KEY}).fetchall()
    return rows[0][0] if rows else None
