"""A CSV header of more than 200 columns (validate.WIDE) that repeats a name is refused
in one sentence; a narrow one keeps the name as written, and a wide one without repeats
loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()


def _csv(path: Path, tail: list[str], values: list[str], width: int,
         account: str = "A1") -> Path:
    names = ["account"] + [f"x{i}" for i in range(width - 1 - len(tail))] + tail
    cells = [account] + ["v"] * (width - 1 - len(tail)) + values
    path.write_text(",".join(names) + "\n" + ",".join(cells) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("tail", [["dup", "dup"], ["", ""]])
def test_a_wide_header_that_repeats_a_name_is_refused(tmp_path: Path,
                                                      tail: list[str]) -> None:
    path = _csv(tmp_path / "wide.csv", tail, ["a", "a"], 250)
    db = str(tmp_path / "a.duckdb")
    result = runner.invoke(app, ["ingest", str(path), "--db", db, "--kind", "accounts"])
    assert type(result.exception).__name__ == "InputError"
    assert str(result.exception) == (
        f'{path}: cannot read as csv: its header of 250 columns names "{tail[0]}" more than '
        "once, which auditlog reads only in files of at most 200 columns: rename the "
        "repeated columns or drop the columns not needed")
    status = runner.invoke(app, ["status", "--db", db, "--format", "json"])
    assert str(path) not in status.stdout


def test_the_same_repeat_in_a_narrow_file_loads_and_a_wide_file_without_one(
        tmp_path: Path) -> None:
    db = str(tmp_path / "a.duckdb")
    narrow = _csv(tmp_path / "narrow.csv", ["dup", "dup"], ["a", "a"], 20)
    wide = _csv(tmp_path / "wide.csv", ["y1", "y2"], ["a", "b"], 250, account="A2")
    result = runner.invoke(app, ["ingest", str(narrow), str(wide), "--db", db, "--kind",
                                 "accounts", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count('"loaded": 1') == 2
    assert result.stdout.count('"quarantined": 0') == 2
