"""What keeping the verbatim source record costs (issue 12, item 4): `ingest` of one
CloudTrail file with records kept (as shipped) and without (the records' store step
replaced by a no-op), its wall and CPU time and the database's size.

The file replicates the real CloudTrail events of tests/data/cloudtrail (OTRF) to N lines
of JSON Lines, each event given an eventID of its own so every line is a new row. Each
measurement runs in a fresh process on a fresh database; the two modes alternate round by
round, so a change in the machine's load falls on both.

    .venv/bin/python benchmarks/bench_records.py            # 100k events, 3 rounds
    .venv/bin/python benchmarks/bench_records.py --events 1000000 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests/data/cloudtrail/otrf_ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl"
MODES = ("records", "no-records")


def build(path: Path, events: int) -> None:
    """`events` lines, the sample's events in turn, each with an eventID of its own and a
    random requestID (the original ids' text replaced in the line, so each line keeps its
    source's shape; the random id is what real logs have that compresses least)."""
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    events_ = [json.loads(line) for line in lines]
    rng = random.Random(12)
    with path.open("w", encoding="utf-8") as out:
        for n in range(events):
            line, event = lines[n % len(lines)], events_[n % len(lines)]
            line = line.replace(event["eventID"], f"{event['eventID'][:-12]}{n:012d}", 1)
            if event.get("requestID"):
                line = line.replace(event["requestID"], str(uuid.UUID(int=rng.getrandbits(128))), 1)
            out.write(line)
            out.write("\n")


def child(mode: str, file: str, db: str) -> None:
    """One ingest in this process; prints its wall and CPU seconds as JSON."""
    from auditlog import store
    from auditlog.ingest import ingest_paths, pipeline
    from auditlog.ingest.staging import KEPT, drop

    if mode == "no-records":
        def skip(con, sha256, kinds, source_format):  # type: ignore[no-untyped-def]
            drop(con, KEPT)
            return 0
        pipeline.store_kept = skip  # type: ignore[assignment]
    con = store.connect(db, snapshot=False)
    started, cpu = time.perf_counter(), time.process_time()
    (result,) = ingest_paths(con, [Path(file)])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    (records,) = con.execute("SELECT count(*) FROM source_records").fetchone() or (0,)
    con.execute("CHECKPOINT")
    con.close()
    print(json.dumps({"wall": wall, "cpu": cpu, "loaded": result.loaded, "records": records,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(mode: str, file: Path, db: Path) -> dict[str, float]:
    for leftover in (db, Path(f"{db}.wal")):
        leftover.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, __file__, "--child", mode, "--file", str(file),
                           "--db", str(db)], capture_output=True, text=True, check=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["db_mb"] = db.stat().st_size / 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--file")
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.db)
        return
    with tempfile.TemporaryDirectory(prefix="auditlog-bench-records-") as scratch:
        file = Path(scratch) / "cloudtrail.jsonl"
        build(file, args.events)
        print(f"{args.events} CloudTrail events, {file.stat().st_size / 1e6:.1f} MB; "
              f"load average {os.getloadavg()[0]:.1f}")
        runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for round_number in range(args.rounds):
            for mode in MODES:
                figures = measure(mode, file, Path(scratch) / f"{mode}.duckdb")
                runs[mode].append(figures)
                print(f"round {round_number + 1} {mode:10}  wall {figures['wall']:6.2f} s  "
                      f"cpu {figures['cpu']:6.2f} s  db {figures['db_mb']:7.1f} MB  "
                      f"records {int(figures['records'])}  rss {figures['rss_mb']:.0f} MB")
        print(f"load average {os.getloadavg()[0]:.1f}; medians:")
        for mode in MODES:
            med = {k: statistics.median(r[k] for r in runs[mode]) for k in runs[mode][0]}
            print(f"  {mode:10}  wall {med['wall']:6.2f} s  cpu {med['cpu']:6.2f} s  "
                  f"db {med['db_mb']:7.1f} MB")


if __name__ == "__main__":
    main()
