"""`auditlog forget`: a file taken back out leaves `status` exactly as it was before the
file was loaded, keeps the rows other files also brought, refuses what it cannot undo,
and is all or nothing, even when killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from auditlog import store
from auditlog.analysis.findings import run_packs
from auditlog.analysis.status import database_status
from auditlog.errors import AuditlogError, InputError, UsageError
from auditlog.ingest import ingest_paths
from auditlog.ingest.forget import forget
from auditlog.pack import load_rules
from auditlog.store.attribution import STATE_TABLE
from auditlog.store.runs import stale_findings
from tests.conftest import snapshot, table_rows, write_rows


def _event(event_id: str, second: int = 0, *, actor: str = "op1", day: int = 1) -> dict[str, str]:
    return {"event_id": event_id, "ts": f"2026-09-{day:02d}T10:00:{second % 60:02d}Z",
            "actor": actor, "action": "login", "system": "crm"}


def _actions(ids: list[str], *, actor: str = "op1", day: int = 1) -> list[dict[str, str]]:
    """Events whose time is their place in the list (so the same id, same place, is the
    same row in every file)."""
    return [_event(i, n, actor=actor, day=day) for n, i in enumerate(ids)]


def _status(con: duckdb.DuckDBPyConnection) -> Any:
    return json.loads(json.dumps(database_status(con).as_json(), default=str))


def _without_load_times(status: Any) -> Any:
    """A database built by other loads differs from this one in when its files were
    loaded, and in nothing else."""
    return {**status, "files": [{k: v for k, v in f.items() if k != "ingested_at"}
                                for f in status["files"]]}


def _alone(tmp_path: Path, *paths: Path) -> Any:
    """status and rows of a fresh database that loaded only `paths`, in this order."""
    con = store.connect(tmp_path / f"alone-{'-'.join(p.stem for p in paths)}.duckdb")
    for path in paths:
        ingest_paths(con, [path])
    status = _without_load_times(_status(con))
    rows = {t: table_rows(con, t) for t in ("actions", "charges")}
    con.close()
    return status, rows


@pytest.fixture()
def loaded(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> dict[str, Path]:
    """Two files loaded before the one to forget: `base` (a charge, a bad row) and `other`."""
    base = write_rows(tmp_path / "base.jsonl", _actions(["B1", "B2"]) + [
        {"event_id": "B3", "ts": "not a time", "actor": "x", "action": "a", "system": "s"}])
    charges = write_rows(tmp_path / "charges.csv", [
        {"charge_id": "K1", "ts": "2026-09-01 12:00", "account": "A", "product": "P",
         "amount": "9.50"}])
    ingest_paths(con, [base, charges])
    return {"base": base, "charges": charges}


def test_status_after_forget_is_exactly_status_before_the_load(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, loaded: dict[str, Path]) -> None:
    before, tables = _status(con), snapshot(con)
    # new rows, a duplicate of a stored row, an in-file duplicate, a bad row, a conflict
    late = write_rows(tmp_path / "late.jsonl", [
                      _event("L1", 0, day=3), _event("L2", 1, day=3), _event("L1", 0, day=3),
                      _event("B1", 0), _event("B2", 1, actor="someone else"),
                      {"event_id": "L9", "ts": "2026-09-03T10:00:00+99:99", "actor": "x",
                          "action": "a", "system": "s"}])
    (result,) = ingest_paths(con, [late], tz="Europe/Paris")
    assert (result.loaded, result.duplicates, result.quarantined) == (2, 2, 2)
    assert _status(con) != before
    (report,) = forget(con, [str(late)])
    assert (report.rows_removed, report.rows_handed_over, report.quarantine_removed) == (2, 0, 2)
    assert _status(con) == before  # every field, ingested_at included
    assert snapshot(con) == tables
    (count,) = con.execute("SELECT count(*) FROM shared_rows").fetchone() or (0,)
    assert count == 0


def test_a_row_another_file_also_brought_is_handed_over(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    first = write_rows(tmp_path / "first.jsonl", _actions(["E1", "E2", "E3"]))
    # a new row, E2 as a duplicate of first's and again as an in-file one, E3 (as CSV)
    second = write_rows(tmp_path / "second.csv",
                        [_event("E4", 9), _event("E2", 1), _event("E2", 1), _event("E3", 2)])
    third = write_rows(tmp_path / "third.jsonl", [_event("E2", 1)])
    ingest_paths(con, [first])
    ingest_paths(con, [second])
    shared = con.execute("SELECT * FROM shared_rows ORDER BY ALL").fetchall()
    ingest_paths(con, [second])  # a reload records nothing again
    assert con.execute("SELECT * FROM shared_rows ORDER BY ALL").fetchall() == shared
    ingest_paths(con, [third])
    (report,) = forget(con, [str(first)])
    assert (report.rows_removed, report.rows_handed_over) == (1, 2)  # E1 gone; E2, E3 kept
    assert _without_load_times(_status(con)) == _alone(tmp_path, second, third)[0]
    assert table_rows(con, "actions") == _alone(tmp_path, second, third)[1]["actions"]
    # the row now belongs to second: forgetting second hands E2 on to third
    forget(con, [str(second)])
    assert _without_load_times(_status(con)) == _alone(tmp_path, third)[0]
    forget(con, [str(third)])
    assert _status(con) == _empty_status(tmp_path)


def _empty_status(tmp_path: Path) -> Any:
    con = store.connect(tmp_path / "empty.duckdb")
    status = _status(con)
    con.close()
    return status


def test_a_conflict_that_would_load_refuses_forgetting_alone(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    first = write_rows(tmp_path / "first.jsonl", _actions(["E1", "E2"]))
    rival = write_rows(tmp_path / "rival.jsonl", _actions(["E2"], actor="mallory"))
    ingest_paths(con, [first, rival])
    before = snapshot(con)
    with pytest.raises(InputError) as refused:
        forget(con, [str(first)])
    message = str(refused.value)
    assert str(rival) in message and "conflict" in message and str(first) in message
    assert snapshot(con) == before
    forget(con, [str(first), str(rival)])
    assert _status(con) == _empty_status(tmp_path)


def test_the_same_content_under_two_paths(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    one = write_rows(tmp_path / "one.jsonl", _actions(["E1", "E2"]) + [{"event_id": "E3"}])
    two = tmp_path / "copy" / "two.jsonl"
    two.parent.mkdir()
    shutil.copyfile(one, two)
    ingest_paths(con, [one])
    ingest_paths(con, [two])
    (report,) = forget(con, [str(one)])
    assert (report.rows_removed, report.quarantine_removed) == (0, 0)  # two still has them
    assert _without_load_times(_status(con)) == _alone(tmp_path, two)[0]
    (quarantined,) = con.execute("SELECT DISTINCT path FROM quarantine").fetchall()
    assert quarantined == (str(two),)


def test_targets_by_path_content_and_digest(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                            loaded: dict[str, Path]) -> None:
    sha = {Path(f["path"]).name: f["sha256"] for f in database_status(con).as_json()["files"]}
    moved = tmp_path / "elsewhere.jsonl"
    shutil.copyfile(loaded["base"], moved)  # the same content under a path never listed
    assert [r.path for r in forget(con, [str(moved)])] == [str(loaded["base"])]
    assert [r.path for r in forget(con, [sha["charges.csv"][:10]])] == [str(loaded["charges"])]
    assert database_status(con).as_json()["files"] == []


def test_what_was_never_loaded_is_refused(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                          loaded: dict[str, Path]) -> None:
    before = snapshot(con)
    stray = write_rows(tmp_path / "stray.jsonl", _actions(["S1"]))
    for target, error, words in [
            (str(stray), InputError, f"{stray} was never loaded"),
            ("no/such/file.csv", InputError, "no/such/file.csv was never loaded"),
            ("0000000000", InputError, "0000000000 was never loaded"),
            ("", UsageError, None)]:
        with pytest.raises(error) as refused:
            forget(con, [target] if target else [])
        assert words is None or words in str(refused.value)
    # one unknown name among known ones: nothing is forgotten
    with pytest.raises(InputError):
        forget(con, [str(loaded["base"]), str(stray)])
    assert snapshot(con) == before


def test_an_ambiguous_digest_prefix_is_refused(tmp_path: Path,
                                               con: duckdb.DuckDBPyConnection) -> None:
    ingest_paths(con, [write_rows(tmp_path / "f.jsonl", _actions(["E1"]))])
    (sha,) = [f["sha256"] for f in database_status(con).as_json()["files"]]
    # Two real digests rarely share six characters: a second entry that does.
    twin = sha[:6] + "".join("1" if c == "0" else "0" for c in sha[6:])
    con.execute("INSERT INTO ingested_files SELECT $twin, 'twin.jsonl', kind, format, tz, 0, "
                "0, 0, 0, ingested_at FROM ingested_files", {"twin": twin})
    with pytest.raises(UsageError, match="matches 2 loaded files"):
        forget(con, [sha[:6]])
    assert [r.sha256 for r in forget(con, [sha[:7].upper()])] == [sha]


def test_forget_drops_the_stored_attribution_and_marks_findings_stale(tmp_path: Path) -> None:
    db = tmp_path / "run.duckdb"
    con = store.connect(db)
    charges = write_rows(tmp_path / "charges.csv", [
        {"charge_id": "K1", "ts": "2026-09-01T12:00:00Z", "account": "A", "product": "P",
         "amount": "9.50"}])
    ingest_paths(con, [write_rows(tmp_path / "a.jsonl", _actions(["E1"])), charges])
    con.close()
    run_packs(db, load_rules())  # a real run: findings and the stored attribution
    con = store.connect(db)
    assert stale_findings(con) is None
    assert con.execute(f"SELECT count(*) FROM {STATE_TABLE}").fetchall() == [(1,)]
    forget(con, [str(charges)])
    assert con.execute(f"SELECT count(*) FROM {STATE_TABLE}").fetchall() == [(0,)]
    assert stale_findings(con) is not None
    con.close()
    for command in ("findings", "status"):
        shown = _cli(command, "--db", str(db), "--format", "json")
        assert shown.returncode == 0 and json.loads(shown.stdout) is not None
        assert "note: files were forgotten since run" in shown.stderr
    run_packs(db, load_rules())
    con = store.connect(db)
    assert stale_findings(con) is None
    con.close()
    assert "forgotten" not in _cli("findings", "--db", str(db)).stderr


# The child forgets its targets and stops (sleeps until killed) at the named step; with
# a "~" before the name it announces the step and goes on, to be killed a little later.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from auditlog import store
    from auditlog.ingest.forget import forget

    db, marker, stop, *targets = sys.argv[1:]

    def step(name):
        if name == stop.lstrip("~"):
            Path(marker).write_text(name)
            if not stop.startswith("~"):
                time.sleep(600)

    forget(store.connect(db), targets, step=step)
    """
)


