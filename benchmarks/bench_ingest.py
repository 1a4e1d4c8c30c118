#!/usr/bin/env python
"""Ingest benchmark: auditlog's `ingest_paths` against a plain DuckDB load of the same file.

Not a test: it asserts nothing about time, it measures and prints.

    python benchmarks/bench_ingest.py                          # 1M and 10M rows, JSONL, CSV, Parquet
    python benchmarks/bench_ingest.py --sizes 100000           # quick run
    python benchmarks/bench_ingest.py --sizes 1000000 --formats csv --profile
    python benchmarks/bench_ingest.py --sizes 1000000 --runs plain auditlog --repeat 3

For every (format, size) these measurements run, each in a fresh process so that its
peak RSS is its own:

  plain     CREATE TABLE with the `actions` columns (ts TIMESTAMPTZ, the rest VARCHAR),
            INSERT INTO ... SELECT * FROM read_json/read_csv(..., columns = {...}),
            into a new database file; for Parquet (whose file holds those types)
            CREATE TABLE t AS SELECT * FROM read_parquet(...); the floor any loader of
            this file pays.
  cli       `auditlog ingest FILE --kind actions --tz UTC` with AUDITLOG_DB a new
            database file: the command as a user runs it (interpreter start, imports,
            rendering included); its CPU and peak RSS are the child's (wait4).
  auditlog  ingest_paths(con, [file], kind="actions", tz="UTC") into a new database file:
            SHA-256 of the file, staging, validation, dedup, quarantine, commit.
  reload    the same call again on the same file into the database `auditlog` filled:
            every row is a duplicate, nothing is stored.

On a shared machine one timing can be far off: --repeat N interleaves N rounds and
prints the median ratio to plain (each round's ratio is to that round's plain run), and
every result keeps its CPU seconds and the load average before it.

Data files are generated with DuckDB itself into --data-dir (default bench-data/ at the
repository root, git-ignored), named by size, and reused when their row count is right.
Results go to the terminal and to benchmarks/results/ingest-<UTC date>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATA_DIR = REPO / "bench-data"
FORMATS = ("jsonl", "csv", "parquet")
DEFAULT_SIZES = (1_000_000, 10_000_000)

# The `actions` contract (auditlog/kinds.py), typed as a plain loader would type it.
COLUMNS: list[tuple[str, str]] = [
    ("event_id", "VARCHAR"),
    ("ts", "TIMESTAMPTZ"),
    ("actor", "VARCHAR"),
    ("actor_type", "VARCHAR"),
    ("action", "VARCHAR"),
    ("system", "VARCHAR"),
    ("target_account", "VARCHAR"),
    ("object", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("change_id", "VARCHAR"),
    ("channel", "VARCHAR"),
    ("result", "VARCHAR"),
    ("source_ip", "VARCHAR"),
    ("session_id", "VARCHAR"),
]


# --- data generation -------------------------------------------------------------------

# One row per i in range(n), pseudo-random but deterministic (hash of i and a salt):
# ~10k operator/service/customer actors, ~1M customer accounts, a few actions, systems
# and channels, orders on order actions, changes on admin actions, some NULLs.
GENERATOR_SQL = """
SELECT
  'evt-' || lpad(CAST(i AS VARCHAR), 10, '0') AS event_id,
  strftime(TIMESTAMP '2025-01-01 00:00:00' + to_milliseconds(i * 250 + r1 % 250),
           '%Y-%m-%dT%H:%M:%S.%gZ') AS ts,
  CASE WHEN a < 7000 THEN 'cust-' || lpad(CAST(a AS VARCHAR), 5, '0')
       WHEN a < 9500 THEN 'op.' || lpad(CAST(a AS VARCHAR), 5, '0')
       ELSE 'svc-' || lpad(CAST(a AS VARCHAR), 5, '0') END AS actor,
  CASE WHEN r2 % 50 = 0 THEN NULL
       WHEN a < 7000 THEN 'customer' WHEN a < 9500 THEN 'human' ELSE 'service' END
    AS actor_type,
  ['login', 'logout', 'view_account', 'subscribe', 'unsubscribe', 'confirm_order',
   'cancel_order', 'change_plan', 'top_up', 'reset_password', 'grant_bundle',
   'update_profile'][1 + r3 % 12] AS action,
  ['crm', 'billing', 'provisioning', 'selfcare', 'pos', 'mediation'][1 + r4 % 6] AS system,
  CASE WHEN r5 % 10 < 2 THEN NULL
       ELSE 'C' || lpad(CAST(r5 % 1000000 AS VARCHAR), 7, '0') END AS target_account,
  CASE WHEN r6 % 3 = 0 THEN NULL
       ELSE ['PKG-DATA-5G', 'PKG-DATA-20G', 'PKG-VOICE-300', 'PKG-ROAM-EU', 'PKG-TV-BASIC',
             'PKG-TV-SPORT', 'PKG-FIBER-1G', 'PKG-SMS-1000'][1 + r6 % 8] END AS object,
  CASE WHEN r3 % 12 IN (3, 4, 5, 6, 7, 8, 10)
       THEN 'ORD-' || lpad(CAST(i // 3 AS VARCHAR), 9, '0') END AS order_id,
  CASE WHEN a >= 7000 AND r7 % 20 = 0
       THEN 'CHG-' || lpad(CAST(r7 % 5000 AS VARCHAR), 5, '0') END AS change_id,
  ['app', 'web', 'counter', 'batch', 'api', 'sms', 'third_party', 'console'][1 + r7 % 8]
    AS channel,
  CASE WHEN r8 % 100 < 4 THEN 'failure' WHEN r8 % 100 < 10 THEN NULL ELSE 'success' END
    AS result,
  CASE WHEN r8 % 7 = 0 THEN NULL
       ELSE '10.' || (r1 % 256) || '.' || (r2 % 256) || '.' || (r4 % 254 + 1) END AS source_ip,
  CASE WHEN r2 % 5 = 0 THEN NULL
       ELSE 's-' || lpad(CAST(i // 17 AS VARCHAR), 9, '0') END AS session_id
FROM (
  SELECT i, CAST(hash(i, 'a') % 10000 AS BIGINT) AS a,
         CAST(hash(i, 1) % 1000000007 AS BIGINT) AS r1,
         CAST(hash(i, 2) % 1000000007 AS BIGINT) AS r2,
         CAST(hash(i, 3) % 1000000007 AS BIGINT) AS r3,
         CAST(hash(i, 4) % 1000000007 AS BIGINT) AS r4,
         CAST(hash(i, 5) % 1000000007 AS BIGINT) AS r5,
         CAST(hash(i, 6) % 1000000007 AS BIGINT) AS r6,
         CAST(hash(i, 7) % 1000000007 AS BIGINT) AS r7,
         CAST(hash(i, 8) % 1000000007 AS BIGINT) AS r8
  FROM range({n}) t(i)
)
ORDER BY i
"""


def data_file(data_dir: Path, fmt: str, n: int) -> Path:
    return data_dir / f"actions-{n}.{fmt}"


def count_rows(path: Path, fmt: str) -> int:
    con = duckdb.connect()
    if fmt == "parquet":
        (count,) = con.execute("SELECT count(*) FROM read_parquet($p)",  # type: ignore[misc]
                               {"p": str(path)}).fetchone()
        con.close()
        return int(count)
    if fmt == "csv":
        # Lines minus the header; the generator never writes a newline inside a field.
        sql = "SELECT count(*) - 1 FROM read_csv($p, columns = {'l': 'VARCHAR'}, " \
              "header = false, delim = chr(0), quote = '', escape = '', auto_detect = false)"
    else:
        sql = "SELECT count(*) FROM read_csv($p, columns = {'l': 'VARCHAR'}, " \
              "header = false, delim = chr(0), quote = '', escape = '', auto_detect = false)"
    (count,) = con.execute(sql, {"p": str(path)}).fetchone()  # type: ignore[misc]
    con.close()
    return int(count)


def ensure_data(data_dir: Path, fmt: str, n: int, log) -> Path:  # type: ignore[no-untyped-def]
    path = data_file(data_dir, fmt, n)
    marker = path.with_name(path.name + ".rows")
    if path.exists():
        # A marker written after a complete COPY saves recounting a 3 GB file.
        if marker.exists() and marker.read_text().strip() == str(n):
            return path
        if count_rows(path, fmt) == n:
            marker.write_text(f"{n}\n")
            return path
        log(f"  {path.name}: wrong row count, regenerating")
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".partial")
    options = {"jsonl": "FORMAT json", "csv": "FORMAT csv, HEADER",
               "parquet": "FORMAT parquet, COMPRESSION zstd"}[fmt]
    rows = GENERATOR_SQL.format(n=n)
    if fmt == "parquet":
        # A Parquet log holds its time as a timestamp column, not as text.
        rows = f"SELECT * REPLACE (CAST(ts AS TIMESTAMPTZ) AS ts) FROM ({rows})"
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"COPY ({rows}) TO '{tmp}' ({options})")
    con.close()
    tmp.rename(path)
    marker.write_text(f"{n}\n")
    log(f"  generated {path.name} ({path.stat().st_size / 1e6:,.0f} MB) "
        f"in {time.perf_counter() - started:.1f} s")
    return path


# --- measurements (run in a child process) ------------------------------------------------


def peak_rss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def run_plain(path: Path, fmt: str, db: Path) -> dict[str, object]:
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    ddl = ", ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
    spec = "{" + ", ".join(f"'{name}': '{sql_type}'" for name, sql_type in COLUMNS) + "}"
    started = time.perf_counter()
    if fmt == "parquet":
        con.execute("CREATE TABLE t AS SELECT * FROM read_parquet($p)", {"p": str(path)})
    else:
        reader = (f"read_json($p, format = 'newline_delimited', columns = {spec})"
                  if fmt == "jsonl" else f"read_csv($p, header = true, columns = {spec})")
        con.execute(f"CREATE TABLE t ({ddl})")
        con.execute(f"INSERT INTO t SELECT * FROM {reader}", {"p": str(path)})
    (rows,) = con.execute("SELECT count(*) FROM t").fetchone()  # type: ignore[misc]
    con.close()  # checkpoint included, as in the auditlog run
    return {"rows": int(rows), "seconds": time.perf_counter() - started}


def cpu_seconds() -> float:
    """CPU time of the whole process (all DuckDB threads), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TimedConnection:
    """Wraps a DuckDB connection to time every `execute` (auditlog runs ~20 per file):
    wall time, and CPU time, which a busy machine distorts less."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.timings: list[tuple[float, float, str]] = []

    def execute(self, sql: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        started, cpu = time.perf_counter(), cpu_seconds()
        result = self._con.execute(sql, *args, **kwargs)
        self.timings.append((time.perf_counter() - started, cpu_seconds() - cpu,
                             " ".join(sql.split())))
        return result

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._con, name)


def run_auditlog(path: Path, db: Path, profile: bool) -> dict[str, object]:
    from auditlog import store
    from auditlog.ingest import ingest_paths

    started = time.perf_counter()
    con = store.connect(db)
    target = TimedConnection(con) if profile else con
    results = ingest_paths(target, [path], kind="actions", tz="UTC")  # type: ignore[arg-type]
    con.close()
    seconds = time.perf_counter() - started
    (result,) = results
    out: dict[str, object] = {
        "rows": result.rows_read,
        "seconds": seconds,
        "loaded": result.loaded,
        "duplicates": result.duplicates,
        "quarantined": result.quarantined,
    }
    if profile:
        out["statements"] = [
            {"seconds": round(s, 3), "cpu_seconds": round(c, 3), "sql": sql[:160]}
            for s, c, sql in sorted(target.timings, reverse=True)  # type: ignore[union-attr]
            if s >= 0.05
        ]
    return out


def run_cli(path: Path, db: Path) -> dict[str, object]:
    """`auditlog ingest` as a user runs it, in a process of its own: this child waits
    for it alone, so RUSAGE_CHILDREN is that command's CPU and peak RSS."""
    command = [str(Path(sys.executable).with_name("auditlog")), "ingest", str(path),
               "--kind", "actions", "--tz", "UTC"]
    started = time.perf_counter()
    proc = subprocess.run(command, check=False, capture_output=True, text=True,
                          env={**os.environ, "AUDITLOG_DB": str(db)})
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"auditlog ingest failed: {proc.stderr.strip()[-300:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    con = duckdb.connect(str(db), read_only=True)
    (rows, loaded, duplicates, quarantined) = con.execute(  # type: ignore[misc]
        "SELECT rows_read, loaded, duplicates, quarantined FROM ingested_files").fetchone()
    con.close()
    peak = usage.ru_maxrss / (1 << 20) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return {"rows": rows, "seconds": seconds, "loaded": loaded, "duplicates": duplicates,
            "quarantined": quarantined, "peak_rss_mb": peak,
            "cpu_seconds": usage.ru_utime + usage.ru_stime}


def child_main(args: argparse.Namespace) -> None:
    path, db = Path(args.file), Path(args.db)
    if args.child == "cli":
        out = run_cli(path, db)
        print("BENCH-RESULT " + json.dumps(out))
        return
    if args.child == "plain":
        out = run_plain(path, args.format, db)
    else:
        out = run_auditlog(path, db, args.profile)
    out["peak_rss_mb"] = peak_rss_mb()
    # CPU time of all threads (user + system): less sensitive than wall time to other
    # work on the machine, and above `seconds` when DuckDB runs in parallel.
    out["cpu_seconds"] = cpu_seconds()
    print("BENCH-RESULT " + json.dumps(out))


# --- driver -----------------------------------------------------------------------------


def measure(mode: str, path: Path, fmt: str, db: Path, profile: bool,
            code: Path | None = None) -> dict[str, object]:
    """One measurement in a fresh process; `code`: a directory whose `auditlog` package
    (another commit's, see --baseline) is imported instead of this checkout's."""
    cmd = [sys.executable, __file__, "--child", mode, "--file", str(path),
           "--format", fmt, "--db", str(db)]
    if profile:
        cmd.append("--profile")
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    # Other work on the machine skews a timing; the 1-minute load average before the
    # run is kept with it so that a contended figure can be recognised.
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1],
                "returncode": proc.returncode, "wall_seconds": wall,
                "loadavg_before": round(load, 2)}
    out = json.loads(lines[-1].removeprefix("BENCH-RESULT "))
    out["wall_seconds"] = wall  # includes interpreter start and imports
    out["loadavg_before"] = round(load, 2)
    rows, seconds = out["rows"], out["seconds"]
    out["rows_per_second"] = rows / seconds if seconds else None
    return out


def remove_db(db: Path) -> None:
    for p in (db, db.with_name(db.name + ".wal"), db.with_name(db.name + ".tmp")):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def machine_info() -> dict[str, object]:
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    except (ValueError, OSError):
        ram = None
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                check=False, capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                     "auditlog"], check=False, capture_output=True,
                                    text=True).stdout)
    except OSError:
        commit, dirty = "", False
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(ram, 1) if ram else None,
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "auditlog_commit": commit,
        "auditlog_dirty": dirty,
    }


