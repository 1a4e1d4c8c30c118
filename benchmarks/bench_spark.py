#!/usr/bin/env python
"""Engine benchmark: every rule pack on DuckDB and on Spark (local) over the same world.

Not a test: it asserts nothing about time, it measures and prints.

    python benchmarks/bench_spark.py                              # 10M charges, 10M actions
    python benchmarks/bench_spark.py --charges 1000000 --actions 1000000
    python benchmarks/bench_spark.py --master spark://host:7077   # a cluster

The database is bench_rules.py's: one generated world replicated into independent
regions up to --charges and --actions rows (see its docstring), kept in --data-dir.
Measured:

  duckdb  run_packs(db, every rule): `auditlog run` (shared views as TEMP tables, every
          rule, findings merged), DuckDB limited to --memory-limit and --threads.
  export  `auditlog lake export`: the database as a day-partitioned Parquet lake.
  start   starting the Spark session (JVM, local[N] or --master).
  spark   run_packs(..., engine="spark", lake=lake): `auditlog run --engine spark --lake`,
          findings merged into a findings-only database.

Both runs must find the same findings (same ids); the script says so or fails.
Results go to the terminal and to benchmarks/results/spark-<UTC date>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import machine_info
from bench_rules import DEFAULT_DATA_DIR, RESULTS_DIR, build_big, forget_findings, log


def finding_ids(db: Path) -> list[str]:
    from auditlog import store

    con = store.connect(db, read_only=True)
    ids = [r[0] for r in con.execute("SELECT finding_id FROM findings WHERE present "
                                     "ORDER BY finding_id").fetchall()]
    con.close()
    return ids


def run_duckdb(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from auditlog.analysis.findings import run_packs
    from auditlog.engines.bounds import RuleBounds
    from auditlog.pack import load_rules, sandbox

    sandbox.SANDBOX_CONFIG.update(threads=args.threads)
    bounds = RuleBounds(memory=args.memory_limit)
    forget_findings(db)
    started = time.perf_counter()
    report = run_packs(db, load_rules(), bounds=bounds)
    return {"seconds": time.perf_counter() - started, "findings": report.findings}


def export(db: Path, lake: Path) -> dict[str, Any]:
    from auditlog import store
    from auditlog.store.lake import export_lake

    shutil.rmtree(lake, ignore_errors=True)
    con = store.connect(db, read_only=True)
    started = time.perf_counter()
    rows = export_lake(con, lake)
    seconds = time.perf_counter() - started
    con.close()
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
    return {"seconds": seconds, "rows": rows, "lake_mb": round(size / 1e6, 1)}


def run_spark(lake: Path, findings_db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from auditlog.analysis.findings import run_packs
    from auditlog.engines.spark import start_session
    from auditlog.pack import load_rules

    started = time.perf_counter()
    session = start_session(args.master, {"spark.driver.memory": args.driver_memory})
    start = time.perf_counter() - started
    findings_db.unlink(missing_ok=True)
    started = time.perf_counter()
    report = run_packs(findings_db, load_rules(),
                       engine="spark", lake=lake, master=args.master, session=session)
    seconds = time.perf_counter() - started
    session.stop()
    return {"start_seconds": start, "seconds": seconds, "findings": report.findings}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--charges", type=int, default=10_000_000)
    parser.add_argument("--actions", type=int, default=10_000_000)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB's")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB's")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="3g")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    args.data_dir.mkdir(parents=True, exist_ok=True)
    db, info = build_big(args.data_dir, args.charges, args.actions, args.memory_limit,
                         args.threads)
    lake = args.data_dir / f"lake-{args.charges}-{args.actions}"
    log("running every pack on DuckDB")
    duck = run_duckdb(db, args)
    duck_ids = finding_ids(db)
    log(f"  {duck['seconds']:.1f} s; exporting the lake")
    exported = export(db, lake)
    log(f"  {exported['seconds']:.1f} s; running every pack on Spark ({args.master})")
    findings_db = args.data_dir / "spark-findings.duckdb"
    spark = run_spark(lake, findings_db, args)
    same = finding_ids(findings_db) == duck_ids
    results = {"machine": machine_info(), "rows": info["rows"], "master": args.master,
               "duckdb": duck, "export": exported, "spark": spark, "same_findings": same,
               "spark_over_duckdb": spark["seconds"] / duck["seconds"]}
    print_summary(results)
    out = args.output or RESULTS_DIR / f"spark-{dt.datetime.now(dt.UTC):%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    if not same:
        sys.exit("the engines found different findings")


def print_summary(r: dict[str, Any]) -> None:
    rows = ", ".join(f"{n:,} {t}" for t, n in r["rows"].items())
    print(f"world: {rows}")
    print(f"duckdb run:        {r['duckdb']['seconds']:8.1f} s  ({r['duckdb']['findings']:,} "
          "findings)")
    print(f"lake export:       {r['export']['seconds']:8.1f} s  ({r['export']['lake_mb']} MB)")
    print(f"spark start:       {r['spark']['start_seconds']:8.1f} s  ({r['master']})")
    print(f"spark run:         {r['spark']['seconds']:8.1f} s  ({r['spark']['findings']:,} "
          "findings)")
    print(f"spark / duckdb:    {r['spark_over_duckdb']:8.1f} x   same findings: "
          f"{r['same_findings']}")


if __name__ == "__main__":
    main()
