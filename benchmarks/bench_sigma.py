"""Sigma benchmark: SigmaHQ's 73 CloudTrail and Kubernetes audit rules (tests/data/sigma)
imported as packs and run by auditlog on N CloudTrail events, against the same rules'
detections evaluated over the raw JSON records with plain DuckDB (each record a JSON
value read by read_ndjson_objects, every field a path into it, no typed columns).

The events are the real CloudTrail samples of tests/data (OTRF, Stratus, Panther's test
events) repeated with fresh event ids and times, so the rules' hits scale with N.

    python benchmarks/bench_sigma.py                 # 1M events
    python benchmarks/bench_sigma.py --events 100000

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from auditlog.investigation import Investigation
from auditlog.pack.sigma.build import build_rules, condition_of
from auditlog.pack.sigma.convert import BuiltRule
from auditlog.pack.sigma.sql import condition_sql, record_field

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [ROOT / "tests" / "data" / "cloudtrail", ROOT / "tests" / "data" / "attacks"]
SIGMA = ROOT / "tests" / "data" / "sigma"


def sample_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(p for d in SAMPLES for p in d.rglob("*") if p.suffix in (".json",
                                                                                ".jsonl")):
        text = path.read_text(encoding="utf-8")
        try:
            whole = json.loads(text)
            found = whole.get("Records", [whole]) if isinstance(whole, dict) else whole
        except json.JSONDecodeError:
            found = [json.loads(line) for line in text.splitlines() if line.strip()]
        records += [r for r in found if isinstance(r, dict) and "eventName" in r]
    return records


def write_events(path: Path, n: int) -> None:
    base = sample_records()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            record = dict(base[i % len(base)])
            record["eventID"] = str(uuid.UUID(int=i))
            record["eventTime"] = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            record.pop("@timestamp", None)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def raw_json_seconds(events: Path, rules: list[BuiltRule]) -> tuple[float, int]:
    """Every rule's detection as a count over the raw records (plain DuckDB)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE raw AS SELECT json AS record FROM "
                f"read_ndjson_objects('{events}')")
    from sigma.collection import SigmaCollection

    wheres = []
    for rule in rules:
        (sigma_rule,) = SigmaCollection.load_ruleset([rule.path]).rules
        wheres.append(condition_sql(condition_of(sigma_rule), record_field("record"),
                                    "CAST(record AS VARCHAR)"))
    hits, began = 0, time.perf_counter()
    for where in wheres:
        ((count,),) = con.execute(f"SELECT count(*) FROM raw WHERE {where}").fetchall()
        hits += count
    seconds = time.perf_counter() - began
    con.close()
    return seconds, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sigma-") as tmp:
        work = Path(tmp)
        events = work / "cloudtrail.jsonl"
        began = time.perf_counter()
        write_events(events, args.events)
        print(f"{args.events:,} CloudTrail events written "
              f"({events.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - began:.1f} s")

        inv = Investigation(work / "x.duckdb", rules_dirs=[work / "packs"])
        began = time.perf_counter()
        inv.ingest([events])
        print(f"auditlog ingest: {time.perf_counter() - began:.1f} s")

        began = time.perf_counter()
        result = inv.import_sigma([SIGMA], work / "packs")
        print(f"import-sigma: {len(result.converted)} rules converted, "
              f"{len(result.refused)} refused, {time.perf_counter() - began:.1f} s")

        began = time.perf_counter()
        report = inv.run(packs=["sigma_aws_cloudtrail", "sigma_kubernetes_audit"])
        run_seconds = time.perf_counter() - began
        findings = inv.findings().height
        print(f"auditlog run (73 rules, DuckDB, findings stored): {run_seconds:.1f} s, "
              f"{findings:,} findings ({type(report).__name__})")

        rules = [b for b in build_rules(sorted(SIGMA.rglob("*.yml")))
                 if isinstance(b, BuiltRule)]
        with inv.connect() as con:
            began = time.perf_counter()
            for rule in rules:
                con.execute(f"SELECT count(*) FROM ({rule.sql})").fetchall()
            print(f"the 73 rules' SQL alone on the stored events: "
                  f"{time.perf_counter() - began:.1f} s")

        seconds, hits = raw_json_seconds(events, rules)
        print(f"the same detections over the raw JSON (plain DuckDB): {seconds:.1f} s, "
              f"{hits:,} hits (after loading the file as JSON values)")


if __name__ == "__main__":
    main()
