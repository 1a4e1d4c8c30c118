#!/usr/bin/env python
"""Trace after ingest and after forget (issue 14): on a database whose last run stored
the attribution, ingest a small file, time that ingest and one `trace charge` after the
open; then forget the file, time the forget and the trace again.

Not a test: it asserts nothing about time, it measures and prints.

    python benchmarks/bench_trace_refresh.py                  # 10M charges + 10M actions
    python benchmarks/bench_trace_refresh.py --rows 100000    # the quick one (make bench)
    python benchmarks/bench_trace_refresh.py --db PATH        # a database already built
    python benchmarks/bench_trace_refresh.py --check          # + stored == computed

The database is bench_rules.py's replicated world (built into --data-dir when missing;
`--db` takes a copy of it instead), run once with every rule when it has no stored
attribution, so that it starts as a database whose last run stored the attribution.
Two batches of new rows, each ingested, traced, forgotten and traced again:

  customer   3 actions and 3 charges of the customer of an anomalous charge in the middle
             replica, a day after that charge: an order its service account placed and
             billed (anomalous), an order the customer confirmed itself (authorized),
             and a charge without order_id that pairs by time with an order of its own.
  unrelated  5 logins of operators: rows that touch nothing the attribution reads.

Each step is a fresh process, as a command is: `ingest` and `forget` time the
Investigation call (the writer's open, its snapshot copy, the load or the removal, and
the refresh of the stored attribution and the storing of the coverage, each also timed
alone); before the batches the coverage is stored once when it is not fresh (as the
ingests that built a database leave it); `trace` opens the database
read-only and times trace_charge() after the open (as bench_rules' trace mode) of the
traced anomalous charge, of the new anomalous charge, and of an ordinary charge.
`--check` then compares, after the ingest and after the forget, every stored
attribution table with the views computed afresh, and each trace with the trace computed
without the stored tables (tens of seconds at 10M). After the forget the database holds
the rows it held before, so the benchmark can be run again on it.

Results go to the terminal and to benchmarks/results/trace-refresh-<rows>.json (--output).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import cpu_seconds, machine_info, peak_rss_mb

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATA_DIR = REPO / "bench-data"
NEW = "~t4new"  # suffix of every id the benchmark's files bring


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the files ------------------------------------------------------------------------------


def iso(value: Any) -> str:
    return str(value.isoformat())  # DuckDB gives the times in UTC (TimeZone set below)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, default=str) + "\n")
    return path


def write_files(db: Path, work: Path, charge_id: str) -> dict[str, Any]:
    """The two batches (see the docstring), from the rows of `charge_id`'s customer."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        ((ts, account, product, system, initiated_by, currency, amount),) = con.execute(
            "SELECT ts, account, product, system, initiated_by, currency, amount "
            "FROM charges WHERE charge_id = ?", [charge_id]).fetchall()
        ((service_system,),) = con.execute(
            "SELECT system FROM actions WHERE actor = ? ORDER BY ts LIMIT 1",
            [initiated_by]).fetchall()
        operators = [r[0] for r in con.execute(
            "SELECT DISTINCT actor FROM actions WHERE lower(action) = 'login' "
            "AND actor_type <> 'customer' ORDER BY actor LIMIT 5").fetchall()]
    finally:
        con.close()
    day = ts + timedelta(days=1)

    def action(n: int, at: Any, actor: str, actor_type: str, verb: str, order: str | None,
               channel: str) -> dict[str, Any]:
        return {"event_id": f"EV{n}{NEW}", "ts": iso(at), "actor": actor,
                "actor_type": actor_type, "action": verb, "system": service_system,
                "target_account": account, "object": product, "order_id": order,
                "channel": channel, "result": "success"}

    def charge(n: int, at: Any, order: str | None, initiated: str) -> dict[str, Any]:
        return {"charge_id": f"CH{n}{NEW}", "ts": iso(at), "account": account,
                "product": product, "amount": str(amount), "currency": currency,
                "type": "one_time", "order_id": order, "initiated_by": initiated,
                "system": system, "channel": "api"}

    minute = timedelta(minutes=1)
    actions = [
        action(1, day, initiated_by, "service", "subscribe", f"ORD1{NEW}", "api"),
        action(2, day + 30 * minute, account, "customer", "confirm_order", f"ORD2{NEW}", "web"),
        action(3, day + 31 * minute, account, "customer", "subscribe", None, "web"),
    ]
    charges = [
        charge(1, day + 2 * minute, f"ORD1{NEW}", initiated_by),
        charge(2, day + 32 * minute, f"ORD2{NEW}", account),
        charge(3, day + 33 * minute, None, account),
    ]
    logins = [{"event_id": f"EVL{n}{NEW}", "ts": iso(day + n * minute), "actor": op,
               "actor_type": "human", "action": "login", "system": "sso",
               "channel": "web", "result": "success"} for n, op in enumerate(operators)]
    customer = work / "customer"
    return {
        "customer": {"files": [str(write_jsonl(customer / "actions.jsonl", actions)),
                               str(write_jsonl(customer / "charges.jsonl", charges))],
                     "kinds": ["actions", "charges"], "new_anomalous": f"CH1{NEW}"},
        "unrelated": {"files": [str(write_jsonl(work / "unrelated" / "logins.jsonl", logins))],
                      "kinds": ["actions"], "new_anomalous": None},
    }


