#!/usr/bin/env python
"""How long does a command take to start, against a bare `python -c "import duckdb"`?

Not a test: it measures and prints (issue 14's target: --help, --version, status and
trace each at most 2x the bare import). Each command runs as a fresh process, N times
interleaved with the baseline (so machine load hits both alike), after one warm-up of
each; the median is shown, of the wall time and of the process's CPU seconds (user +
system, from the child's rusage: on a shared machine the CPU ratio is the steadier
one). status and trace read the sample incident (ingest of sample_logs + run), trace
after the run (the stored attribution's point look-up).

A setup is a Python (its venv's packages) and optionally a source tree put first on
PYTHONPATH, so a before and an after run interleaved in one round:

    python benchmarks/bench_start.py                       # this venv, 9 runs each
    python benchmarks/bench_start.py --runs 21 --json benchmarks/results/start.json
    python benchmarks/bench_start.py --setup before=/tmp/venv29/bin/python@/tmp/old-src \\
        --setup after=.venv/bin/python

Each setup builds its own sample database and unit-reads cache in a temp directory,
and its own bytecode cache there (PYTHONPYCACHEPREFIX, written by the warm-up): an
installed package runs from compiled bytecode, while with PYTHONDONTWRITEBYTECODE set
(as in some shells and CI) every run would compile auditlog's ~45 modules from source
again, ~0.05 CPU s a command that no user pays. --no-bytecode-cache measures that case:
the environment as given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ("--help", "--version", "status", "trace charge")

# Run in the setup's own interpreter: the sample incident, then one anomalous charge's id.
BUILD = """
import sys
from pathlib import Path
import auditlog
from auditlog.ingest.world import sample_logs_dir
from auditlog.pack.units import builtin_unit_dirs
print(Path(auditlog.__file__).parent.parent)  # the tree this setup runs
print(builtin_unit_dirs()[0][0])  # and the SQL it reads
db = Path(sys.argv[1])
with auditlog.open(db) as inv:
    inv.ingest_world(sample_logs_dir())
    inv.run()
import duckdb
con = duckdb.connect(str(db), read_only=True)
((charge,),) = con.execute("SELECT charge_id FROM attribution_anomalous_charges "
                           "ORDER BY charge_id LIMIT 1").fetchall()
