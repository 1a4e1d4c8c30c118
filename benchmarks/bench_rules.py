#!/usr/bin/env python
"""Rule benchmark: every rule pack, and one charge trace, on a generated world scaled to
10M charges and 10M actions, against one plain DuckDB scan of the same database.

Not a test: it asserts nothing about time, it measures and prints.

    python benchmarks/bench_rules.py                       # 10M charges, 10M actions
    python benchmarks/bench_rules.py --charges 1000000 --actions 1000000   # quick run
    python benchmarks/bench_rules.py --profile             # + seconds of every rule

How the big database is built (the Python world generator writes ~100k rows/s and its
customers all share one incident, so it does not scale to 10M rows on its own):

  1. `generate_world(customers=3000, days=45, seed=7)` writes one carrier world
     (~9k charges, ~23k actions, the incident in it) and auditlog ingests it.
  2. DuckDB replicates that world N = ceil(charges / world charges) times, as N
     independent regions: in replica k > 0 every identifier (event, charge, order,
     change, ticket, session ids; every account: customers, operators, services,
     granters, approvers, managers; every system) gets the suffix `~r<k>`, and every
     time moves (k mod 12) weeks later (whole weeks keep weekdays and hours). Products,
     actions, channels and amounts stay. So every region holds its own incident: its
     own upgrade, service account, grant, stacked subscriptions and operator, and the
     remediation list of the big database is exactly N times the world's (checked with
     --check).
  3. Logins (customer and staff) are ~70% of the world's actions and take no part in
     attribution; in replicas k > 0 a fixed hash-chosen share of them is kept so that
     actions come out at --actions rows (everything else is kept whole).
  Rows are inserted in time order, as logs arrive. The database is kept in --data-dir
  (default bench-data/, git-ignored) and reused when its row counts are right.

Measurements, each in a fresh Python process so that its peak RSS is its own, with
DuckDB limited to --memory-limit and --threads. The memory limit defaults to the
product's (store/memory.py: min(3 GiB, 40% of RAM)) and reaches every connection a
child opens, the run's writer included (AUDITLOG_MEMORY_LIMIT), so that the peak RSS
printed for each child is what a user's `auditlog run` would reach:

  scan   one plain DuckDB scan of every column of every table:
         SELECT count(*), sum(hash(c)) for each column c, per table.
  run    run_packs(db, every rule): what `auditlog run` does (shared views computed once
         as TEMP tables, every rule, findings merged into the store).
  model  the attribution model alone: every shared view of queries/shared/ computed into
         a TEMP table, one after the other, as a run does before its rules; the fastest
         of three rounds, with each view's seconds. Compare two versions of the model by
         running the benchmark once with each on the same --data-dir.
  trace  open the database read-only, then trace_charge() of one anomalous charge
         (timed after the open), and of one ordinary charge.
  check  (--check) the remediation list: N times the world's, charge for charge.

Results go to the terminal and to benchmarks/results/rules-<UTC date>.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import cpu_seconds, machine_info, peak_rss_mb, remove_db

from auditlog.store.memory import MEMORY_ENV, default_memory_limit

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATA_DIR = REPO / "bench-data"
WORLD = {"customers": 3000, "days": 45, "seed": 7}
SHIFT_WEEKS = 12

# Columns that identify something (an id, an account, a system): suffixed per replica.
IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "actions": ("event_id", "actor", "system", "target_account", "order_id", "change_id",
                "session_id"),
    "privileges": ("event_id", "actor", "subject", "system", "ticket", "approver"),
    "changes": ("change_id", "system", "implementer", "approver", "ticket"),
    "charges": ("charge_id", "account", "refund_of", "order_id", "initiated_by", "system"),
    "accounts": ("account", "manager", "owner", "team"),
}
TABLES = tuple(IDENTIFIERS)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_in_children(doc: str | None, script: str, name: str,
                    modes: tuple[str, ...],
                    child: Callable[[str, Path, Path], dict[str, Any]]) -> None:
    """The main of a benchmark that times each of `modes` in a fresh process on one big
    generated world: `--child MODE` runs `child(mode, db, data_dir)` and prints its
    figures as JSON; without it, the world is built once and every mode run in turn,
    the figures written to results/<name>-<rows>.json."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--memory-limit", default=default_memory_limit())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=modes)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.db, args.data_dir)))
        return
    args.data_dir.mkdir(parents=True, exist_ok=True)
    db, info = build_big(args.data_dir, args.rows, args.rows, args.memory_limit,
                         args.threads)
    results: dict[str, Any] = {"machine": machine_info(), "build": info}
    for mode in modes:
        out = subprocess.run([sys.executable, script, "--child", mode, "--db", str(db),
                              "--data-dir", str(args.data_dir)],
                             check=True, capture_output=True, text=True,
                             env={**os.environ, MEMORY_ENV: args.memory_limit}).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
        log(f"{mode}: {results[mode]}")
        if isinstance(results[mode], dict) and "peak_rss_mb" in results[mode]:
            log(f"{mode}: peak RSS {results[mode]['peak_rss_mb']:,.0f} MB "
                f"(memory limit {args.memory_limit})")
    RESULTS_DIR.mkdir(exist_ok=True)
    target = RESULTS_DIR / f"{name}-{args.rows}.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    log(f"written {target}")