# --- the steps, each in a child process -------------------------------------------------------


def timed_refresh() -> dict[str, float]:
    """Time the refresh of the stored attribution inside an ingest or a forget, whichever
    function this version of auditlog refreshes it with."""
    import importlib

    seconds: dict[str, float] = {}
    for module_name, name in (("auditlog.analysis.findings", "refresh_stored_attribution"),
                              ("auditlog.analysis.stored_refresh", "refresh_after")):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        step = getattr(module, name, None)
        if step is not None:
            setattr(module, name, timing(step, seconds, "refresh"))
    return seconds


def timed_coverage() -> dict[str, float]:
    """Time the storing of the coverage inside an ingest or a forget (each module holds
    its own reference to store_coverage; an older forget stores none)."""
    import importlib

    seconds: dict[str, float] = {}
    for module_name in ("auditlog.ingest.pipeline", "auditlog.ingest.forget"):
        module = importlib.import_module(module_name)
        step = getattr(module, "store_coverage", None)
        if step is not None:
            module.store_coverage = timing(step, seconds, "coverage")
    return seconds


def timing(step: Any, seconds: dict[str, float], key: str) -> Any:
    """`step`, adding its wall seconds to seconds[key] and its CPU seconds to
    seconds["cpu"] at every call."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), cpu_seconds()
        try:
            return step(*args, **kwargs)
        finally:
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started
            seconds["cpu"] = seconds.get("cpu", 0.0) + cpu_seconds() - cpu
    return wrapper


def step_ingest(db: Path, spec: dict[str, Any]) -> dict[str, Any]:
    import auditlog

    refresh = timed_refresh()
    covered = timed_coverage()
    started = time.perf_counter()
    loaded = 0
    with auditlog.open(db) as inv:
        for path, kind in zip(spec["files"], spec["kinds"], strict=True):
            frame = inv.ingest(path, kind=kind)
            loaded += int(frame["loaded"].sum())
    return {"seconds": time.perf_counter() - started, "loaded": loaded,
            "refresh_seconds": refresh.get("refresh"), "refresh_cpu_seconds": refresh.get("cpu"),
            "coverage_seconds": covered.get("coverage"),
            "coverage_cpu_seconds": covered.get("cpu")}


def step_forget(db: Path, spec: dict[str, Any]) -> dict[str, Any]:
    import auditlog

    refresh = timed_refresh()
    covered = timed_coverage()
    started = time.perf_counter()
    with auditlog.open(db) as inv:
        frame = inv.forget(spec["files"])
    return {"seconds": time.perf_counter() - started,
            "rows_removed": int(frame["rows_removed"].sum()),
            "refresh_seconds": refresh.get("refresh"), "refresh_cpu_seconds": refresh.get("cpu"),
            "coverage_seconds": covered.get("coverage"),
            "coverage_cpu_seconds": covered.get("cpu")}


def step_coverage(db: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Store the coverage as an ingest leaves it, when it is not fresh: a database built
    by ingests has it, one built by direct loads (bench_rules') has not."""
    from auditlog import store
    from auditlog.ingest.coverage import store_coverage, stored_coverage

    con = store.connect(db)
    started = time.perf_counter()
    try:
        if stored_coverage(con) is not None:
            return {"stored": False, "seconds": 0.0}
        con.execute("BEGIN TRANSACTION")
        store_coverage(con)
        con.execute("COMMIT")
    finally:
        con.close()
    return {"stored": True, "seconds": time.perf_counter() - started}


