"""Progress of long work: the library tells its caller through callbacks (no Rich below
the CLI), the CLI draws a bar on stderr only for a person at a terminal, and nothing of
it reaches piped output or JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from auditlog.cli.common import ProgressBar
from auditlog.ingest.pipeline import FileResult
from auditlog.investigation import Investigation
from auditlog.pack import load_rules
from auditlog.world import generate_world

BAR_GLYPHS = ("━", "╸", "╺")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    return generate_world(root / "world", customers=120, seed=41, days=21, formats="csv").out_dir


@pytest.fixture(scope="module")
def loaded(world: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple]]:
    """A database of the world, and every call its ingest made to the callback."""
    db = tmp_path_factory.mktemp("progress-db") / "p.duckdb"
    calls: list[tuple] = []
    with Investigation(db) as inv:
        inv.ingest_world(world, progress=lambda i, n, r: calls.append((i, n, r)))
    return db, calls


def test_ingest_tells_each_file_with_its_rows(loaded: tuple[Path, list[tuple]]) -> None:
    _, calls = loaded
    total = calls[0][1]
    assert [i for i, _, _ in calls] == list(range(total)) and total >= 5
    assert all(isinstance(r, FileResult) and r.rows_read > 0 for _, _, r in calls)


def test_run_tells_the_attribution_then_each_rule_as_it_starts(
        loaded: tuple[Path, list[tuple]]) -> None:
    db, _ = loaded
    calls: list[tuple[int, int, str]] = []
    with Investigation(db) as inv:
        report = inv.run(progress=lambda d, n, label: calls.append((d, n, label)))
    rules = sorted(r.id for r in load_rules())
    total = len(rules) + 1
    assert calls[0] == (0, total, "attribution")
    assert [label for _, _, label in calls[1:-1]] == rules
    assert [d for d, _, _ in calls] == list(range(total + 1))
    assert calls[-1][0] == calls[-1][1] == total
    assert report.rules == len(rules)


def test_export_tells_each_file_it_writes(loaded: tuple[Path, list[tuple]],
                                          tmp_path: Path) -> None:
    db, _ = loaded
    calls: list[tuple[int, int, str]] = []
    with Investigation(db) as inv:
        inv.run()
        manifest = inv.export(tmp_path / "out", ["csv", "xlsx"],
                              progress=lambda d, n, label: calls.append((d, n, label)))
    labels = [label for _, _, label in calls]
    assert labels[0] == "reading the database" and labels[-1] == "manifest.json"
    assert sorted(labels[1:-1]) == sorted(f["path"] for f in manifest["files"])
    assert calls[-1][0] == calls[-1][1]


def test_the_bar_draws_on_a_terminal_and_not_when_asked_not_to() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    with ProgressBar("rules", enabled=True, on=terminal) as bar:
        bar.steps(1, 3, "grant_without_approval")
    assert "grant_without_approval" in screen.getvalue()
    quiet = io.StringIO()
    with ProgressBar("rules", enabled=False,
                     on=Console(file=quiet, force_terminal=True)) as bar:
        bar.steps(1, 3, "grant_without_approval")
    assert quiet.getvalue() == ""


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUDITLOG_DB": str(db), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "auditlog", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=600)


def test_piped_output_holds_no_progress(loaded: tuple[Path, list[tuple]], world: Path,
                                        tmp_path: Path) -> None:
    db, _ = loaded
    ran = cli("run", db=db)
    assert ran.returncode == 0, ran.stderr
    exported = cli("export", "--out", str(tmp_path / "out"), "-f", "csv", db=db)
    assert exported.returncode == 0, exported.stderr
    fresh = tmp_path / "fresh.duckdb"
    ingested = cli("ingest", "--format", "json", str(world / "billing"), db=fresh)
    assert ingested.returncode == 0, ingested.stderr
    json.loads(ingested.stdout)  # one JSON document, nothing else
    for done in (ran, exported, ingested):
        text = done.stdout + done.stderr
        assert not any(glyph in text for glyph in BAR_GLYPHS)
        assert "reading the database" not in text and "attribution" not in text
