"""The run's writer counts the findings it is handed in the memory limit (issue 14)."""

from __future__ import annotations

import duckdb
import pytest

from auditlog.store.memory import FLOOR, MEMORY_ENV, leave_room, size_bytes


def limit_of(con: duckdb.DuckDBPyConnection) -> int:
    ((text,),) = con.execute("SELECT current_setting('memory_limit')").fetchall()
    number, unit = text.split()
    return int(float(number) * {"MiB": 1024**2, "GiB": 1024**3, "KiB": 1024}[unit])


def test_sizes_in_bytes() -> None:
    assert size_bytes("3072MiB") == 3 * 1024**3
    assert size_bytes("6GB") == 6 * 1000**3
    assert size_bytes("1.5GiB") == 1536 * 1024**2
    with pytest.raises(ValueError):
        size_bytes("lots")


def test_leave_room_lowers_the_limit_by_what_is_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "2GiB")
    con = duckdb.connect()
    leave_room(con, 512 * 1024**2)
    assert limit_of(con) == 1536 * 1024**2
    # Holding more than the limit leaves DuckDB its floor, not nothing.
    leave_room(con, 10 * 1024**3)
    assert limit_of(con) == FLOOR
    con.close()
