"""What the latest rule run was given, for readers that must agree with it.

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
