"""Two processes, one database: while one writes, a reader answers at once from the
snapshot (the database as it was when the writer started) or waits with a visible line,
and a second writer waits or fails in one sentence naming the holder; never DuckDB's
raw lock error.

The holding process is a child that opens the database (or runs an ingest that stops
in its progress callback) and keeps it until the test creates a release file, so every
step is ordered by events the test sees, never by how long anything takes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import auditlog
from auditlog.errors import DatabaseBusy
from auditlog.ingest.world import sample_logs_dir
from auditlog.store import locking, snapshot
from tests.conftest import write_rows

# argv: db, mode, label, marker, release, [paths...]; modes: write (holds it), mutate
# (holds it after committing the removal of every charge and finding), ingest (stops
# after its first file), read (a read-only holder), foreign (a program other than
# auditlog: no holder record, no snapshot).
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import duckdb
    from auditlog import store
    from auditlog.store import locking
    from auditlog.ingest import ingest_paths

    db, mode, label, marker, release, *paths = sys.argv[1:]
    locking.set_wait_policy(locking.WaitPolicy(command=label))

    def hold():
        Path(marker).write_text("held")
        while not Path(release).exists():
            time.sleep(0.02)

    if mode == "foreign":
        con = duckdb.connect(db)
    elif mode == "quick":  # a write of a moment (a triage): no snapshot
        con = store.connect(db, snapshot=False)
    else:
        con = store.connect(db, read_only=mode == "read")
    if mode == "mutate":
        con.execute("DELETE FROM charges")
        con.execute("DELETE FROM findings")
    if mode == "ingest":
        ingest_paths(con, [Path(p) for p in paths], progress=lambda i, n, r: hold())
    else:
        hold()
    con.close()
    """
)
RAW_LOCK_ERROR = ("Could not set lock", "Conflicting lock", "IO Error", "Traceback")
TIMEOUT = 120  # a safety net against a hung test, never a measurement


