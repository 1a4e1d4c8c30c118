#!/usr/bin/env python
"""How long does a command take to start, against a bare `python -c "import duckdb"`?

Not a test: it measures and prints (issue 14's target: --help, --version, status and
trace each at most 2x the bare import). Each command runs as a fresh process, N times
interleaved with the baseline (so machine load hits both alike); the median is shown.
status and trace read the sample incident (built once into a temp directory: ingest of
sample_logs + run), trace after the run (stored attribution) and after a further ingest
without a run.

    python benchmarks/bench_start.py            # 9 runs each
    python benchmarks/bench_start.py --runs 21
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - start


def build_sample(db: Path) -> str:
    """The sample incident in `db`; returns one anomalous charge's id."""
    import auditlog
    from auditlog.ingest.world import sample_logs_dir

    with auditlog.open(db) as inv:
        inv.ingest_world(sample_logs_dir())
        inv.run()
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        ((charge,),) = con.execute("SELECT charge_id FROM attribution_anomalous_charges "
                                   "ORDER BY charge_id LIMIT 1").fetchall()
    finally:
        con.close()
    return str(charge)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-start-"))
    db = work / "sample.duckdb"
    charge = build_sample(db)
    env = {**os.environ, "AUDITLOG_DB": str(db), "COLUMNS": "80", "NO_COLOR": "1"}
    cli = [PYTHON, "-m", "auditlog"]
    commands = {
        "--help": [*cli, "--help"],
        "--version": [*cli, "--version"],
        "status": [*cli, "status"],
        "trace charge": [*cli, "trace", "charge", charge],
    }
    for argv in commands.values():  # warm the page cache and the unit-reads cache
        timed(argv, env)
    base: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        base.append(timed([PYTHON, "-c", "import duckdb"], env))
        for name, argv in commands.items():
            times[name].append(timed(argv, env))
    bare = statistics.median(base)
    print(f"median of {args.runs} runs; bare `import duckdb`: {bare:.3f} s")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<14} {median:6.3f} s  {median / bare:5.2f}x")


if __name__ == "__main__":
    main()
