"""Timestamps: offsets beyond ±14:00 are bad values, naive times are read in a chosen
(or announced) zone, and those in a daylight-saving gap or overlap follow one rule:
Python's zoneinfo with fold=0 (a gap moves forward, an overlap takes the earlier)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from auditlog import store
from auditlog.analysis.status import database_status
from auditlog.errors import InputError
from auditlog.ingest import ingest_paths
from auditlog.ingest.forget import forget
from tests.conftest import write_rows

UTC = dt.UTC


def _charges(times: list[str]) -> list[dict[str, str]]:
    return [{"charge_id": f"C{i}", "ts": t, "account": "A1", "product": "P", "amount": "1.00"}
            for i, t in enumerate(times)]


def _stored(con: duckdb.DuckDBPyConnection) -> dict[str, dt.datetime]:
    return dict(con.execute("SELECT charge_id, ts FROM charges").fetchall())


def _reasons(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r for (r,) in con.execute("SELECT reason FROM quarantine ORDER BY row_number").fetchall()]


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00+99:99", "2026-01-01T00:00:00+14:30",
                                   "2026-01-01T00:00:00+15", "2026-01-01T00:00:00-14:01",
                                   "2026-01-01T00:00:00+05:60", "2026-01-01T00:00:00-2400"])
def test_an_offset_out_of_range_is_quarantined(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                               value: str) -> None:
    path = write_rows(tmp_path / "c.csv", _charges([value, "2026-01-01T00:00:00Z"]))
    (result,) = ingest_paths(con, [path])
    assert (result.loaded, result.quarantined) == (1, 1)
    assert _reasons(con) == [(
        f"offset out of range in ts: {value} (an offset is at most 14:00 either way, "
        "its minutes below 60)")]


def test_offsets_within_range_load_as_the_instant_they_name(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    values = ["2026-01-01T00:00:00+14:00", "2026-01-01T00:00:00-12:00",
              "2026-01-01T05:30:00+0530", "2026-01-01T00:00:00-03", "2026-01-01 00:00z"]
    ingest_paths(con, [write_rows(tmp_path / "c.jsonl", _charges(values))])
    assert _stored(con) == {
        "C0": dt.datetime(2025, 12, 31, 10, tzinfo=UTC),
        "C1": dt.datetime(2026, 1, 1, 12, tzinfo=UTC),
        "C2": dt.datetime(2026, 1, 1, 0, tzinfo=UTC),
        "C3": dt.datetime(2026, 1, 1, 3, tzinfo=UTC),
        "C4": dt.datetime(2026, 1, 1, 0, tzinfo=UTC),
    }
    assert _reasons(con) == []


def _near_transitions(zone: str, years: range) -> list[dt.datetime]:
    """Wall times in and around every offset change of `zone` in `years`: in its gap or
    overlap, at its edges, and a day away."""
    tz = ZoneInfo(zone)
    walls: list[dt.datetime] = []
    t = dt.datetime(years.start, 1, 1, tzinfo=UTC)
    end = dt.datetime(years.stop, 1, 1, tzinfo=UTC)
    while t < end:
        step = t + dt.timedelta(hours=1)
        before, after = t.astimezone(tz).utcoffset(), step.astimezone(tz).utcoffset()
        if before != after and before is not None and after is not None:
            # The instant of the change lies in (t, step]; walls around it, local time.
            edge = step.astimezone(tz).replace(tzinfo=None, minute=0, second=0)
            for minutes in (-1500, -121, -90, -61, -60, -59, -30, -1, 0, 1, 15, 29, 30, 31,
                            59, 60, 61, 89, 90, 119, 120, 121, 1500):
                walls.append(edge + dt.timedelta(minutes=minutes))
        t = step
    return walls


# Zones with 1 h, 30 min and whole-day changes, both hemispheres, and one without DST.
ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
         "Pacific/Apia", "Asia/Kolkata"]


@pytest.mark.parametrize("zone", ZONES)
def test_naive_times_resolve_as_zoneinfo_fold_0(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                                 zone: str) -> None:
    walls = _near_transitions(zone, range(2010, 2013)) + [dt.datetime(2011, 6, 1, 12)]
    path = write_rows(tmp_path / "c.csv", _charges([w.isoformat(sep=" ") for w in walls]))
    (result,) = ingest_paths(con, [path], tz=zone)
    tz = ZoneInfo(zone)
    expected = {f"C{i}": w.replace(tzinfo=tz).astimezone(UTC) for i, w in enumerate(walls)}
    assert _stored(con) == expected
    # A wall time is in a gap or an overlap exactly when its two folds differ.
    odd = sum(w.replace(tzinfo=tz, fold=0).utcoffset() != w.replace(tzinfo=tz, fold=1).utcoffset()
              for w in walls)
    assert (result.naive_times, result.dst_resolved, result.tz) == (len(walls), odd, zone)
    assert (odd > 0) == (zone != "Asia/Kolkata")


def test_a_gap_moves_forward_and_an_overlap_takes_the_earlier_instant(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "c.csv", _charges(["2026-03-29 02:30", "2026-10-25 02:30",
                                                    "2026-10-25 03:30"]))
    (result,) = ingest_paths(con, [path], tz="Europe/Paris")
    assert _stored(con) == {
        "C0": dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 03:30 CEST: moved forward
        "C1": dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST, the first one
        "C2": dt.datetime(2026, 10, 25, 2, 30, tzinfo=UTC),  # after the overlap: CET
    }
    assert result.dst_resolved == 2


def test_status_shows_the_zone_of_naive_times_or_none(tmp_path: Path,
                                                      con: duckdb.DuckDBPyConnection) -> None:
    naive = write_rows(tmp_path / "naive.csv", _charges(["2026-06-01 12:00"]))
    zoned = write_rows(tmp_path / "zoned.csv", [
        {**r, "charge_id": "Z" + r["charge_id"]} for r in _charges(["2026-06-01T12:00:00Z"])])
    results = ingest_paths(con, [naive, zoned], tz="Europe/Paris")
    assert [(r.naive_times, r.tz) for r in results] == [(1, "Europe/Paris"), (0, None)]
    files = {Path(f["path"]).name: (f["tz"], f["tz_assumed"])
             for f in database_status(con).as_json()["files"]}
    assert files == {"naive.csv": ("Europe/Paris", False), "zoned.csv": (None, False)}
    # the contract's ingest report keeps its shape
    assert set(results[0].as_dict()) == {"path", "kind", "sha256", "rows_read", "loaded",
                                         "duplicates", "quarantined"}


def test_another_zone_for_a_loaded_file_says_to_forget_it_first(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = write_rows(tmp_path / "c.csv", _charges(["2026-06-01 12:00", "2026-06-02 12:00"]))
    ingest_paths(con, [path])  # read as UTC, nobody chose it
    before = _stored(con)
    with pytest.raises(InputError) as refused:
        ingest_paths(con, [path], tz="Europe/Paris")
    assert "read in UTC" in str(refused.value) and f"(auditlog forget {path})" in str(refused.value)
    assert _stored(con) == before and _reasons(con) == []
    # without --tz a reload keeps the zone it was read in: a no-op, not a conflict
    (again,) = ingest_paths(con, [path])
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 2, 0)
    forget(con, [str(path)])
    (fixed,) = ingest_paths(con, [path], tz="Europe/Paris")
    assert (fixed.loaded, fixed.quarantined) == (2, 0)
    assert _stored(con)["C0"] == dt.datetime(2026, 6, 1, 10, tzinfo=UTC)
    # a file without naive times may be reloaded with any --tz: nothing depends on it
    zoned = write_rows(tmp_path / "z.csv", [{**r, "charge_id": "Z0"}
                                            for r in _charges(["2026-06-01T12:00:00Z"])])
    ingest_paths(con, [zoned], tz="Asia/Tokyo")
    (reload,) = ingest_paths(con, [zoned], tz="America/Lima")
    assert (reload.duplicates, reload.quarantined) == (1, 0)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditlog", *args], capture_output=True,
                          text=True, check=False)


def test_ingest_announces_naive_times_and_dst_on_stderr(tmp_path: Path) -> None:
    db = str(tmp_path / "d.duckdb")
    naive = write_rows(tmp_path / "bill[ing].csv",
                       _charges(["2026-03-29 02:30", "2026-10-25 02:30", "2026-06-01 12:00"]))
    zoned = write_rows(tmp_path / "z.csv", [{**r, "charge_id": "Z0"}
                                            for r in _charges(["2026-06-01T12:00:00Z"])])
    plain = _cli("ingest", str(naive), str(zoned), "--db", db, "--format", "json")
    assert plain.returncode == 0, plain.stderr
    assert [r["loaded"] for r in json.loads(plain.stdout)] == [3, 1]
    lines = plain.stderr.strip().splitlines()
    assert lines == [(f"warning: 3 timestamp(s) in {naive} carry no offset and were read in "
                      "UTC, since no --tz was given, and answers will say so: if that is "
                      "right, load it again with --tz UTC; if they are local times of another "
                      f"zone, forget it (auditlog forget '{naive}') and load it with --tz ZONE")]
    status = _cli("status", "--db", db, "--format", "json")
    assert [(f["tz"], f["tz_assumed"]) for f in json.loads(status.stdout)["files"]] \
        == [("UTC", True), (None, False)]
    table = _cli("status", "--db", db)
    assert "UTC*" in table.stdout and "* assumed: no --tz was given" in table.stdout
    chosen = _cli("ingest", str(naive), "--db", str(tmp_path / "e.duckdb"),
                  "--tz", "Europe/Paris", "--format", "json")
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stderr.strip() == (
        f"note: 2 naive time(s) in {naive} fell in a daylight-saving gap or overlap of "
        "Europe/Paris; resolved with the offset in effect before the change: a time in a "
        "gap moves forward by the gap, a time in an overlap is the earlier of its two instants")
    other = _cli("ingest", str(naive), "--db", db, "--tz", "Europe/Paris")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "forget it first" not in other.stderr and "auditlog forget" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1


def test_the_zone_survives_in_the_database(tmp_path: Path) -> None:
    """status reads the zone back from the file: a second connection sees it."""
    db = tmp_path / "d.duckdb"
    con = store.connect(db)
    ingest_paths(con, [write_rows(tmp_path / "c.csv", _charges(["2026-06-01 12:00"]))],
                 tz="America/Lima")
    con.close()
    con = store.connect(db, read_only=True)
    assert [f["tz"] for f in database_status(con).as_json()["files"]] == ["America/Lima"]
    con.close()


def test_answers_carry_the_assumed_zone_until_it_is_named(tmp_path: Path) -> None:
    db = str(tmp_path / "d.duckdb")
    bill = write_rows(tmp_path / "bill.csv", _charges(["2026-06-01 12:00", "2026-06-02 12:00"]))
    actions = write_rows(tmp_path / "a.jsonl", [
        {"event_id": "E1", "ts": "2026-06-01T11:00:00Z", "actor": "A1",
         "action": "subscribe", "system": "orders", "target_account": "A1", "object": "P"}])
    assert _cli("ingest", str(bill), str(actions), "--db", db).returncode == 0
    caveat = (f"2 timestamp(s) in {bill} (charges) carry no offset and were read in UTC "
              "because no --tz was given")
    remediation = _cli("remediation", "--db", db, "--format", "json")
    assert remediation.returncode == 0 and caveat in remediation.stderr
    json.loads(remediation.stdout)  # stdout is still one JSON document
    # an answer that does not read charges does not carry it
    assert caveat not in _cli("trace", "account", "A1", "--db", db).stderr
    report = tmp_path / "r.md"
    assert _cli("report", "accountability", "--format", "md", "--out", str(report),
                "--db", db).returncode == 0
    # (Markdown escapes the path's underscores and the parentheses)
    assert "carry no offset and were read in UTC because no --tz was given" in report.read_text()
    out = tmp_path / "export"
    assert _cli("export", "--format", "json", "--out", str(out), "--db", db).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(caveat in c for c in manifest["coverage"]["caveats"])
    # naming the zone on a reload confirms it: a no-op load, and no caveat any more
    confirmed = _cli("ingest", str(bill), "--db", db, "--tz", "UTC", "--format", "json")
    assert json.loads(confirmed.stdout)[0]["duplicates"] == 2 and confirmed.stderr == ""
    assert caveat not in _cli("remediation", "--db", db, "--format", "json").stderr
    status = json.loads(_cli("status", "--db", db, "--format", "json").stdout)
    assert [f["tz_assumed"] for f in status["files"]] == [False, False]


def test_every_offset_spelling_loads_exactly_when_it_is_in_range(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """+hh:mm, +hhmm and +hh, both signs, every hour to 23, minutes around the limits:
    in range (at most 14:00, minutes below 60) it is the instant Python reads, else the
    row is quarantined."""
    spellings: list[tuple[str, int | None]] = []
    for sign in (1, -1):
        for hours in range(24):
            for minutes in (0, 1, 30, 45, 59, 60, 75, 99):
                total = hours * 60 + minutes
                ok = minutes < 60 and total <= 14 * 60
                mark = "+" if sign > 0 else "-"
                for text in (f"{mark}{hours:02d}:{minutes:02d}", f"{mark}{hours:02d}{minutes:02d}"):
                    spellings.append((text, sign * total if ok else None))
            spellings.append((f"{'+' if sign > 0 else '-'}{hours:02d}",
                              sign * hours * 60 if hours <= 14 else None))
    base = dt.datetime(2026, 5, 1, 12, 0)
    rows = _charges([base.isoformat() + text for text, _ in spellings])
    ingest_paths(con, [write_rows(tmp_path / "offsets.csv", rows)])
    stored = _stored(con)
    for i, (text, minutes) in enumerate(spellings):
        expected = None if minutes is None else (
            base.replace(tzinfo=dt.timezone(dt.timedelta(minutes=minutes))).astimezone(UTC))
        assert stored.get(f"C{i}") == expected, text
    assert len(_reasons(con)) == sum(m is None for _, m in spellings)