# --- building the database ---------------------------------------------------------------


def build_world(data_dir: Path) -> Path:
    """Generate the base world and ingest it the way its sources.json says."""
    from auditlog import store
    from auditlog.ingest import ingest_paths
    from auditlog.world import generate_world

    world = data_dir / f"world-{WORLD['seed']}"
    generate_world(world, formats="jsonl", **WORLD)  # type: ignore[arg-type]
    db = data_dir / f"world-{WORLD['seed']}.duckdb"
    remove_db(db)
    con = store.connect(db)
    for source in json.loads((world / "sources.json").read_text()):
        ingest_paths(con, [world / source["path"]], kind=source["kind"], tz=source["tz"])
    con.close()
    return db


def replica_select(con: duckdb.DuckDBPyConnection, table: str, keep_login: float) -> str:
    """SELECT of `table`'s rows for every replica k of range(n) (bound as $n)."""
    from auditlog.kinds import KINDS

    kind = KINDS[table]
    times = {c.name for c in kind.columns if c.type == "ts"}
    columns = [r[0] for r in con.execute(f"DESCRIBE base.{table}").fetchall()]
    shift = f"to_days(CAST((r.k % {SHIFT_WEEKS}) * 7 AS INTEGER))"
    parts = []
    for c in columns:
        if c in IDENTIFIERS[table]:
            parts.append(f"CASE WHEN r.k = 0 THEN t.{c} ELSE t.{c} || '~r' || r.k END AS {c}")
        elif c in times:
            parts.append(f"t.{c} + {shift} AS {c}")
        else:
            parts.append(f"t.{c}")
    where = ""
    if table == "actions":
        # Thin logins in replicas k > 0 by a fixed hash of the row and replica.
        where = (f"WHERE r.k = 0 OR lower(t.action) <> 'login' "
                 f"OR hash(t.event_id, r.k) % 1000000 < {int(keep_login * 1_000_000)}")
    order = kind.time_column
    return (f"SELECT {', '.join(parts)} FROM base.{table} AS t "
            f"CROSS JOIN (SELECT range AS k FROM range($n)) AS r {where} "
            f"ORDER BY {order}, {kind.id_column}")


