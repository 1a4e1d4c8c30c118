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

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import cpu_seconds, machine_info, peak_rss_mb
from bench_rules import DEFAULT_DATA_DIR, RESULTS_DIR, WORLD, build_big, log

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
    target = RESULTS_DIR / f"privileges-{args.rows}.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    log(f"written {target}")


if __name__ == "__main__":
    main()
