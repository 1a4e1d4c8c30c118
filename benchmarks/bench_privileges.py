#!/usr/bin/env python
"""Privilege benchmark: `auditlog privileges --as-of T` and `--between T1 T2` (the
privilege_intervals view of queries/shared/) on a generated world scaled to N charges
and N actions, the way benchmarks/bench_rules.py builds it (its docstring says how:
the world replicated into regions, each with its own incident, grants and revocations).

Not a test: it asserts nothing about time, it measures and prints.

    python benchmarks/bench_privileges.py --rows 10000000     # 10M charges, 10M actions
    python benchmarks/bench_privileges.py --rows 1000000 --data-dir /tmp/bench

Each measurement runs in a fresh Python process (its peak RSS its own), timed after the
database is opened read-only:
  as_of    Investigation.privileges(as_of=<the incident grant's instant>), every account
  account  the same for the incident's service account only
  between  Investigation.privileges(between=<the incident's month>)
  scan     one count(*) of actions and privileges, for scale
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import cpu_seconds, peak_rss_mb
from bench_rules import WORLD, run_in_children

MODES = ("scan", "as_of", "account", "between")


def truth(data_dir: Path) -> dict[str, Any]:
    world = data_dir / f"world-{WORLD['seed']}"
    return json.loads((world / "ground_truth" / "incident.json").read_text())  # type: ignore[no-any-return]


def child(mode: str, db: Path, data_dir: Path) -> dict[str, Any]:
    import duckdb

    import auditlog

    facts = truth(data_dir)
    grant = facts["privilege_grant"]
    started, cpu0 = time.perf_counter(), cpu_seconds()
    if mode == "scan":
        with duckdb.connect(str(db), read_only=True) as con:
            rows = sum(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                       for t in ("actions", "privileges"))
        result: dict[str, Any] = {"rows": rows}
    else:
        with auditlog.open(db) as inv:
            if mode == "between":
                doc = inv.privileges(between=(grant["ts"][:8] + "01T00:00:00Z",
                                              grant["ts"][:8] + "28T00:00:00Z"))
            else:
                doc = inv.privileges(as_of=grant["ts"], account=(
                    facts["service_account"] if mode == "account" else None))
        result = {"intervals": doc["total"]}
    return {**result, "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(cpu_seconds() - cpu0, 2), "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    run_in_children(__doc__, __file__, "privileges", MODES, child)


if __name__ == "__main__":
    main()