def fmt_num(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict[str, object]]) -> None:
    header = ["format", "rows", "run", "seconds", "rows/s", "peak RSS MB", "vs plain",
              "CPU s", "CPU vs plain", "load"]
    body = []
    for r in rows:
        body.append([
            str(r["format"]), f"{r['size']:,}", str(r["run"]),
            "ERROR: " + str(r["error"]) if "error" in r else fmt_num(r.get("seconds"), ".2f"),
            fmt_num(r.get("rows_per_second"), ",.0f"),
            fmt_num(r.get("peak_rss_mb"), ",.0f"),
            fmt_num(r.get("ratio_vs_plain"), ".2f") + ("x" if r.get("ratio_vs_plain") else ""),
            fmt_num(r.get("cpu_seconds"), ".1f"),
            fmt_num(r.get("cpu_ratio_vs_plain"), ".2f")
            + ("x" if r.get("cpu_ratio_vs_plain") else ""),
            fmt_num(r.get("loadavg_before"), ".1f"),
        ])
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Ingest of `actions` rows")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i in (0, 2) else "right")
        for line in body:
            table.add_row(*line)
        # As wide as the table needs: a figure is never cut (a narrow screen wraps lines).
        Console(width=max(400, shutil.get_terminal_size().columns)).print(table)
    except ImportError:
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for line in body:
            print("  ".join(c.rjust(w) for c, w in zip(line, widths)))