print(charge)
"""


@dataclass
class Setup:
    name: str
    python: str
    source: str | None
    env: dict[str, str]
    commands: dict[str, list[str]]
    cwd: Path  # its temp directory: never the repository (see prepare)
    tree: str  # the directory its auditlog package was imported from


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process, its output thrown away."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def parse_setup(text: str) -> tuple[str, str, str | None]:
    """'name=python' or 'name=python@source-dir'."""
    name, _, rest = text.partition("=")
    if not name or not rest:
        raise SystemExit(f"--setup {text!r}: expected NAME=PYTHON[@SOURCE]")
    python, _, source = rest.partition("@")
    return name, python, source or None


def prepare(name: str, python: str, source: str | None, work: Path, *,
            bytecode_cache: bool = True) -> Setup:
    here = work / name
    here.mkdir()
    # Every process runs in `here`: `python -m`/`-c` put the working directory first on
    # sys.path, so run from the repository every setup would import the repository's
    # auditlog whatever its PYTHONPATH (session 12's before and after were one tree).
    python = os.path.abspath(python)  # not resolved: a venv's python is a symlink
    source = os.path.abspath(source) if source else None
    # An editable install maps the package `auditlog.queries` to its own tree's queries/
    # whatever PYTHONPATH says: a tree from `git archive HEAD auditlog queries` gets the
    # link that makes it read its own SQL (else both setups read the repository's, and
    # the sample's stored attribution is stale for the one whose SQL it was not built
    # with: its trace recomputes the model).
    if source and (Path(source) / "queries").is_dir() \
            and not (Path(source) / "auditlog" / "queries").exists():
        (Path(source) / "auditlog" / "queries").symlink_to(Path(source) / "queries")
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1",
           "AUDITLOG_CACHE_DIR": str(here / "cache")}
    if bytecode_cache:  # compiled once (the build, the warm-up), read by every timed run
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(here / "pycache")
    if source:
        env["PYTHONPATH"] = source
    db = here / "sample.duckdb"
    built = subprocess.run([python, "-c", BUILD, str(db)], env=env, cwd=here,
                           capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise SystemExit(f"setup {name}: building the sample failed:\n{built.stderr}")
    lines = built.stdout.strip().splitlines()
    tree, sql, charge = lines[0], lines[1], lines[-1]
    if source and not Path(sql).resolve().is_relative_to(Path(source).resolve()):
        raise SystemExit(f"setup {name}: its SQL is read from {sql}, not from {source}")
    env["AUDITLOG_DB"] = str(db)
    cli = [python, "-m", "auditlog"]
    commands = {"--help": [*cli, "--help"], "--version": [*cli, "--version"],
                "status": [*cli, "status"], "trace charge": [*cli, "trace", "charge", charge]}
    return Setup(name, python, source, env, commands, here, tree)


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip()


def versions(python: str, env: dict[str, str]) -> dict[str, str]:
    probe = ("import json, importlib.metadata as m\n"
             "print(json.dumps({p: m.version(p) for p in ('duckdb', 'typer', 'rich')}))")
    done = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True,
                          check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--setup", action="append", default=[],
                        help="NAME=PYTHON[@SOURCE] (repeatable); default: this Python")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run in the environment as given (PYTHONDONTWRITEBYTECODE "
                             "set: every run compiles from source); default: each setup "
                             "gets its own bytecode cache")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-start-"))
    given = [parse_setup(text) for text in args.setup] or [("this", sys.executable, None)]
    cached = not args.no_bytecode_cache
    setups = [prepare(name, python, source, work, bytecode_cache=cached)
              for name, python, source in given]
    bare_env = {k: v for k, v in setups[0].env.items() if k != "PYTHONPATH"}
    bare = [setups[0].python, "-c", "import duckdb"]
    for setup in setups:  # warm the page cache and each setup's unit-reads cache
        for argv in setup.commands.values():
            timed(argv, setup.env, setup.cwd)
    timed(bare, bare_env, work)
    load_before = os.getloadavg()[0]
    base: list[tuple[float, float]] = []
    times = {(s.name, c): [] for s in setups for c in COMMANDS}
    for run in range(args.runs):
        # Every other round in the reverse order, so neither setup always runs first. On
        # a loaded machine (load 10-12) one tree given as two setups came out up to 10%
        # apart: differences below that are noise.
        ordered = setups if run % 2 == 0 else setups[::-1]
        base.append(timed(bare, bare_env, work))
        for setup in ordered:
            for name, argv in setup.commands.items():
                times[(setup.name, name)].append(timed(argv, setup.env, setup.cwd))
    load_after = os.getloadavg()[0]
    bare_wall = statistics.median(w for w, _ in base)
    bare_cpu = statistics.median(c for _, c in base)
    compiled = ("own bytecode cache per setup" if cached else
                "bytecode as the environment has it"
                + (" (PYTHONDONTWRITEBYTECODE set)"
                   if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""))
    print(f"median of {args.runs} runs, load {load_before:.1f} -> {load_after:.1f}, "
          f"{compiled}; bare `import duckdb`: {bare_wall:.3f} s wall, {bare_cpu:.3f} s CPU")
    results = []
    for setup in setups:
        print(f"{setup.name}: {setup.python}" + (f" @ {setup.source}" if setup.source else "")
              + f" (imports auditlog from {setup.tree})")
        for name in COMMANDS:
            values = times[(setup.name, name)]
            wall = statistics.median(w for w, _ in values)
            cpu = statistics.median(c for _, c in values)
            print(f"  {name:<14} {wall:6.3f} s {wall / bare_wall:5.2f}x wall   "
                  f"{cpu:6.3f} s {cpu / bare_cpu:5.2f}x CPU")
            results.append({"setup": setup.name, "command": name, "wall_seconds": wall,
                            "cpu_seconds": cpu, "wall_ratio": wall / bare_wall,
                            "cpu_ratio": cpu / bare_cpu,
                            "runs": [{"wall": w, "cpu": c} for w, c in values]})
    if args.json:
        document = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["bench_start.py", *sys.argv[1:]]),
            "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(),
                        "auditlog_commit": git("rev-parse", "--short", "HEAD"),
                        "auditlog_dirty": bool(git("status", "--porcelain", "auditlog"))},
            "loadavg": {"before": load_before, "after": load_after},
            "runs": args.runs,
            "bytecode_cache": cached,
            "pythondontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
            "bare": {"wall_seconds": bare_wall, "cpu_seconds": bare_cpu,
                     "runs": [{"wall": w, "cpu": c} for w, c in base]},
            "setups": [{"name": s.name, "python": s.python, "source": s.source,
                        "imports_auditlog_from": s.tree,
                        "packages": versions(s.python, s.env)} for s in setups],
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"written: {args.json}")
    shutil.rmtree(work, ignore_errors=True)  # the sample databases and caches


if __name__ == "__main__":
    main()
