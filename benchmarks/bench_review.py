#!/usr/bin/env python
"""Access review benchmark: `auditlog review access` of a month (the privilege_review
unit over privilege_intervals, and the use of every privilege in the period) against
`auditlog run` (every built-in pack) on the same database: a generated world scaled to N
charges and N actions, built the way benchmarks/bench_rules.py builds it.

Not a test: it asserts nothing about time, it measures and prints.

    python benchmarks/bench_review.py --rows 1000000 --data-dir /tmp/bench-review
    python benchmarks/bench_review.py --rows 10000000

Each measurement runs in a fresh Python process (its peak RSS its own):
  scan      one count(*) of actions and privileges, for scale
  review    Investigation.review_access(since, until) of the incident grant's month
  workbook  Investigation.review_workbook(...) of the same month (the XLSX campaign)
  run       Investigation.run() (every built-in pack), after which the review is measured
            again (review_after_run: it then also reads the findings' evidence)
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import cpu_seconds, peak_rss_mb
from bench_rules import WORLD, run_in_children

MODES = ("scan", "review", "workbook", "run", "review_after_run")


def month_of_incident(data_dir: Path) -> tuple[str, str]:
    world = data_dir / f"world-{WORLD['seed']}"
    facts = json.loads((world / "ground_truth" / "incident.json").read_text())
    at = datetime.fromisoformat(facts["privilege_grant"]["ts"])
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start.isoformat(), end.isoformat()


def child(mode: str, db: Path, data_dir: Path) -> dict[str, Any]:
    import duckdb

    import auditlog

    since, until = month_of_incident(data_dir)
    started, cpu0 = time.perf_counter(), cpu_seconds()
    result: dict[str, Any]
    if mode == "scan":
        with duckdb.connect(str(db), read_only=True) as con:
            result = {"rows": sum(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                                  for t in ("actions", "privileges"))}
    else:
        with auditlog.open(db, notify=lambda notice: None) as inv:
            if mode == "run":
                result = {"findings": inv.run().findings}
            elif mode == "workbook":
                counts = inv.review_workbook(data_dir / "campaign.xlsx", since=since,
                                             until=until)
                result = {"rows": sum(counts.values()), "reviewers": len(counts)}
            else:
                review = inv.review_access(since=since, until=until)
                rows = review.rows
                result = {"rows": rows.height,
                          "unused": int((rows["uses"] == 0).sum()),
                          "flagged": int((rows["flags"].list.len() > 0).sum())}
    return {"period": [since, until], **result,
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(cpu_seconds() - cpu0, 2), "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    run_in_children(__doc__, __file__, "review", MODES, child)


if __name__ == "__main__":
    main()