def step_trace(db: Path, spec: dict[str, Any]) -> dict[str, Any]:
    from auditlog import store
    from auditlog.analysis.attribution import trace_charge
    from auditlog.values import as_json

    started = time.perf_counter()
    con = store.connect(db, read_only=True)
    out: dict[str, Any] = {"open_seconds": time.perf_counter() - started}
    try:
        for label, charge_id in spec["charges"].items():
            if charge_id is None:
                continue
            t0, cpu = time.perf_counter(), cpu_seconds()
            trace = trace_charge(con, charge_id)
            out[label] = {"charge_id": charge_id, "seconds": time.perf_counter() - t0,
                          "cpu_seconds": cpu_seconds() - cpu,
                          "anomalous": trace.anomalous,
                          "change": trace.responsible.change_id,
                          "digest": hash_json(as_json(trace))}
    finally:
        con.close()
    return out


def hash_json(value: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def step_check(db: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Stored attribution tables against the views computed afresh (rows in one and not
    the other), and each trace against the one computed without the stored tables."""
    from auditlog import store
    from auditlog.analysis import attribution
    from auditlog.engines import sandbox
    from auditlog.pack.params import with_model_params
    from auditlog.pack.units import shared_units
    from auditlog.store.attribution import STORED_VIEWS, fresh_stored_views, stored_name
    from auditlog.store.runs import latest_run_params
    from auditlog.values import as_json

    con = store.connect(db, read_only=True)
    try:
        units = with_model_params(shared_units(), latest_run_params(con))
        out: dict[str, Any] = {"fresh": sorted(fresh_stored_views(con, units))}
        stored = {t: attribution.trace_charge(con, c) for t, c in spec["charges"].items() if c}
        sandbox.install_shared_views(con, use_stored=False)
        differ = {}
        for view in STORED_VIEWS:
            ((n,),) = con.execute(
                f"SELECT count(*) FROM ((SELECT * FROM {stored_name(view)} EXCEPT ALL "
                f"SELECT * FROM {view}) UNION ALL (SELECT * FROM {view} EXCEPT ALL "
                f"SELECT * FROM {stored_name(view)}))").fetchall()
            differ[view] = n
        out["rows_differing"] = differ
        real = sandbox.install_shared_views

        def computed(c: Any, *args: Any, **kwargs: Any) -> None:
            real(c, *args, **{**kwargs, "use_stored": False})
        attribution.install_shared_views = computed  # type: ignore[assignment]
        out["traces_equal"] = {
            t: as_json(attribution.trace_charge(con, c)) == as_json(stored[t])
            for t, c in spec["charges"].items() if c}
    finally:
        con.close()
    return out


STEPS = {"ingest": step_ingest, "forget": step_forget, "trace": step_trace, "check": step_check,
         "coverage": step_coverage}


def child(mode: str, db: Path, spec_json: str) -> None:
    import auditlog.analysis.attribution  # noqa: F401  (imports are not what is measured)

    before = cpu_seconds()
    out = STEPS[mode](db, json.loads(spec_json))
    out["cpu_seconds"] = round(cpu_seconds() - before, 3)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("BENCH-RESULT " + json.dumps(out, default=str))


def measure(mode: str, db: Path, spec: dict[str, Any]) -> dict[str, Any]:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--db", str(db),
                           "--spec", json.dumps(spec)], capture_output=True, text=True,
                          check=False, env={**os.environ, "AUDITLOG_DB": str(db)})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{mode} failed:\n{proc.stderr}")
    out: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH-RESULT "))
    out["process_seconds"] = round(time.perf_counter() - started, 3)
    out["loadavg_before"] = round(load, 2)
    return out


# --- the database ---------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[Path, str, str]:
    """The database (built, or copied from --db), run once when it stores no attribution;
    with the traced anomalous charge and an ordinary one."""
    import bench_rules

    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if args.db is None:
        db, built = bench_rules.build_big(data_dir, args.rows, args.rows, "4GB", 2)
        replicas = built["plan"]["replicas"]
        target = db.with_name(f"trace-refresh-{args.rows}.duckdb")
    else:
        db = args.db.resolve()
        replicas = json.loads(db.with_name(db.name + ".json").read_text())["plan"]["replicas"]
        target = db.with_name(db.stem + "-trace-refresh.duckdb")
    if args.in_place:  # at 10M, no second copy of the database (the run leaves it as it was)
        target = db
    elif not target.exists() or target.stat().st_mtime < db.stat().st_mtime:
        log(f"copying {db.name} to {target.name}")
        shutil.copyfile(db, target)
    import duckdb

    con = duckdb.connect(str(target), read_only=True)
    try:
        stored = con.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_name = 'attribution_state'").fetchall()[0][0]
    finally:
        con.close()
    if not stored:
        log("running every rule once, so that the attribution is stored ...")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "auditlog", "run"], check=True,
                       env={**os.environ, "AUDITLOG_DB": str(target)},
                       stdout=subprocess.DEVNULL)
        log(f"  run: {time.perf_counter() - started:.1f} s")
    primed = measure("coverage", target, {})
    if primed["stored"]:
        log(f"  coverage stored (as an ingest leaves it): {primed['process_seconds']:.1f} s")
    charge, ordinary = bench_rules.sample_charges(argparse.Namespace(data_dir=data_dir),
                                                  replicas)
    return target, charge, ordinary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000,
                        help="charges and actions of the replicated world")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--db", type=Path, default=None,
                        help="a database bench_rules.py built (copied unless --in-place)")
    parser.add_argument("--in-place", action="store_true",
                        help="work on the built database itself, not on a copy of it")
    parser.add_argument("--check", action="store_true",
                        help="compare stored tables and traces with the computed ones")
    parser.add_argument("--batches", nargs="+", choices=("customer", "unrelated"),
                        default=["customer", "unrelated"])
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--child", choices=tuple(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db, args.spec)
        return
    db, charge, ordinary = prepare(args)
    work = db.with_name(db.stem + "-files")
    batches = write_files(db, work, charge)
    results: dict[str, Any] = {"machine": machine_info(), "db": str(db),
                               "commit": git_commit(), "traced": charge, "ordinary": ordinary}
    base = {"charges": {"traced": charge, "ordinary": ordinary}}
    results["before"] = measure("trace", db, base)
    for name, batch in batches.items():
        if name not in args.batches:
            continue
        traced = {"charges": {"traced": charge, "new_anomalous": batch["new_anomalous"],
                              "ordinary": ordinary}}
        log(f"{name}: ingest ...")
        out: dict[str, Any] = {"ingest": measure("ingest", db, batch)}
        out["trace_after_ingest"] = measure("trace", db, traced)
        if args.check:
            out["check_after_ingest"] = measure("check", db, traced)
        log(f"{name}: forget ...")
        out["forget"] = measure("forget", db, batch)
        out["trace_after_forget"] = measure("trace", db, base)
        if args.check:
            out["check_after_forget"] = measure("check", db, base)
        results[name] = out
        log(f"  {json.dumps(out)[:400]}")
    report(results)
    rows = args.rows if args.db is None else db.stem
    output = args.output or RESULTS_DIR / f"trace-refresh-{rows}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"written {output}")


def git_commit() -> str | None:
    proc = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def report(results: dict[str, Any]) -> None:
    before = results["before"]
    print(f"database {results['db']} (commit {results['commit']})")
    print("trace after open, before any ingest: " + ", ".join(
        f"{k} {v['seconds']:.3f} s (CPU {v['cpu_seconds']:.3f})"
        for k, v in before.items() if isinstance(v, dict)))
    for name in ("customer", "unrelated"):
        if name not in results:
            continue
        r = results[name]
        for step in ("ingest", "forget"):
            s = r[step]
            refresh = s.get("refresh_seconds")
            covered = s.get("coverage_cpu_seconds")
            print(f"{name:9} {step:6} {s['seconds']:7.2f} s  CPU {s['cpu_seconds']:7.2f} s  "
                  f"refresh {refresh if refresh is None else round(refresh, 2)} s  "
                  f"coverage CPU {covered if covered is None else round(covered, 2)} s  "
                  f"peak RSS {s['peak_rss_mb']:,.0f} MB  load {s['loadavg_before']}")
            t = r[f"trace_after_{step}"]
            traces = ", ".join(f"{k} {v['seconds']:.3f} s (CPU {v['cpu_seconds']:.3f})"
                               for k, v in t.items() if isinstance(v, dict))
            print(f"{'':9} trace after {step} (target <= 0.3 s): {traces}")
            check = r.get(f"check_after_{step}")
            if check:
                print(f"{'':9} stored == computed: rows differing {check['rows_differing']}, "
                      f"traces equal {check['traces_equal']}, fresh {len(check['fresh'])}")


if __name__ == "__main__":
    main()
