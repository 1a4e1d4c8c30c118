#!/usr/bin/env python
"""How long does an ingest hold the main database file, under each concurrency design?

Not a test: it asserts nothing about time, it measures and prints. While a process holds
the file for writing, DuckDB lets no other process open it, so this hold is how long
`status`, `findings` and `trace` wait (docs/concurrency.md).

    python benchmarks/bench_lock.py                         # 1M rows of CSV
    python benchmarks/bench_lock.py --rows 100000 --format jsonl

  (a) holder   what auditlog does: ingest_paths on the main file; held for the whole call.
  (b) staging  ingest_paths into a side file (holding only that), then open the main file
               and merge the side file's tables in one transaction (ATTACH, INSERT ...
               WHERE NOT EXISTS on the key, so rows already stored are skipped): held for
               the merge only. Timed twice: into an empty main file, and into one that
               already holds the same rows (every key probed, nothing inserted).
               A prototype of the merge's cost: the real design would also have to judge
               duplicates against the main file while staging.
  (c) snapshot CHECKPOINT and copy the main file to a read snapshot that readers open
               while a writer holds the main file: readers never wait, the writer holds
               the main file for (a) plus the copy, the disk holds the data twice.
               auditlog does (a) + (c): the copy is taken as a writer opens.

Data files are the ones benchmarks/bench_ingest.py generates (bench-data/, reused).
Results go to the terminal and to benchmarks/results/lock-<UTC date>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import DEFAULT_DATA_DIR, RESULTS_DIR, ensure_data

from auditlog import store
from auditlog.ingest import ingest_paths
from auditlog.store.snapshot import copy_held


def ingest(path: Path, db: Path) -> float:
    """Seconds the database file is held: open, ingest, close."""
    started = time.perf_counter()
    con = store.connect(db)
    ingest_paths(con, [path], kind="actions", tz="UTC")
    con.close()
    return time.perf_counter() - started


def merge(side: Path, db: Path) -> float:
    """Seconds the main file is held to merge the side file's rows into it."""
    started = time.perf_counter()
    con = store.connect(db)
    con.execute("ATTACH ? AS side (READ_ONLY)", [str(side)])
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO actions SELECT * FROM side.actions s WHERE NOT EXISTS "
                "(SELECT 1 FROM actions m WHERE m.event_id = s.event_id)")
    con.execute("INSERT OR IGNORE INTO ingested_files SELECT * FROM side.ingested_files")
    con.execute("INSERT OR IGNORE INTO quarantine SELECT * FROM side.quarantine")
    con.execute("COMMIT")
    con.execute("DETACH side")
    con.close()
    return time.perf_counter() - started


def snapshot(db: Path) -> float:
    """Seconds to checkpoint and copy the main file to a read snapshot."""
    started = time.perf_counter()
    con = store.connect(db)
    con.execute("CHECKPOINT")
    copy_held(db, str(db.with_name(db.name + ".snapshot")))  # keeps the lock
    con.close()
    return time.perf_counter() - started


def clean(*paths: Path) -> None:
    for path in paths:
        for p in (path, path.with_name(path.name + ".wal"),
                  path.with_name(path.name + ".snapshot")):
            p.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    data = ensure_data(args.data_dir, args.format, args.rows, print)
    work = args.data_dir / "db"
    work.mkdir(parents=True, exist_ok=True)
    main_db, side_db = work / "lock-main.duckdb", work / "lock-side.duckdb"
    clean(main_db, side_db)
    load = os.getloadavg()[0]

    held_a = ingest(data, main_db)
    print(f"(a) holder:   main file held {held_a:7.2f} s (the whole ingest)")
    copy = snapshot(main_db)
    size = main_db.stat().st_size / 1e6
    print(f"(c) snapshot: + {copy:.2f} s to checkpoint and copy {size:,.0f} MB")
    clean(main_db)

    staged = ingest(data, side_db)
    into_empty = merge(side_db, main_db)
    into_full = merge(side_db, main_db)
    print(f"(b) staging:  side ingest {staged:.2f} s (main free), then main file held "
          f"{into_empty:.2f} s (merge into empty), {into_full:.2f} s (every key present)")
    clean(main_db, side_db)

    result = {
        "rows": args.rows, "format": args.format, "load_before": round(load, 1),
        "a_holder_held_s": round(held_a, 2), "c_snapshot_copy_s": round(copy, 2),
        "c_snapshot_mb": round(size), "b_side_ingest_s": round(staged, 2),
        "b_merge_empty_held_s": round(into_empty, 2), "b_merge_full_held_s": round(into_full, 2),
        "cpus": os.cpu_count(), "duckdb": duckdb.__version__,
    }
    out = args.output or RESULTS_DIR / f"lock-{dt.datetime.now(dt.UTC):%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average before: {load:.1f}; written to {out}")


if __name__ == "__main__":
    main()