def measure_all(  # type: ignore[no-untyped-def]
    args: argparse.Namespace, path: Path, fmt: str, n: int, size_mb: float, db_dir: Path,
    repeat: int, log,
) -> list[dict[str, object]]:
    """One round of the requested runs on one file; ratios are to this round's plain."""
    rows: list[dict[str, object]] = []
    plain_seconds = plain_cpu = None
    db = db_dir / f"auditlog-{fmt}-{n}.duckdb"
    remove_db(db)
    # With --baseline, each cli and auditlog run is followed by the same run of the
    # baseline's code ("cli@baseline"), interleaved in the same round.
    runs = [r for run in args.runs for r in (
        [run, f"{run}@baseline"] if args.baseline and run in ("cli", "auditlog") else [run])]
    for run in runs:
        code = args.baseline if run.endswith("@baseline") else None
        if run == "reload" and "auditlog" not in args.runs:
            continue
        if run == "plain":
            plain_db = db_dir / f"plain-{fmt}-{n}.duckdb"
            remove_db(plain_db)
            out = measure("plain", path, fmt, plain_db, False)
            db_mb = plain_db.stat().st_size / 1e6 if plain_db.exists() else None
            if not args.keep_db:
                remove_db(plain_db)
        elif run.startswith("cli"):
            cli_db = db_dir / f"cli-{fmt}-{n}.duckdb"
            remove_db(cli_db)
            out = measure("cli", path, fmt, cli_db, False, code)
            db_mb = cli_db.stat().st_size / 1e6 if cli_db.exists() else None
            if not args.keep_db:
                remove_db(cli_db)
        elif code is not None:
            base_db = db_dir / f"baseline-{fmt}-{n}.duckdb"
            remove_db(base_db)
            out = measure("auditlog", path, fmt, base_db, args.profile, code)
            db_mb = base_db.stat().st_size / 1e6 if base_db.exists() else None
            remove_db(base_db)
        else:
            out = measure("auditlog", path, fmt, db, args.profile)
            db_mb = db.stat().st_size / 1e6 if db.exists() else None
        out.update(run=run, format=fmt, size=n, repeat=repeat, file_mb=round(size_mb, 1),
                   db_mb=round(db_mb, 1) if db_mb else None)
        if run == "plain" and "seconds" in out:
            plain_seconds, plain_cpu = out["seconds"], out["cpu_seconds"]
        if run != "plain" and plain_seconds and "seconds" in out:
            out["ratio_vs_plain"] = out["seconds"] / plain_seconds  # type: ignore[operator]
            # CPU of the whole process against plain's (both with interpreter start):
            # on a loaded machine this moves less than the wall-time ratio.
            out["cpu_ratio_vs_plain"] = out["cpu_seconds"] / plain_cpu  # type: ignore[operator]
        log(f"  {run} (round {repeat}): " + (
            f"error {out['error']}" if "error" in out else
            f"{out['seconds']:.2f} s, {out['rows_per_second']:,.0f} rows/s, "
            f"peak RSS {out['peak_rss_mb']:,.0f} MB, CPU {out['cpu_seconds']:.1f} s"))
        statements: list[dict[str, Any]] = out.get("statements", [])  # type: ignore[assignment]
        for statement in statements[:6]:
            log(f"      {statement['seconds']:8.2f} s  CPU {statement['cpu_seconds']:6.2f} s  "
                f"{statement['sql'][:90]}")
        rows.append(out)
    if not args.keep_db:
        remove_db(db)
    return rows