def _kill_at(db: Path, marker: Path, stop: str, targets: list[str], *,
             delay: float = 0.0) -> bool:
    """Kill the child at `stop` (or `delay` seconds after "~stop"); False if it finished
    first (possible only with "~")."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(marker), stop, *targets])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None or stop.startswith("~"), \
                "the forgetting process ended before it was killed"
            assert time.monotonic() < deadline, "the forgetting process never got going"
            time.sleep(0.005)
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        child.wait()
    marker.unlink()
    assert child.returncode in ((-signal.SIGKILL, 0) if stop.startswith("~")
                                else (-signal.SIGKILL,))
    return child.returncode == -signal.SIGKILL


def test_kill_9_mid_forget_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    con = store.connect(db)
    first = write_rows(tmp_path / "first.jsonl", _actions([f"E{i}" for i in range(20_000)])
                       + [{"event_id": "bad"}])
    second = write_rows(tmp_path / "second.jsonl", _actions([f"E{i}" for i in range(5)]))
    ingest_paths(con, [first])
    ingest_paths(con, [second])  # so that the forget also hands rows over
    before, tables = _status(con), snapshot(con)
    con.close()
    for stop in ("resolved", "rows", "quarantine", "files", "commit"):
        _kill_at(db, tmp_path / "marker", stop, [str(first)])
        con = store.connect(db)
        assert (_status(con), snapshot(con)) == (before, tables), f"killed at {stop}"
        con.close()
    con = store.connect(db)
    (report,) = forget(con, [str(first)])  # and the database is healthy
    assert report.rows_handed_over == 5
    con.close()


def test_kill_9_during_the_commit_leaves_before_or_after(tmp_path: Path) -> None:
    """Killed at moments in and around the commit, a forget is undone or complete (on
    this machine these delays give both)."""
    db = tmp_path / "c.duckdb"
    con = store.connect(db)
    big = write_rows(tmp_path / "big.jsonl", _actions([f"E{i}" for i in range(100_000)]))
    ingest_paths(con, [big, write_rows(tmp_path / "small.jsonl", [_event("E1", 1), _event("S1")])])
    before = snapshot(con)
    con.close()
    done_db = tmp_path / "done.duckdb"
    shutil.copyfile(db, done_db)
    con = store.connect(done_db)
    forget(con, [str(big)])
    after = snapshot(con)
    con.close()
    for delay in (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1):
        trial = tmp_path / "trial.duckdb"
        shutil.copyfile(db, trial)
        _kill_at(trial, tmp_path / "marker", "~commit", [str(big)], delay=delay)
        con = store.connect(trial)
        state = snapshot(con)
        con.close()
        assert state in (before, after), f"killed {delay}s into the commit: in between"
        trial.unlink()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditlog", *args], capture_output=True,
                          text=True, check=False)


def test_the_command(tmp_path: Path) -> None:
    db = str(tmp_path / "c.duckdb")
    path = write_rows(tmp_path / "odd [name].jsonl", _actions(["E1", "E2"]) + [{"x": "1"}])
    assert _cli("ingest", str(path), "--db", db, "--kind", "actions").returncode == 0
    done = _cli("forget", str(path), "--db", db, "--format", "json")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert entry["path"] == str(path) and len(entry["sha256"]) == 64
    assert (entry["rows_removed"], entry["rows_handed_over"], entry["quarantine_removed"]) \
        == (2, 0, 1)
    again = _cli("forget", str(path), "--db", db)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    missing = _cli("forget", str(path), "--db", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 2 and "no database at" in missing.stderr
    assert not (tmp_path / "none.duckdb").exists()
    assert again.stderr.strip().splitlines() == [(
        f"error: {path} was never loaded: no ingested file has its SHA-256 "
        f"{entry['sha256'][:12]}… (see 'auditlog status')")]


def test_a_failure_inside_rolls_back(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                     loaded: dict[str, Path]) -> None:
    before = snapshot(con)

    def fail(step: str) -> None:
        if step == "files":
            raise AuditlogError("stop here")

    with pytest.raises(AuditlogError, match="stop here"):
        forget(con, [str(loaded["base"])], step=fail)
    assert snapshot(con) == before


def test_the_notebook_api(tmp_path: Path) -> None:
    import auditlog

    path = write_rows(tmp_path / "n.jsonl", _actions(["E1", "E2"]))
    with auditlog.open(tmp_path / "n.duckdb") as inv:
        inv.ingest([path])
        frame = inv.forget(str(path))
        assert frame.select("path", "rows_removed").rows() == [(str(path), 2)]
        assert inv.status()["files"] == []


def _load_world_files(db: Path, files: list[tuple[Path, str, str]]) -> None:
    con = store.connect(db)
    for path, kind, tz in files:
        ingest_paths(con, [path], kind=kind, tz=tz)
    con.close()


def _world_state(db: Path) -> Any:
    """status without load times, and every row with the file and row it is kept as."""
    from auditlog.kinds import KINDS

    con = store.connect(db, read_only=True)
    rows = {k.name: con.execute(f"SELECT {k.id_column}, _file, _row FROM {k.name} "
                                "ORDER BY ALL").fetchall() for k in KINDS.values()}
    state = (_without_load_times(_status(con)), rows, {t: table_rows(con, t) for t in rows})
    con.close()
    return state


def test_forgetting_a_file_of_a_world_equals_never_loading_it(tmp_path: Path) -> None:
    from auditlog.world import generate_world

    world = tmp_path / "world"
    generate_world(world, customers=200, seed=11, days=21, formats="mixed")
    files = [(world / e["path"], e["kind"], e["tz"])
             for e in json.loads((world / "sources.json").read_text())]
    # A second billing export that repeats the last 60 charges of the first: forgetting
    # the first hands those over to it.
    charges = world / "billing" / "charges.csv"
    lines = charges.read_text().splitlines(keepends=True)
    again = world / "billing" / "charges_again.csv"
    again.write_text(lines[0] + "".join(lines[-60:]))
    files.append((again, "charges", files[[f[0] for f in files].index(charges)][2]))
    full = tmp_path / "full.duckdb"
    _load_world_files(full, files)
    for k in (0, [f[0] for f in files].index(charges), len(files) - 1):
        trial = tmp_path / f"forget-{k}.duckdb"
        shutil.copyfile(full, trial)
        con = store.connect(trial)
        (report,) = forget(con, [str(files[k][0])])
        con.close()
        assert report.rows_handed_over == (60 if files[k][0] == charges else 0)
        rest = tmp_path / f"rest-{k}.duckdb"
        _load_world_files(rest, files[:k] + files[k + 1:])
        assert _world_state(trial) == _world_state(rest), f"forgetting {files[k][0].name}"


# Files drawn from a few ids and two contents each (so duplicates, conflicts, in-file
# repeats and whole-file copies all happen), loaded one call each in order.
ROW = st.one_of(st.tuples(st.sampled_from(["E0", "E1", "E2", "E3"]),
                          st.sampled_from(["a", "a", "a", "b"])),
                st.just(("E9", None)))  # a bad row: no actor
FILES = st.lists(st.one_of(st.lists(ROW, min_size=1, max_size=5), st.integers(0, 3)),
                 min_size=2, max_size=4)


def _full_state(db: Path) -> Any:
    con = store.connect(db, read_only=True)
    state = (_without_load_times(_status(con)),
             con.execute("SELECT event_id, actor, _file, _row FROM actions ORDER BY ALL").fetchall(),
             con.execute("SELECT path, kind, row_number, location, reason, raw FROM quarantine "
                         "ORDER BY ALL").fetchall())
    con.close()
    return state


@settings(max_examples=int(os.environ.get("AUDITLOG_FUZZ_EXAMPLES", "15")), deadline=None,
          derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=FILES, pick=st.integers(0, 3))
def test_forget_equals_never_loading_or_refuses(tmp_path_factory: pytest.TempPathFactory,
                                                drawn: list[Any], pick: int) -> None:
    """Forgetting any file gives exactly the database that loading the others gives
    (status but load times, rows with their file and row, quarantine), or refuses and
    changes nothing."""
    tmp = tmp_path_factory.mktemp("prop")
    contents: list[list[tuple[str, str | None]]] = []
    for item in drawn:  # an integer copies an earlier file: the same content, another path
        contents.append(contents[item % len(contents)] if isinstance(item, int) and contents
                        else item if not isinstance(item, int) else [("E0", "a")])
    paths = []
    for i, rows in enumerate(contents):
        events = [{**_event(eid, int(eid[1:])), "actor": actor} if actor else
                  {"event_id": eid, "ts": "2026-09-01T10:00:00Z"} for eid, actor in rows]
        paths.append(write_rows(tmp / f"f{i}.jsonl", events))
    k = pick % len(paths)
    db = tmp / "all.duckdb"
    con = store.connect(db)
    for path in paths:
        ingest_paths(con, [path], kind="actions")
    before = snapshot(con)
    try:
        forget(con, [str(paths[k])])
    except InputError:
        event("refused")
        assert snapshot(con) == before
        return
    finally:
        con.close()
    rest = tmp / "rest.duckdb"
    con = store.connect(rest)
    for path in paths[:k] + paths[k + 1:]:
        ingest_paths(con, [path], kind="actions")
    con.close()
    event("forgotten")
    assert _full_state(db) == _full_state(rest)
