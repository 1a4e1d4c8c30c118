"""The stored coverage kept up to date from the rows an ingest stores and a forget removes
(ingest/coverage.py: begin_changes, note_stored, note_removed, store_coverage) equals the
coverage computed from scratch after every step: files of several systems and kinds with
overlapping hours, rows without a system, duplicates and conflicts, quarantined rows,
naive times read in another zone, a hole filled by a later file and opened again by its
forget, rows handed over to another file, rows given as data; and a generated world
loaded in parts and forgotten in another order."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog import store
from auditlog.ingest import coverage as cov
from auditlog.ingest import ingest_paths
from auditlog.ingest.forget import forget
from auditlog.ingest.pipeline import ingest_rows
from auditlog.ingest.world import read_sources
from auditlog.world import generate_world
from tests.conftest import write_rows

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
WEEKS = 4
# crm's collector is down on the third Wednesday, 09:00 to 15:00 (a gap until filled).
HOLE = (MONDAY + timedelta(days=16, hours=9), MONDAY + timedelta(days=16, hours=15))


def _hours(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    return sorted(con.execute(f"SELECT * FROM {table}").fetchall(),
                  key=lambda r: (r[0], r[1] is not None, r[1] or "", r[2]))


def assert_kept_equals_computed(con: duckdb.DuckDBPyConnection) -> cov.Coverage:
    """The stored coverage is fresh and is the coverage computed from the tables, source
    for source and gap for gap, and so are its hourly counts, cell for cell."""
    stored = cov.stored_coverage(con)
    assert stored is not None, "the step left the stored coverage stale"
    computed = cov.compute_coverage(con)
    assert stored.as_dict() == computed.as_dict()
    assert stored == computed
    cov.hourly_counts(con)
    assert _hours(con, cov.HOURS_TABLE) == _hours(con, "coverage_hours")
    con.execute("DROP TABLE coverage_hours")
    return stored


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each full recomputation an ingest or a forget makes, by name."""
    calls: list[str] = []
    real = cov.compute_coverage_kept

    def spy(con: duckdb.DuckDBPyConnection) -> cov.Coverage:
        calls.append("full")
        return real(con)
    monkeypatch.setattr(cov, "compute_coverage_kept", spy)
    return calls


def _stamp(moment: datetime, minutes: int = 0, *, naive: bool = False) -> str:
    at = moment + timedelta(minutes=minutes)
    return at.replace(tzinfo=None).isoformat() if naive else at.isoformat()


def crm_actions(*, inside_hole: bool, prefix: str = "A") -> list[dict[str, Any]]:
    """crm's logins: 6 an hour by day, 1 by night; the hours of HOLE only when asked for
    (then those alone)."""
    rows: list[dict[str, Any]] = []
    for index in range(WEEKS * 168):
        hour = MONDAY + timedelta(hours=index)
        if (HOLE[0] <= hour < HOLE[1]) != inside_hole:
            continue
        for i in range(6 if 8 <= hour.hour < 20 else 1):
            rows.append({"event_id": f"{prefix}{index}-{i}", "ts": _stamp(hour, i * 9),
                         "actor": "op1", "action": "login", "system": "crm"})
    return rows


