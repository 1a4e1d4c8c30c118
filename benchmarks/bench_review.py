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

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import cpu_seconds, machine_info, peak_rss_mb
from bench_rules import DEFAULT_DATA_DIR, RESULTS_DIR, WORLD, build_big, log

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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.db, args.data_dir)))
        return
    args.data_dir.mkdir(parents=True, exist_ok=True)
    db, info = build_big(args.data_dir, args.rows, args.rows, args.memory_limit,
                         args.threads)
    results: dict[str, Any] = {"machine": machine_info(), "build": info}
    for mode in MODES:
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--db", str(db),
                              "--data-dir", str(args.data_dir)],
                             check=True, capture_output=True, text=True).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
        log(f"{mode}: {results[mode]}")
    RESULTS_DIR.mkdir(exist_ok=True)
    target = RESULTS_DIR / f"review-{args.rows}.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    log(f"written {target}")


if __name__ == "__main__":
    main()