def print_medians(rows: list[dict[str, object]], log) -> None:  # type: ignore[no-untyped-def]
    """The median ratio to plain over the rounds: one round on a busy machine can be off."""
    for measure_key, what in (("ratio_vs_plain", "seconds"), ("cpu_ratio_vs_plain", "CPU")):
        groups: dict[tuple[object, object, object], list[float]] = {}
        for r in rows:
            if measure_key in r:
                key = (r["format"], r["size"], r["run"])
                groups.setdefault(key, []).append(float(r[measure_key]))  # type: ignore[arg-type]
        for (fmt, size, run), ratios in sorted(groups.items(), key=str):
            log(f"median {run} / plain ({what}), {fmt} {size:,} rows: "
                f"{statistics.median(ratios):.2f}x "
                f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--runs", nargs="+", choices=("plain", "auditlog", "reload", "cli"),
                        default=["plain", "cli", "auditlog", "reload"])
    parser.add_argument("--profile", action="store_true",
                        help="time every SQL statement auditlog runs and report the slow ones")
    parser.add_argument("--output", type=Path, default=None,
                        help="results JSON (default benchmarks/results/ingest-<date>.json)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a directory holding another commit's auditlog package (e.g. "
                             "git archive COMMIT auditlog | tar -x -C DIR): its cli and "
                             "auditlog runs are measured too, interleaved, for before/after")
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the runs per file, interleaved; prints median ratios")
    # Internal: one measurement in this (fresh) process.
    parser.add_argument("--child", choices=("plain", "auditlog", "cli"), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    data_dir: Path = args.data_dir.resolve()
    db_dir = data_dir / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    log(f"machine: {info['cores']} cores, {info['ram_gib']} GiB, duckdb {info['duckdb']}, "
        f"auditlog {info['auditlog_commit']}{' (dirty)' if info['auditlog_dirty'] else ''}")
    rows: list[dict[str, object]] = []
    for n in sorted(args.sizes):
        for fmt in args.formats:
            log(f"{fmt} {n:,} rows")
            path = ensure_data(data_dir, fmt, n, log)
            size_mb = path.stat().st_size / 1e6
            for repeat in range(1, args.repeat + 1):
                rows.extend(measure_all(args, path, fmt, n, size_mb, db_dir, repeat, log))
    print_table(rows)
    if args.repeat > 1:
        print_medians(rows, log)
    now = dt.datetime.now(dt.UTC)
    output = args.output or RESULTS_DIR / f"ingest-{now:%Y-%m-%d}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(
        {"when": now.isoformat(timespec="seconds"), "machine": info,
         "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "results": rows},
        indent=2) + "\n")
    log(f"wrote {output}")


if __name__ == "__main__":
    main()