class Holder:
    """A child process holding the database until `release()`."""

    def __init__(self, tmp: Path, db: Path, mode: str, label: str = "ingest",
                 paths: tuple[Path, ...] = ()) -> None:
        self.marker, self.release_file = tmp / f"held-{label}", tmp / f"release-{label}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db), mode, label, str(self.marker),
             str(self.release_file), *map(str, paths)])
        deadline = time.monotonic() + TIMEOUT
        while not self.marker.exists():
            assert self.proc.poll() is None, "the holding process ended early"
            assert time.monotonic() < deadline, "the holding process never got going"
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> int:
        self.release_file.touch()
        return self.proc.wait(TIMEOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(TIMEOUT)


def auditlog_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "auditlog", *args]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(auditlog_cmd(*args), capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(auditlog_cmd(*args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_line(proc: subprocess.Popen[str]) -> str:
    """The first line the command writes on stderr (it blocks until there is one)."""
    assert proc.stderr is not None
    return proc.stderr.readline()


def answer(proc: subprocess.Popen[str]) -> Any:
    """The JSON document a command wrote once it finished, which it must do cleanly."""
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest_world(sample_logs_dir())
        inv.run()
    return db


@pytest.fixture()
def db(sample_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "a.duckdb"
    shutil.copy(sample_db, copy)
    return copy


@pytest.fixture()
def writer(tmp_path: Path, db: Path) -> Iterator[Holder]:
    holder = Holder(tmp_path, db, "write")
    yield holder
    holder.kill()


@pytest.fixture()
def foreign(tmp_path: Path, db: Path) -> Iterator[Holder]:
    holder = Holder(tmp_path, db, "foreign", label="other")
    yield holder
    holder.kill()


def actions(prefix: str, n: int) -> list[dict[str, str]]:
    return [{"event_id": f"{prefix}{i}", "ts": "2026-09-01T10:00:00Z", "actor": "op",
             "action": "subscribe", "system": "orders"} for i in range(n)]


def first_charge() -> str:
    lines = (sample_logs_dir() / "ground_truth" / "remediation.csv").read_text().splitlines()
    return lines[1].split(",")[0]


READERS = [["status"], ["findings"], ["trace", "charge", "CHARGE"], ["remediation"]]
WRITERS = [["ingest", "NEW"], ["run"], ["findings", "triage", "FINDING", "--status", "acknowledged"]]


def command_args(command: list[str], db: Path) -> list[str]:
    fill = {"CHARGE": first_charge, "FINDING": lambda: first_finding(db),
            "NEW": lambda: str(write_rows(db.parent / "new.jsonl", actions("N", 30)))}
    return [fill[a]() if a in fill else a for a in command]


def first_finding(db: Path) -> str:
    with auditlog.open(db) as inv:
        return str(inv.findings()["finding_id"][0])


@pytest.mark.parametrize("command", WRITERS)
def test_a_writer_with_no_wait_names_the_holder_in_one_sentence(
        tmp_path: Path, db: Path, command: list[str]) -> None:
    args = command_args(command, db)
    holder = Holder(tmp_path, db, "write")
    try:
        result = run_cli("--no-wait", *args, "--db", str(db))
    finally:
        holder.kill()
    assert result.returncode == 75, result.stderr
    assert f"in use by the ingest by PID {holder.pid}" in result.stderr
    assert "not waiting" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(raw in result.stderr for raw in RAW_LOCK_ERROR)
    assert result.stdout == ""


@pytest.mark.parametrize("command", READERS)
def test_readers_answer_at_once_from_the_state_before_the_writer(
        tmp_path: Path, db: Path, command: list[str]) -> None:
    args = [*command_args(command, db), "--db", str(db), "--format", "json"]
    before = run_cli(*args)
    assert before.returncode == 0, before.stderr
    # The writer commits the removal of every charge and finding, and keeps the file.
    holder = Holder(tmp_path, db, "mutate")
    try:
        during = run_cli(*args)
    finally:
        assert holder.release() == 0
    assert during.returncode == 0, during.stderr
    assert json.loads(during.stdout) == json.loads(before.stdout)  # consistent: as before
    assert during.stderr.startswith(f"note: the ingest by PID {holder.pid}")
    assert "as it was when it started" in during.stderr
    assert not any(raw in during.stderr for raw in RAW_LOCK_ERROR)
    after = run_cli("status", "--db", str(db), "--format", "json")
    assert json.loads(after.stdout)["kinds"]["charges"]["rows"] == 0  # then the latest


@pytest.mark.parametrize("command", READERS[:3])
def test_readers_with_wait_wait_with_a_visible_line_then_answer(
        writer: Holder, db: Path, command: list[str]) -> None:
    proc = start_cli("--wait", *command_args(command, db), "--db", str(db),
                     "--format", "json")
    line = wait_line(proc)
    assert line.startswith(f"waiting for the ingest by PID {writer.pid}"), line
    assert str(db) in line
    assert writer.release() == 0
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert json.loads(out)  # the whole answer, once the writer is done
    assert not any(raw in line + err for raw in RAW_LOCK_ERROR)


def test_without_a_snapshot_readers_wait_or_name_the_holder(foreign: Holder, db: Path) -> None:
    # A program other than auditlog holds the file: no snapshot of its start exists.
    busy = run_cli("--no-wait", "status", "--db", str(db))
    assert busy.returncode == 75
    assert f"in use by PID {foreign.pid}; not waiting" in busy.stderr
    proc = start_cli("status", "--db", str(db), "--format", "json")
    assert wait_line(proc).startswith(f"waiting for PID {foreign.pid} to release")
    assert foreign.release() == 0
    assert answer(proc)["kinds"]


def test_readers_wait_for_a_write_of_a_moment(tmp_path: Path, db: Path) -> None:
    # A triage does not copy the database for its readers: they wait for it instead,
    # and never read an earlier writer's snapshot as if it were this one's.
    Holder(tmp_path, db, "write", label="first").release()
    triage = Holder(tmp_path, db, "quick", label="findings")
    proc = start_cli("status", "--db", str(db), "--format", "json")
    assert wait_line(proc).startswith(f"waiting for the findings by PID {triage.pid}")
    assert triage.release() == 0
    assert answer(proc)["kinds"]


def test_a_reader_sees_an_ingest_whole_or_not_at_all(tmp_path: Path, db: Path) -> None:
    rows_before = auditlog.open(db).status()["kinds"]["actions"]["rows"]
    first = write_rows(tmp_path / "first.jsonl", actions("E", 2000))
    second = write_rows(tmp_path / "second.jsonl", actions("F", 2000))
    # The ingest loads the first file, then stops (in its progress callback) mid-call.
    ingest = Holder(tmp_path, db, "ingest", paths=(first, second))
    try:
        now = run_cli("--no-wait", "status", "--db", str(db), "--format", "json")
        assert now.returncode == 0 and f"the ingest by PID {ingest.pid}" in now.stderr
        proc = start_cli("--wait", "status", "--db", str(db), "--format", "json")
        assert wait_line(proc).startswith(f"waiting for the ingest by PID {ingest.pid}")
        assert ingest.release() == 0
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        ingest.kill()
    assert json.loads(now.stdout)["kinds"]["actions"]["rows"] == rows_before
    assert proc.returncode == 0, err
    # both files: the committed whole, never a part
    assert json.loads(out)["kinds"]["actions"]["rows"] == rows_before + 4000


def test_a_second_writer_waits_then_loads(writer: Holder, db: Path, tmp_path: Path) -> None:
    new = write_rows(tmp_path / "new.jsonl", actions("N", 30))
    proc = start_cli("ingest", str(new), "--db", str(db), "--format", "json")
    assert wait_line(proc).startswith(f"waiting for the ingest by PID {writer.pid}")
    assert writer.release() == 0
    assert [r["loaded"] for r in answer(proc)] == [30]


def test_a_writer_held_off_by_a_reader_names_its_pid(tmp_path: Path, db: Path) -> None:
    reader = Holder(tmp_path, db, "read", label="report")
    try:
        result = run_cli("--no-wait", "ingest", str(sample_logs_dir() / "billing"),
                         "--db", str(db))
        # Readers leave no record, so the holder is named by the PID DuckDB reports.
        assert result.returncode == 75, result.stderr
        assert f"in use by PID {reader.pid}" in result.stderr
        # Readers share the file: a second one is not held off.
        assert run_cli("--no-wait", "status", "--db", str(db)).returncode == 0
    finally:
        reader.kill()


def test_gives_up_after_the_timeout_in_one_sentence(writer: Holder, db: Path) -> None:
    result = run_cli("--wait", "--wait-timeout", "0.5", "status", "--db", str(db))
    assert result.returncode == 75
    waiting, error = result.stderr.strip().splitlines()
    assert waiting.startswith(f"waiting for the ingest by PID {writer.pid}")
    assert "gave up waiting after 0.5 s" in error and f"PID {writer.pid}" in error


def test_a_killed_writer_leaves_a_record_that_blocks_nobody(tmp_path: Path, db: Path) -> None:
    holder = Holder(tmp_path, db, "write")
    record = locking.holder_path(db)
    assert json.loads(record.read_text())["pid"] == holder.pid
    holder.kill()
    assert record.exists()  # kill -9: no chance to remove it
    result = run_cli("--no-wait", "status", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert locking.read_holder(db) is None  # its process is gone: no holder
    # and a process that does hold the database is never labelled by it
    reader = Holder(tmp_path, db, "read", label="report")
    try:
        busy = run_cli("--no-wait", "ingest", str(sample_logs_dir() / "iam"), "--db", str(db))
    finally:
        reader.kill()
    assert f"in use by PID {reader.pid};" in busy.stderr


def test_a_record_naming_another_live_process_is_only_a_label(tmp_path: Path,
                                                              db: Path) -> None:
    # A live PID that does not hold the database (this test's own): nothing waits for it.
    locking.holder_path(db).write_text(json.dumps(
        {"pid": os.getpid(), "command": "ingest", "started_at": "then", "token": "t"}))
    assert run_cli("--no-wait", "status", "--db", str(db)).returncode == 0
    # and while another process holds it, the record is not taken for that process.
    reader = Holder(tmp_path, db, "read", label="report")
    try:
        result = run_cli("--no-wait", "ingest", str(sample_logs_dir() / "billing"),
                         "--db", str(db))
        assert f"in use by PID {reader.pid}" in result.stderr
    finally:
        reader.kill()


def test_the_library_raises_database_busy_with_the_holder(writer: Holder, db: Path) -> None:
    with locking.waiting(wait=False), pytest.raises(DatabaseBusy) as caught:
        auditlog.open(db).run()
    assert (caught.value.pid, caught.value.command) == (writer.pid, "ingest")
    assert caught.value.exit_code == 75


def test_the_library_tells_its_callback_and_waits(writer: Holder, db: Path) -> None:
    heard: list[locking.Notice] = []

    def notify(notice: locking.Notice) -> None:
        heard.append(notice)
        writer.release_file.touch()  # let the writer go once we are known to wait

    with locking.waiting(wait=True, notify=notify):
        status = auditlog.open(db).status()
    assert [(n.holder.pid, n.snapshot) for n in heard] == [(writer.pid, False)]
    assert status["kinds"]


def test_a_snapshot_of_another_writer_open_is_not_used(tmp_path: Path, db: Path) -> None:
    # The snapshot left by an earlier writer belongs to that open, not to this one.
    Holder(tmp_path, db, "write", label="first").release()
    stale = json.loads(snapshot.meta_path(db).read_text())
    holder = Holder(tmp_path, db, "foreign", label="other")
    try:
        assert json.loads(snapshot.meta_path(db).read_text()) == stale
        result = run_cli("--no-wait", "status", "--db", str(db))
    finally:
        holder.kill()
    assert result.returncode == 75 and f"PID {holder.pid}" in result.stderr