def build_big(data_dir: Path, charges: int, actions: int, memory_limit: str,
              threads: int) -> tuple[Path, dict[str, Any]]:
    from auditlog import store
    from auditlog.store.database import SCHEMA_VERSION

    base_db = build_world(data_dir)
    base = duckdb.connect(str(base_db), read_only=True)
    counts = {t: base.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
              for t in TABLES}
    (logins,) = base.execute(
        "SELECT count(*) FROM actions WHERE lower(action) = 'login'").fetchone()  # type: ignore[misc]
    base.close()
    n = math.ceil(charges / counts["charges"])
    others = counts["actions"] - logins
    keep = min(1.0, max(0.0, (actions - counts["actions"] - (n - 1) * others)
                        / max(1, (n - 1) * logins)))
    db = data_dir / f"rules-{charges}-{actions}.duckdb"
    # The schema version too: a database an older auditlog wrote is refused, not reused.
    plan = {"world": WORLD, "world_rows": counts, "replicas": n, "login_share_kept": keep,
            "db": str(db), "schema_version": SCHEMA_VERSION}
    marker = db.with_name(db.name + ".json")
    if db.exists() and marker.exists() and json.loads(marker.read_text()).get("plan") == plan:
        log(f"reusing {db.name}")
        return db, json.loads(marker.read_text())
    remove_db(db)
    marker.unlink(missing_ok=True)
    log(f"building {db.name}: {n} replicas of a {counts['charges']:,}-charge world, "
        f"{keep:.1%} of replica logins kept")
    started = time.perf_counter()
    con = store.connect(db)
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("ATTACH ? AS base (READ_ONLY)", [str(base_db)])
    rows = {}
    for table in TABLES:
        t0 = time.perf_counter()
        con.execute(f"INSERT INTO {table} {replica_select(con, table, keep)}", {"n": n})
        rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        log(f"  {table}: {rows[table]:,} rows in {time.perf_counter() - t0:.1f} s")
    con.execute("DETACH base")
    con.close()
    info = {"plan": plan, "rows": rows, "build_seconds": round(time.perf_counter() - started, 1),
            "db_mb": round(db.stat().st_size / 1e6, 1)}
    marker.write_text(json.dumps(info, indent=2) + "\n")
    return db, info


# --- measurements (each in a child process) ----------------------------------------------