def test_incremental_coverage_equals_a_full_recomputation_after_every_step(
    tmp_path: Path, counted: list[str]
) -> None:
    rng = random.Random(14)
    con = store.connect(tmp_path / "inc.duckdb")
    base = crm_actions(inside_hole=False)
    # Rows without a system, and two that break the contract (quarantined).
    base += [{"event_id": f"N{n}", "ts": _stamp(MONDAY, 60 * n + 7), "actor": "op2",
              "action": "login"} for n in range(0, 600, 7)]
    base += [{"event_id": "BAD1", "ts": "not a time", "actor": "op1", "action": "login",
              "system": "crm"}, {"event_id": "BAD2", "actor": "op1", "action": "login"}]
    a = write_rows(tmp_path / "a.jsonl", base)
    charges = [{"charge_id": f"CH{n}", "ts": _stamp(MONDAY, rng.randrange(WEEKS * 7 * 1440)),
                "account": f"C{n % 17}", "product": "P", "amount": "4.99",
                "system": rng.choice(["billing", "shop", None])} for n in range(900)]
    b = write_rows(tmp_path / "b.csv", charges)
    sso = write_rows(tmp_path / "sso.jsonl", [
        {"event_id": f"S{n}", "ts": _stamp(MONDAY, 37 * n), "actor": f"op{n % 3}",
         "action": "login", "system": "sso"} for n in range(1200)])
    # The hole's hours, with rows of a.jsonl again (duplicates) and one conflict.
    filler = crm_actions(inside_hole=True) + base[:40] + [{**base[50], "actor": "mallory"}]
    c = write_rows(tmp_path / "c.jsonl", filler)
    c_copy = tmp_path / "copy-of-c.jsonl"
    shutil.copyfile(c, c_copy)
    # Naive times read in Paris: an hour off from UTC, overlapping crm's hours.
    paris = write_rows(tmp_path / "paris.jsonl", [
        {"event_id": f"P{n}", "ts": _stamp(MONDAY, 53 * n, naive=True), "actor": "op3",
         "action": "login", "system": rng.choice(["crm", None])} for n in range(500)])
    # Half of Paris' rows again (they stay, handed over, when paris.jsonl is forgotten),
    # with grants and a change.
    heir = write_rows(tmp_path / "heir.jsonl", [
        {"event_id": f"P{n}", "ts": _stamp(MONDAY, 53 * n, naive=True), "actor": "op3",
         "action": "login", "system": None} for n in range(0, 500, 2)])
    grants = write_rows(tmp_path / "grants.jsonl", [
        {"event_id": f"G{n}", "ts": _stamp(MONDAY, 301 * n), "actor": "admin",
         "subject": f"op{n % 4}", "privilege": "root", "operation": "grant",
         "system": rng.choice(["crm", None])} for n in range(120)])
    changes = write_rows(tmp_path / "changes.jsonl", [
        {"change_id": f"CHG{n}", "system": "crm", "implementer": "op1", "approver": "lead",
         "started_at": _stamp(MONDAY, 997 * n)} for n in range(30)])

    ingest_paths(con, [a])
    first = assert_kept_equals_computed(con)
    assert counted == ["full"]  # nothing stored before: computed once, kept
    assert [(g.system, g.start, g.end) for g in first.gaps] == [("crm", *HOLE)]
    ingest_paths(con, [b, sso])
    assert_kept_equals_computed(con)
    ingest_paths(con, [c])
    assert assert_kept_equals_computed(con).gaps == ()  # the hole is filled
    ingest_paths(con, [c_copy])  # the same content again: every row a duplicate
    assert_kept_equals_computed(con)
    ingest_paths(con, [paris], tz="Europe/Paris")
    assert_kept_equals_computed(con)
    ingest_paths(con, [heir, grants, changes], tz="Europe/Paris")
    assert_kept_equals_computed(con)
    ingest_rows(con, {"actions": [{"event_id": "R1", "ts": HOLE[0] + timedelta(minutes=5),
                                   "actor": "op9", "action": "login", "system": "crm"},
                                  {"event_id": "R2", "ts": MONDAY - timedelta(days=400),
                                   "actor": "op9", "action": "login", "system": "crm"}],
                      "charges": [{"charge_id": "CHX1", "ts": MONDAY, "account": "C1",
                                   "product": "P", "amount": "1"}]}, source="case")
    assert_kept_equals_computed(con)
    assert counted == ["full"], "an ingest after the first recomputed everything"

    forget(con, [str(c)])  # copy-of-c.jsonl still lists the content: its rows stay
    assert_kept_equals_computed(con)
    forget(con, [str(c_copy)])  # now they go, and with them the filled hours
    assert_kept_equals_computed(con)
    forget(con, [str(paris)])  # half its rows handed over to heir.jsonl (without system)
    after = assert_kept_equals_computed(con)
    # The hole is open again but for its first hour, which a row given as data holds.
    assert [(g.system, g.start, g.end) for g in after.gaps] == [
        ("crm", HOLE[0] + timedelta(hours=1), HOLE[1])]
    forget(con, [str(b), str(grants)])
    assert_kept_equals_computed(con)
    forget(con, ["case (actions)", str(heir), str(sso), str(changes)])
    assert_kept_equals_computed(con)
    assert counted == ["full"], "a forget recomputed everything"
    forget(con, [str(a), "case (charges)"])
    empty = assert_kept_equals_computed(con)
    assert empty.sources == () and set(empty.missing) == set(cov.EVENT_KINDS)
    con.close()


def test_an_older_or_stale_stored_coverage_is_recomputed_in_full(
    tmp_path: Path, counted: list[str]
) -> None:
    con = store.connect(tmp_path / "old.duckdb")
    ingest_paths(con, [write_rows(tmp_path / "a.jsonl", crm_actions(inside_hole=False))])
    # An older auditlog's document: no hourly counts kept.
    con.execute(f"DROP TABLE {cov.HOURS_TABLE}")
    ingest_paths(con, [write_rows(tmp_path / "c.jsonl", crm_actions(inside_hole=True))])
    assert_kept_equals_computed(con)
    # Rows stored without an ingest: the fingerprint no longer matches.
    con.execute("INSERT INTO actions (event_id, ts, actor, action, system, _file, _row) "
                "SELECT 'X' || i, TIMESTAMPTZ '2026-03-05 03:00:00+00' + i * INTERVAL 1 "
                "MINUTE, 'op1', 'login', 'crm', 'direct', i FROM range(5) t(i)")
    assert cov.stored_coverage(con) is None
    ingest_paths(con, [write_rows(tmp_path / "d.jsonl", crm_actions(
        inside_hole=True, prefix="D"))])
    assert_kept_equals_computed(con)
    assert counted == ["full", "full", "full"]
    con.close()


def test_a_generated_world_loaded_in_parts_and_forgotten(tmp_path: Path,
                                                        counted: list[str]) -> None:
    world = tmp_path / "world"
    generate_world(world, seed=5, customers=200, days=24)
    sources = read_sources(world)
    con = store.connect(tmp_path / "world.duckdb")
    for path, kind, tz in sources:
        ingest_paths(con, [path], kind=kind, tz=tz)
        assert_kept_equals_computed(con)
    order = [str(path) for path, _, _ in sources]
    random.Random(3).shuffle(order)
    for name in order:
        forget(con, [name])
        assert_kept_equals_computed(con)
    assert counted == ["full"]
    con.close()
