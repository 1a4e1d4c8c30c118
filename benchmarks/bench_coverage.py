"""Coverage benchmark: `coverage()` (spans, missing kinds, gaps) on a database of N actions
and N/2 charges spread over 8 systems and 13 weeks with a day/night rhythm and one
six-hour hole, against one plain grouped scan of the same tables (rows and time range
per system).

    python benchmarks/bench_coverage.py                 # 10M actions, 5M charges
    python benchmarks/bench_coverage.py --actions 1000000

Then the coverage an ingest keeps, read back (what status and the answers do while the
data is unchanged). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from auditlog import store
from auditlog.ingest.coverage import compute_coverage, coverage, store_coverage

WEEKS = 13
SYSTEMS = 8


def build(db: Path, actions: int, charges: int) -> None:
    """Rows drawn in SQL: times skewed to the day (hours 7-20 UTC five times as likely),
    with 2026-02-11 09:00-15:00 removed from system sys-3's actions."""
    con = store.connect(db)
    hours = WEEKS * 168
    for table, rows, extra in (
        ("actions", actions, "'op' || (i % 97) AS actor, 'login' AS action"),
        ("charges", charges, ("'CH' || i AS charge_id, 'C' || (i % 5000) AS account, "
                              "'P' AS product, 4.99 AS amount")),
    ):
        con.execute(f"""
            INSERT INTO {table} BY NAME
            SELECT * EXCLUDE (i) FROM (
                SELECT i, {extra}, 'sys-' || (i % {SYSTEMS}) AS system,
                       TIMESTAMPTZ '2026-01-05 00:00:00+00' + INTERVAL 1 SECOND * CAST(
                           floor(h * 3600 + (hash(i * 7) % 3600)) AS BIGINT) AS ts
                FROM (SELECT i, CASE WHEN hash(i * 3) % 6 = 0 THEN hash(i) % {hours}
                                     ELSE (hash(i) % ({hours} // 24)) * 24 + 7
                                          + hash(i * 5) % 14 END AS h
                      FROM range({rows}) AS r(i)))
            WHERE NOT ('{table}' = 'actions' AND system = 'sys-3'
                       AND ts >= TIMESTAMPTZ '2026-02-11 09:00:00+00'
                       AND ts < TIMESTAMPTZ '2026-02-11 15:00:00+00')""")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000_000)
    parser.add_argument("--charges", type=int, default=None, help="default: actions / 2")
    args = parser.parse_args()
    charges = args.charges if args.charges is not None else args.actions // 2
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        build(db, args.actions, charges)
        print(f"built {args.actions:,} actions, {charges:,} charges in "
              f"{time.perf_counter() - started:.1f} s")
        con = store.connect(db, read_only=True)
        started = time.perf_counter()
        # The scan status already made before coverage: rows and time range per system.
        for table in ("actions", "charges"):
            con.execute(f"SELECT system, count(*), min(ts), max(ts) FROM {table} "
                        "GROUP BY system").fetchall()
        scan = time.perf_counter() - started
        for attempt in range(3):
            started = time.perf_counter()
            cov = compute_coverage(con)
            took = time.perf_counter() - started
            print(f"coverage run {attempt + 1}: {took:.2f} s ({took / scan:.1f}x one grouped "
                  f"scan of both tables, {scan:.2f} s); {len(cov.sources)} sources, "
                  f"gaps: {[(g.system, str(g.start), str(g.end), g.expected) for g in cov.gaps]}")
        con.close()
        con = store.connect(db)  # as an ingest does, inside its transaction
        store_coverage(con)
        con.close()
        con = store.connect(db, read_only=True)
        for attempt in range(3):
            started = time.perf_counter()
            coverage(con)
            print(f"kept coverage read {attempt + 1}: {time.perf_counter() - started:.3f} s")
        con.close()


if __name__ == "__main__":
    main()
