"""A CSV header that repeats a name is read the same way in a file of more than 200
columns (validate.WIDE, read as JSON rows) as in a narrow one: each name once, its value
the one its columns agree on, a conflict within the row where they differ; and a wide
file without repeats loads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
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


def _charges(path: Path, width: int, tail: list[str], rows: list[list[str]]) -> Path:
    """Charges with `width` columns: the contract's, fillers, then `tail` (names that
    repeat) with each row's values for them."""
    contract = ["charge_id", "ts", "account", "product", "amount"]
    fillers = [f"x{i}" for i in range(width - len(contract) - len(tail))]
    lines = [",".join(contract + fillers + tail)]
    for n, values in enumerate(rows, start=1):
        lines.append(",".join([f"C{n}", "2026-04-01T10:00:00Z", f"A{n}", "P", "9.50"]
                              + ["v"] * len(fillers) + values))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _load(path: Path, db: Path, name: str) -> tuple[dict[str, Any], list[tuple[Any, ...]],
                                                   list[tuple[Any, ...]]]:
    result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--kind", "charges",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    con = duckdb.connect(str(db), read_only=True)
    rows = [(charge, amount, product, json.loads(extra or "{}").get(name))
            for charge, amount, product, extra in con.execute(
                "SELECT charge_id, amount, product, extra FROM charges ORDER BY 1").fetchall()]
    # The columns a reason names are numbered as in the file.
    quarantined = [(location, re.sub(r"columns [0-9, ]+", "columns ...", reason))
                   for location, reason in con.execute(
                       "SELECT location, reason FROM quarantine ORDER BY row_number").fetchall()]
    con.close()
    return {k: entry[k] for k in ("rows_read", "loaded", "quarantined")}, rows, quarantined


@pytest.mark.parametrize("tail", [["dup", "dup"], ["", ""], ["product", "product"]])
def test_a_wide_header_that_repeats_a_name_is_read_as_a_narrow_one(
        tmp_path: Path, tail: list[str]) -> None:
    # Agreeing, one empty, blank-padded, conflicting.
    rows = [["P", "P"], ["", "P"], ["P ", "P"], ["P", "Q"]]
    narrow = _load(_charges(tmp_path / "narrow.csv", 12, tail, rows), tmp_path / "n.duckdb",
                   tail[0])
    wide = _load(_charges(tmp_path / "wide.csv", 250, tail, rows), tmp_path / "w.duckdb",
                 tail[0])
    assert wide[0] == narrow[0] == {"rows_read": 4, "loaded": 3, "quarantined": 1}
    assert wide[1:] == narrow[1:]
    (location, reason), = wide[2]
    assert location == "line 5"
    assert reason.startswith("conflicting values for ")


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
