"""The Parquet lake: day partitions in UTC, exact types, DuckDB reads back exactly what the
database holds, and `ingest --lake` only ever adds new files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app
from auditlog.engines.cases import build_fixture
from auditlog.errors import UsageError
from auditlog.kinds import KINDS
from auditlog.store.lake import check_lake, export_lake, lake_columns
from tests.conftest import write_rows

runner = CliRunner()

TABLES: dict[str, list[dict[str, Any]]] = {
    "charges": [
        # 23:30 UTC is already the next day in Amsterdam: the partition is the UTC day.
        {"charge_id": "CH-1", "ts": "2026-10-24T23:30:00Z", "account": "C1", "product": "TV",
         "amount": "4.9900", "currency": "EUR", "type": "one_time"},
        {"charge_id": "CH-2", "ts": "2026-10-25T00:30:00+02:00", "account": "C2",
         "product": "TV", "amount": "12345678901234.5678", "currency": "EUR"},
    ],
    "actions": [{"event_id": "E-1", "ts": "2026-10-25T01:30:00Z", "actor": "svc",
                 "action": "subscribe", "system": "orders", "target_account": "C1"}],
    "changes": [{"change_id": "CHG-1", "system": "orders", "implementer": "eng",
                 "started_at": "2026-10-23T22:00:00Z"}],
    "accounts": [{"account": "svc", "account_type": "service"}],
}


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "lake.duckdb"
    build_fixture(path, TABLES)
    return path


def export(db: Path, out: Path) -> dict[str, int]:
    con = store.connect(db, read_only=True)
    try:
        return export_lake(con, out)
    finally:
        con.close()


def files_of(lake: Path) -> dict[str, bytes]:
    return {p.relative_to(lake).as_posix(): p.read_bytes() for p in sorted(lake.rglob("*"))
            if p.is_file()}


def read_back(lake: Path, kind: str) -> list[tuple[Any, ...]]:
    """A kind as DuckDB reads it from the lake, without the partition column."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    columns = ", ".join(lake_columns(KINDS[kind]))
    partitioned = kind != "accounts"
    pattern = str(lake / kind / ("*/*.parquet" if partitioned else "*.parquet"))
    rows = con.execute(f"SELECT {columns} FROM read_parquet(?, hive_partitioning = ?) "
                       "ORDER BY ALL", [pattern, partitioned]).fetchall()
    con.close()
    return rows


def stored(db: Path, kind: str) -> list[tuple[Any, ...]]:
    con = store.connect(db, read_only=True)
    # The lake holds `extra` and `_digest` (a 128-bit number) as text (lake.select_sql).
    columns = ", ".join(f"CAST({c} AS VARCHAR)" if c in ("extra", "_digest") else c
                        for c in lake_columns(KINDS[kind]))
    rows = con.execute(f"SELECT {columns} FROM {kind} ORDER BY ALL").fetchall()
    con.close()
    return rows


def test_export_partitions_by_utc_day_and_keeps_exact_types(db: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert export(db, lake) == {"actions": 1, "privileges": 0, "changes": 1, "charges": 2,
                                "accounts": 1}
    names = sorted(files_of(lake))
    assert [n.rsplit("/", 1)[0] for n in names] == [
        "accounts", "actions/day=2026-10-25", "changes/day=2026-10-23",
        "charges/day=2026-10-24"]  # both charges: 22:30 and 23:30 UTC
    schema = pq.read_schema(next((lake / "charges").rglob("*.parquet")))
    assert str(schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("amount").type) == "decimal128(18, 4)"
    for kind in ("charges", "actions", "changes", "accounts"):
        assert read_back(lake, kind) == stored(db, kind)


def test_export_refuses_a_directory_holding_a_lake(db: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    export(db, lake)
    before = files_of(lake)
    with pytest.raises(UsageError, match="already holds a lake.*ingest --lake"):
        export(db, lake)
    assert files_of(lake) == before


def test_check_lake_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no lake at .*lake export --out"):
        check_lake(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no Parquet files"):
        check_lake(tmp_path / "empty")


CHARGE = {"charge_id": "CH-9", "ts": "2026-10-26T10:00:00Z", "account": "C9", "product": "TV",
          "amount": "1.50"}


def test_ingest_lake_appends_new_files_and_never_rewrites(db: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    export(db, lake)
    before = files_of(lake)
    new = write_rows(tmp_path / "more.csv", [CHARGE, {**CHARGE, "charge_id": "CH-10"}])
    args = ["ingest", str(new), "--db", str(db), "--lake", str(lake), "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["loaded"] == 2
    after = files_of(lake)
    assert {k: v for k, v in after.items() if k in before} == before
    added = sorted(set(after) - set(before))
    assert [a.rsplit("/", 1)[0] for a in added] == ["charges/day=2026-10-26"]
    assert read_back(lake, "charges") == stored(db, "charges")
    # The same file again loads nothing, so nothing is appended.
    assert runner.invoke(app, args).exit_code == 0
    assert files_of(lake) == after


def test_appends_to_an_existing_day_get_their_own_file(db: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    export(db, lake)
    new = write_rows(tmp_path / "same_day.jsonl", [{**CHARGE, "ts": "2026-10-24T08:00:00Z"}])
    assert runner.invoke(app, ["ingest", str(new), "--db", str(db), "--lake",
                               str(lake)]).exit_code == 0
    day = sorted(p.name for p in (lake / "charges" / "day=2026-10-24").iterdir())
    assert len(day) == 2  # the exported file and the appended one
    assert read_back(lake, "charges") == stored(db, "charges")


def test_lake_export_command(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["lake", "export", "--out", str(out), "--db", str(db),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"lake": str(out), "rows": {
        "actions": 1, "privileges": 0, "changes": 1, "charges": 2, "accounts": 1}}
    again = runner.invoke(app, ["lake", "export", "--out", str(out), "--db", str(db)])
    assert isinstance(again.exception, UsageError)  # main() turns it into exit code 2