def limit(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    con.execute(f"SET threads = {int(args.threads)}")


def plain_scan(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    con = duckdb.connect(str(db), read_only=True)
    limit(con, args)
    started = time.perf_counter()
    rows = {}
    for table in TABLES:
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        sums = ", ".join(f"sum(hash({c}))" for c in columns)
        rows[table] = con.execute(f"SELECT count(*), {sums} FROM {table}").fetchone()[0]  # type: ignore[index]
    seconds = time.perf_counter() - started
    con.close()
    return {"seconds": seconds, "rows": rows}


def run_all(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from auditlog.analysis.findings import run_packs
    from auditlog.engines import sandbox
    from auditlog.engines.bounds import RuleBounds
    from auditlog.pack import load_rules

    # The sandbox opens its own connection: give it the same limits as the scan
    # (threads through its config, memory through the run's bounds).
    sandbox.SANDBOX_CONFIG.update(threads=args.threads)
    bounds = RuleBounds(memory=args.memory_limit)
    rules = load_rules()
    persisting = time_persisting()
    started = time.perf_counter()
    report = run_packs(db, rules, bounds=bounds)
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {"seconds": seconds, "rules": len(rules),
                           "findings": report.findings, "by_severity": report.by_severity,
                           "persist_seconds": {k: round(v, 2) for k, v in persisting.items()}}
    if args.profile:
        out["profile"] = profile_rules(db, rules)
    return out


def time_persisting() -> dict[str, float]:
    """Wrap the run's steps (analysis/findings.py) to time them within the run: wall
    seconds under the step's name, CPU seconds of the process under `<name> cpu`
    (nothing else runs in the child meanwhile), the child's peak RSS at the end of the
    step under `<name> peak_rss_mb`."""
    from auditlog.analysis import findings

    times: dict[str, float] = {}

    def timed(name: str, step: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), cpu_seconds()
            try:
                return step(*args, **kwargs)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - started
                times[f"{name} cpu"] = times.get(f"{name} cpu", 0.0) + cpu_seconds() - cpu
                # The child's peak RSS so far: which step first reached the run's peak.
                times[f"{name} peak_rss_mb"] = peak_rss_mb()
        return wrapper

    for name, attr in (("attribution", "persist_attribution"), ("rules", "run_on_engine"),
                       ("merge", "merge"), ("evidence", "persist_evidence")):
        setattr(findings, attr, timed(name, getattr(findings, attr)))
    return times


def profile_rules(db: Path, rules: list[Any]) -> dict[str, float]:
    """Seconds of the shared views and of every rule, run one by one as `run` runs them."""
    from auditlog.engines import sandbox
    from auditlog.engines.runner import run_rule

    started = time.perf_counter()
    # As the run's rules see them: the stored attribution it has just written, the
    # other shared views lazy over it (engines/sandbox.install_shared_views).
    con = sandbox.open_sandbox(db, materialize=True, use_stored=True)
    times = {"(shared views)": time.perf_counter() - started}
    for rule in sorted(rules, key=lambda r: r.id):
        t0 = time.perf_counter()
        run_rule(con, rule)
        times[rule.id] = time.perf_counter() - t0
    con.close()
    return {k: round(v, 3) for k, v in sorted(times.items(), key=lambda kv: -kv[1])}


def trace_one(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    from auditlog import store
    from auditlog.analysis.attribution import trace_charge

    con = store.connect(db, read_only=True)
    limit(con, args)
    out: dict[str, Any] = {}
    for label, charge_id in (("anomalous", args.charge), ("ordinary", args.ordinary)):
        started = time.perf_counter()
        trace = trace_charge(con, charge_id)
        out[label] = {"charge_id": charge_id, "seconds": time.perf_counter() - started,
                      "anomalous": trace.anomalous, "steps": [s.step for s in trace.chain]}
    out["timeline"] = timelines(con, args.charge)
    con.close()
    out["seconds"] = out["anomalous"]["seconds"]
    return out


def timelines(con: duckdb.DuckDBPyConnection, charge_id: str) -> dict[str, Any]:
    """Seconds of `auditlog timeline` for the charged customer and the responsible
    service account of the traced charge (findings flags included)."""
    from auditlog.analysis.timeline import timeline

    suffix = charge_id.partition("~")[2]
    (customer,) = con.execute("SELECT account FROM charges WHERE charge_id = ?",
                              [charge_id]).fetchone()  # type: ignore[misc]
    out: dict[str, Any] = {}
    for label, filters in (("customer", {"customer": customer}),
                           ("service_account", {"account": "svc-order-sync"
                                                + (f"~{suffix}" if suffix else "")})):
        started = time.perf_counter()
        frame = timeline(con, **filters)
        out[label] = {"seconds": round(time.perf_counter() - started, 3), "rows": frame.height,
                      **filters}
    return out


def check(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The big database's remediation list is the world's, once per replica."""
    from auditlog import store
    from auditlog.analysis.attribution import remediation

    info = json.loads(db.with_name(db.name + ".json").read_text())
    truth_file = Path(args.data_dir) / f"world-{WORLD['seed']}" / "ground_truth" / "remediation.csv"
    with truth_file.open(newline="", encoding="utf-8") as f:
        truth = list(csv.DictReader(f))
    con = store.connect(db, read_only=True)
    limit(con, args)
    started = time.perf_counter()
    frame = remediation(con)
    seconds = time.perf_counter() - started
    con.close()
    n = info["plan"]["replicas"]
    base = {r["charge_id"]: (r["change_id"], r["actor"], r["refunded"]) for r in truth}
    got = {(r["charge_id"], r["change_id"], r["actor"], r["refunded"])
           for r in frame.select("charge_id", "change_id", "actor", "refunded").iter_rows(named=True)}
    want = set()
    for k in range(n):
        sfx = "" if k == 0 else f"~r{k}"
        for cid, (change, actor, refunded) in base.items():
            want.add((cid + sfx, (change + sfx) if change else None, actor + sfx,
                      refunded == "true"))
    return {"seconds": seconds, "rows": frame.height, "expected_rows": len(want),
            "identical": got == want}


def model_views(db: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The shared views computed into TEMP tables, three rounds; the fastest round."""
    from auditlog.pack.units import shared_units

    con = duckdb.connect(str(db), read_only=True)
    limit(con, args)
    con.execute("SET TimeZone = 'UTC'")
    rounds, cpu = [], []
    for _ in range(3):
        views: dict[str, float] = {}
        before = cpu_seconds()
        for unit in shared_units():
            name = unit.name
            con.execute(f"DROP TABLE IF EXISTS {name}")
            started = time.perf_counter()
            con.execute(f"CREATE TEMP TABLE {name} AS\n{unit.body}\n")
            views[name] = round(time.perf_counter() - started, 3)
        rounds.append(views)
        cpu.append(round(cpu_seconds() - before, 2))
    con.close()
    best = min(rounds, key=lambda views: sum(views.values()))
    # CPU of the cheapest round (the child's cpu_seconds covers all three).
    return {"seconds": sum(best.values()), "round_cpu_seconds": min(cpu), "views": best,
            "rounds": [round(sum(r.values()), 2) for r in rounds]}


CHILDREN = {"scan": plain_scan, "rescan": plain_scan, "run": run_all, "model": model_views,
            "trace": trace_one, "check": check}


def forget_findings(db: Path) -> None:
    """Back to a freshly ingested database: no findings, no stored attribution."""
    from auditlog.store.attribution import (
        EVIDENCE_STATE,
        EVIDENCE_TABLE,
        STATE_TABLE,
        STORED_VIEWS,
        stored_name,
    )

    con = duckdb.connect(str(db))
    for table in ("findings", "runs", STATE_TABLE, EVIDENCE_TABLE, EVIDENCE_STATE,
                  *(stored_name(v) for v in STORED_VIEWS)):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute("CHECKPOINT")
    con.close()


def child_main(args: argparse.Namespace) -> None:
    # Imports are not what is measured.
    import auditlog.analysis.attribution
    import auditlog.analysis.findings  # noqa: F401

    before = cpu_seconds()
    out = CHILDREN[args.child](Path(args.db), args)
    # CPU time of all threads: less sensitive than wall time to other work on the machine.
    out["cpu_seconds"] = round(cpu_seconds() - before, 2)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("BENCH-RESULT " + json.dumps(out, default=str))


def measure(mode: str, db: Path, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, "--db", str(db),
           "--memory-limit", args.memory_limit, "--threads", str(args.threads),
           "--data-dir", str(args.data_dir), *extra]
    if args.profile:
        cmd.append("--profile")
    # Other work on the machine skews a timing; the load average is kept with it.
    load = os.getloadavg()[0]
    started = time.perf_counter()
    # Every connection of the child (the run's writer too) under the same memory limit.
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, MEMORY_ENV: args.memory_limit})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1],
                "returncode": proc.returncode}
    out: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH-RESULT "))
    out["wall_seconds"] = round(time.perf_counter() - started, 2)
    out["loadavg_before"] = round(load, 2)
    return out


def sample_charges(args: argparse.Namespace, replicas: int) -> tuple[str, str]:
    """An anomalous charge of a replica in the middle, and an ordinary one of the same."""
    world = Path(args.data_dir) / f"world-{WORLD['seed']}"
    with (world / "ground_truth" / "remediation.csv").open(newline="", encoding="utf-8") as f:
        anomalous = [r["charge_id"] for r in csv.DictReader(f)]
    ordinary = None
    with (world / "billing" / "charges.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("type", "one_time") == "one_time" and row["charge_id"] not in anomalous:
                ordinary = row["charge_id"]
                break
    sfx = f"~r{replicas // 2}" if replicas > 1 else ""
    return anomalous[len(anomalous) // 2] + sfx, f"{ordinary}{sfx}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--charges", type=int, default=10_000_000)
    parser.add_argument("--actions", type=int, default=10_000_000)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--memory-limit", default=default_memory_limit())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="seconds of every rule")
    parser.add_argument("--check", action="store_true",
                        help="check the remediation list against N x the world's truth")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--charge", help=argparse.SUPPRESS)
    parser.add_argument("--ordinary", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    db, built = build_big(args.data_dir, args.charges, args.actions, args.memory_limit,
                          args.threads)
    charge, ordinary = sample_charges(args, built["plan"]["replicas"])
    forget_findings(db)  # every benchmark measures a first run
    results: dict[str, Any] = {}
    for mode in ("scan", "run", "rescan", "model", "trace", *(("check",) if args.check else ())):
        log(f"{mode} ...")
        results[mode] = measure(mode, db, args, ["--charge", charge, "--ordinary", ordinary])
        log(f"  {json.dumps(results[mode])[:300]}")
    # The faster of the two scans, one before and one after the run, is the yardstick.
    scans = [results[m] for m in ("scan", "rescan") if "seconds" in results[m]]
    scan = min((r["seconds"] for r in scans), default=None)
    scan_cpu = min((r["cpu_seconds"] for r in scans), default=None)
    run = results["run"].get("seconds")
    run_cpu = results["run"].get("cpu_seconds")
    summary = {
        "rows": built["rows"], "db_mb": built["db_mb"],
        "scan_seconds": scan, "run_seconds": run,
        "run_vs_scan": round(run / scan, 2) if scan and run else None,
        "run_vs_scan_cpu": round(run_cpu / scan_cpu, 2) if scan_cpu and run_cpu else None,
        "model_seconds": results["model"].get("seconds"),
        "model_cpu_seconds": results["model"].get("round_cpu_seconds"),
        "trace_seconds": results["trace"].get("seconds"),
        "peak_rss_mb": {m: r.get("peak_rss_mb") for m, r in results.items()},
    }
    print_summary(summary, results)
    now = dt.datetime.now(dt.UTC)
    output = args.output or RESULTS_DIR / f"rules-{now:%Y-%m-%d}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(
        {"when": now.isoformat(timespec="seconds"), "machine": info,
         "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
         "memory_limit": args.memory_limit, "threads": args.threads, "build": built,
         "summary": summary, "results": results}, indent=2, default=str) + "\n")
    log(f"wrote {output}")


def print_summary(summary: dict[str, Any], results: dict[str, Any]) -> None:
    rows = summary["rows"]
    print(f"database: {rows['charges']:,} charges, {rows['actions']:,} actions, "
          f"{rows['privileges']:,} privileges, {rows['changes']:,} changes, "
          f"{rows['accounts']:,} accounts ({summary['db_mb']:,.0f} MB)")
    for mode, r in results.items():
        if "error" in r:
            print(f"{mode:6} ERROR {r['error']}")
            continue
        print(f"{mode:6} {r['seconds']:8.2f} s   CPU {r['cpu_seconds']:8.2f} s   "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB   "
              f"load average before {r['loadavg_before']}")
    print(f"attribution model (shared views, best of 3): {summary['model_seconds']} s, "
          f"CPU {summary['model_cpu_seconds']} s")
    print(f"all packs / one plain scan: {summary['run_vs_scan']}x wall, "
          f"{summary['run_vs_scan_cpu']}x CPU (target <= 15x); "
          f"one trace: {summary['trace_seconds']} s after open (target < 0.3 s)")
    steps = results["run"].get("persist_seconds") or {}
    if steps:
        print("run steps: " + ", ".join(
            f"{name} {seconds:.1f} s (CPU {steps.get(name + ' cpu', 0.0):.1f} s)"
            for name, seconds in steps.items() if " " not in name))
        print("peak RSS after each step: " + ", ".join(
            f"{name.split()[0]} {mb:,.0f} MB" for name, mb in steps.items()
            if name.endswith(" peak_rss_mb")))
    for label, t in (results["trace"].get("timeline") or {}).items():
        print(f"timeline of the {label.replace('_', ' ')}: {t['seconds']} s, {t['rows']} rows")
    for rule, seconds in (results["run"].get("profile") or {}).items():
        print(f"  {seconds:8.2f} s  {rule}")


if __name__ == "__main__":
    main()
