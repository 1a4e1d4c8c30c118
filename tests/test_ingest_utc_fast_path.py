"""ISO 8601 in UTC with `T` and `Z`, the common spelling, is typed by one pattern and a
cast (validate.al_utc_z, issue 14) instead of the general path (al_ts). Wherever the
fast path applies it must give the general path's answer, the refusals included."""

from __future__ import annotations

import itertools
from pathlib import Path

import duckdb

from auditlog.ingest import ingest_paths
from auditlog.ingest.validate import install_macros

DATES = ["2026-03-01", "0000-01-01", "0001-01-01", "9999-12-31", "2024-02-29", "2025-02-29",
         "2026-00-10", "2026-13-01", "2026-04-31", "2026-03-00"]
TIMES = ["10:00:00", "00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "99:99:99"]
FRACTIONS = ["", ".5", ".123", ".123456", ".1234567", ".123456789", ".0000000000001"]


def test_the_fast_path_gives_the_general_paths_instant_or_refusal() -> None:
    con = duckdb.connect()
    install_macros(con)
    texts = [f"{d}T{t}{f}Z" for d, t, f in itertools.product(DATES, TIMES, FRACTIONS)]
    con.execute("CREATE TABLE t (s VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[s] for s in texts])
    rows = con.execute(
        """
        SELECT s, al_utc_z(s), try_cast(s AS TIMESTAMPTZ),
               al_ts(s, al_naive(s), INTERVAL 0 SECOND, INTERVAL 0 SECOND, 'UTC')
        FROM t
        """
    ).fetchall()
    assert all(fast for _, fast, _, _ in rows)  # every text here takes the fast path
    differing = [(s, cast, general) for s, _, cast, general in rows if cast != general]
    assert differing == []
    # Both accept some and refuse some of these: the cases exercise both outcomes.
    assert {cast is None for _, _, cast, _ in rows} == {True, False}


def test_other_spellings_take_the_general_path() -> None:
    con = duckdb.connect()
    install_macros(con)
    for text in ("2026-03-01t10:00:00Z", "2026-03-01 10:00:00Z", "2026-03-01T10:00:00z",
                 "2026-03-01T10:00Z", "2026-03-01T10:00:00+00:00", "1772359200",
                 "2026-03-01T10:00:00.Z", " 2026-03-01T10:00:00Z"):
        assert con.execute("SELECT al_utc_z($s)", {"s": text}).fetchone() == (False,), text


def test_a_refused_utc_time_is_quarantined_with_the_same_reason(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "a.csv"
    path.write_text("event_id,ts,actor,action,system\n"
                    "E1,2026-13-01T10:00:00Z,svc,login,crm\n"
                    "E2,2026-03-01T10:00:00.250Z,svc,login,crm\n", encoding="utf-8")
    (result,) = ingest_paths(con, [path], kind="actions")
    assert (result.loaded, result.quarantined, result.naive_times) == (1, 1, 0)
    assert con.execute("SELECT reason FROM quarantine").fetchall() == [
        ("unparseable timestamp in ts: 2026-13-01T10:00:00Z",)]
    assert con.execute("SELECT epoch_ms(ts) FROM actions").fetchall() == [(1772359200250,)]
