"""A damaged Parquet file is refused in one sentence of ours naming the file, and the
database stays as it was."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()


def _good(path: Path) -> bytes:
    duckdb.sql(
        "COPY (SELECT 'c' || i AS charge_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS ts, "
        "'A' AS account, 'P' AS product, CAST(1.5 AS DECIMAL(18, 4)) AS amount "
        f"FROM range(50) t(i)) TO '{path}' (FORMAT parquet)")
    return path.read_bytes()


DAMAGES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated": (lambda d: d[: len(d) // 2],
                  "the file is truncated or damaged: it has no PAR1 footer at its end"),
    "wrong magic": (lambda d: b"XXXX" + d[4:],
                    "the file is not a Parquet file (it does not start with PAR1)"),
    "corrupt footer": (lambda d: d[:-8] + b"\xff\xff\xff\x7f" + d[-4:],
                       ("the file is truncated or damaged: its footer says its metadata is "
                       "2,147,483,647 bytes, more than the file's")),
    "zero bytes": (lambda d: b"", "the file is empty (0 bytes), not a Parquet file"),
    "a CSV renamed": (lambda d: b"charge_id,ts\nc1,2026-01-01T00:00:00Z\n",
                      "the file is not a Parquet file (it does not start with PAR1)"),
    "footer bytes scrambled": (lambda d: d[:-200] + b"\x00" * 192 + d[-8:],
                               ("the file is a damaged Parquet file: its metadata or pages "
                               "cannot be read")),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_parquet_file_is_one_sentence_and_changes_nothing(
        tmp_path: Path, damage: str) -> None:
    good = tmp_path / "good.parquet"
    data = _good(good)
    db = str(tmp_path / "a.duckdb")
    assert runner.invoke(app, ["ingest", str(good), "--db", db]).exit_code == 0
    before = runner.invoke(app, ["status", "--db", db, "--format", "json"]).stdout
    broken = tmp_path / "x.parquet"
    make, said = DAMAGES[damage]
    broken.write_bytes(make(data))
    # The app raises the InputError; main() words it "error: FILE: REASON", exit 2.
    result = runner.invoke(app, ["ingest", str(broken), "--db", db])
    assert type(result.exception).__name__ == "InputError"
    assert str(getattr(result.exception, "source", "")) == str(broken)
    assert str(result.exception).startswith(f"{broken}: {said}"), str(result.exception)
    assert runner.invoke(app, ["status", "--db", db, "--format", "json"]).stdout == before


def test_the_command_says_it_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "x.parquet"
    broken.write_bytes(b"")
    done = subprocess.run([sys.executable, "-m", "auditlog", "ingest", str(broken), "--db",
                           str(tmp_path / "a.duckdb")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: {broken}: the file is empty (0 bytes), not a "
                                   "Parquet file")
