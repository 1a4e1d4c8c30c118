"""Golden-file tests of what people read: a command's output on the sample incident at
80 columns, without colour, compared with tests/golden/NAME.txt.

    from golden import assert_golden, cli_output, sample_db  # noqa: F401 (fixture)

    def test_findings_screen(sample_db):
        assert_golden("findings", cli_output(["findings"], sample_db))

A difference fails with a unified diff. When the change is intended, rewrite the files
and review them with `git diff tests/golden/` before committing:

    AUDITLOG_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_findings_screen.py

What varies from run to run (the time a run was made, the temporary database's path)
is replaced by a placeholder first (`scrub`); trailing spaces, which Rich pads table
lines with, are dropped from each line.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from pathlib import Path

import pytest
from typer.testing import CliRunner

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "AUDITLOG_UPDATE_GOLDEN"
WIDTH = 80
# The instant a command ran (a run's time, a finding's first and last seen, a triage),
# written as the CLI writes times to the minute; the sample's own times are in 2026-09/10.
NOW = re.compile(r"\b20\d\d-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?( UTC|Z)?")


@pytest.fixture(scope="module")
def sample_db(sample_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database holding the sample incident, every pack run once: a module's own copy
    of the template, so what one module writes (triage, review decisions) stays in it."""
    import shutil

    path = tmp_path_factory.mktemp("golden") / "sample.duckdb"
    shutil.copyfile(sample_db_template, path)
    yield path


def cli_output(args: Iterable[str], db: Path, *, exit_code: int = 0,
               env: dict[str, str] | None = None) -> str:
    """What `auditlog ARGS --db DB` prints on stdout at 80 columns without colour;
    the exit code must be `exit_code`."""
    from auditlog.cli import app

    result = CliRunner().invoke(app, [*args, "--db", str(db)],
                                env={"COLUMNS": str(WIDTH), "NO_COLOR": "1", **(env or {})})
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def run_times(since: str) -> Callable[[str], str]:
    """A scrub replacing every time on or after `since` (ISO date) with <now>: the
    times the tests made, not the sample's."""
    def scrub(text: str) -> str:
        return NOW.sub(lambda m: "<now>" if m.group(0)[:10] >= since else m.group(0), text)
    return scrub


def scrub_now(db: Path) -> Callable[[str], str]:
    """`run_times` from the day of the database's first run: the sample's own times
    lie before it."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        ((first,),) = con.execute("SELECT min(started_at) FROM runs").fetchall()
    return run_times(first.astimezone(UTC).strftime("%Y-%m-%d"))


def normalized(text: str, scrub: Callable[[str], str] | None) -> str:
    text = scrub(text) if scrub else text
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def assert_golden(name: str, text: str, *, scrub: Callable[[str], str] | None = None) -> None:
    """`text` (scrubbed, lines right-trimmed) equals tests/golden/NAME.txt, or is
    written there when AUDITLOG_UPDATE_GOLDEN=1."""
    path = GOLDEN_DIR / f"{name}.txt"
    got = normalized(text, scrub)
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; create it with {UPDATE_ENV}=1"
    want = path.read_text(encoding="utf-8")
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(keepends=True),
                                            got.splitlines(keepends=True),
                                            f"golden/{name}.txt", "output"))
        pytest.fail(f"output differs from golden/{name}.txt ({UPDATE_ENV}=1 rewrites "
                    f"it):\n{diff}", pytrace=False)
    for number, line in enumerate(got.splitlines(), 1):
        assert len(line) <= WIDTH, f"golden/{name}.txt line {number} is {len(line)} wide"
