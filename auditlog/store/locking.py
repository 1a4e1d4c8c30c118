"""Opening the database while another process holds it: a snapshot, a wait, or a sentence.

DuckDB lets one process write a file, or several processes read it, never both: while
an ingest or a run writes, every other open fails with "Could not set lock on file ...
Conflicting lock is held in ... (PID N)". Every open in auditlog goes through
`open_database`, which instead, by the policy (WaitPolicy, set by the CLI's
--wait/--no-wait):

- for a reader, opens the read snapshot (snapshot.py): the database as it was when the
  writer holding it opened it, at once (not with wait=True, which asks for the latest);
- else waits, telling `notify` who it waits for (once per holder), up to a timeout;
- or, with wait=False or after the timeout, raises DatabaseBusy naming the holder.

See docs/concurrency.md for why this design (measured: benchmarks/bench_lock.py).

Who holds it: a writer leaves a holder record beside the database
(`auditlog.duckdb.lock`, JSON: pid, command, started_at, and a token the snapshot
carries). The record is only ever a label: the lock itself is DuckDB's, which the
kernel drops when a process dies, so a record left by a killed process blocks nobody.
It names the holder only when its PID is the one DuckDB reports; a record whose
process is gone is removed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlog.errors import DatabaseBusy
from auditlog.store import snapshot as snapshots
from auditlog.store.memory import connection_config

if TYPE_CHECKING:  # DuckDB is imported when a database is opened: `--help` never pays it
    import duckdb

# DuckDB's wording of a lock conflict, and the PID it names (absent on some platforms).
LOCK_CONFLICT = re.compile(r"Could not set lock on file|Conflicting lock is held")
HOLDER_PID = re.compile(r"\(PID (\d+)\)")
POLL_SECONDS = 0.25
DEFAULT_TIMEOUT = 600.0  # long enough for a 10M-row ingest on a loaded machine


@dataclass(frozen=True)
class Holder:
    """The process that holds the database, as far as can be told."""

    pid: int | None
    command: str | None = None
    started_at: str | None = None
    token: str | None = None

    def describe(self) -> str:
        """'the ingest by PID 123 (since 10:02:11 UTC)', or less when less is known."""
        who = f"the {self.command} by PID {self.pid}" if self.command else (
            f"PID {self.pid}" if self.pid is not None else "another process")
        return f"{who} (since {self.started_at})" if self.started_at else who


@dataclass(frozen=True)
class Notice:
    """What an open tells the policy's `notify`: it waits for `holder`, or (snapshot)
    answers from the database as it was when `holder` opened it."""

    db_path: Path
    holder: Holder
    snapshot: bool


@dataclass(frozen=True)
class WaitPolicy:
    """What an open does when the database is held. wait=None (the default): a reader
    reads the snapshot if there is one, else waits; a writer waits. wait=True: everyone
    waits (the latest data). wait=False: nobody waits; a reader may still read the
    snapshot. Waits last up to `timeout` seconds (None: no limit)."""

    wait: bool | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    notify: Callable[[Notice], None] | None = None
    command: str = field(default_factory=lambda: Path(sys.argv[0]).name or "python")


_policy = WaitPolicy()


def set_wait_policy(policy: WaitPolicy) -> None:
    """The policy every later open in this process follows (the CLI sets it once)."""
    global _policy
    _policy = policy


def wait_policy() -> WaitPolicy:
    return _policy


@contextlib.contextmanager
def waiting(**changes: Any) -> Iterator[WaitPolicy]:
    """Change the policy for a block, e.g. `with waiting(wait=False): ...`."""
    before = _policy
    set_wait_policy(replace(before, **changes))
    try:
        yield _policy
    finally:
        set_wait_policy(before)


def holder_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def open_database(db_path: Path, *, read_only: bool, config: dict[str, Any] | None = None,
                  snapshot: bool = True) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, or the snapshot, or a wait, while another process holds the file."""
    import duckdb

    config = connection_config(db_path, config)  # every connection under a memory limit
    policy = _policy
    deadline = None if policy.timeout is None else time.monotonic() + policy.timeout
    while True:
        try:
            con = duckdb.connect(str(db_path), read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            if not LOCK_CONFLICT.search(str(exc)):
                raise
            holder = current_holder(db_path, str(exc))
            if read_only and policy.wait is not True:
                found = open_snapshot(db_path, holder, config)
                if found is not None:
                    tell(policy, Notice(db_path, holder, snapshot=True))
                    return found
            out_of_time = deadline is not None and time.monotonic() >= deadline
            if policy.wait is False or out_of_time:
                raise busy(db_path, holder, policy) from None
            tell(policy, Notice(db_path, holder, snapshot=False))
            time.sleep(POLL_SECONDS)
            continue
        if not read_only and db_path.is_file():  # not for ":memory:"
            token, started = write_holder(db_path, policy.command)
            if snapshot:
                snapshots.refresh(con, db_path, token, started)
        return con


def tell(policy: WaitPolicy, notice: Notice) -> None:
    """Pass the notice on, once: a command opens the database several times, and the
    user needs to hear about one holder once."""
    if policy.notify is not None and notice not in _told:
        _told.add(notice)
        policy.notify(notice)


_told: set[Notice] = set()


def open_snapshot(db_path: Path, holder: Holder,
                  config: dict[str, Any] | None) -> duckdb.DuckDBPyConnection | None:
    """The snapshot the holding writer took when it opened, or None (no such writer of
    ours, or its snapshot not yet written)."""
    import duckdb

    found = snapshots.read_snapshot(db_path)
    if found is None or holder.token is None or found.token != holder.token:
        return None
    try:
        return duckdb.connect(str(found.path), read_only=True,
                              config=connection_config(db_path, config))
    except duckdb.Error:
        return None  # replaced or removed as we looked: wait instead


def busy(db_path: Path, holder: Holder, policy: WaitPolicy) -> DatabaseBusy:
    reason = (f"gave up waiting after {policy.timeout or 0:g} s (--wait-timeout)"
              if policy.wait is not False else "not waiting (--no-wait)")
    return DatabaseBusy(
        f"database {db_path} is in use by {holder.describe()}; {reason}, "
        "try again when it has finished", pid=holder.pid, command=holder.command)


def current_holder(db_path: Path, message: str) -> Holder:
    """The holder DuckDB names, labelled by the holder record when that is its record."""
    found = HOLDER_PID.search(message)
    pid = int(found.group(1)) if found else None
    record = read_holder(db_path)
    if record is not None and pid is not None and record.pid == pid:
        return record
    return Holder(pid)


def read_holder(db_path: Path) -> Holder | None:
    """The holder record, or None when there is none or its process is gone. A dead
    process's record is left alone (deleting it could race with a new writer writing
    its own); it is harmless, as it is only believed for the PID DuckDB names, and the
    next writer replaces it."""
    path = holder_path(db_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = Holder(int(data["pid"]), str(data["command"]), str(data["started_at"]),
                        str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, or being replaced right now: no label this time
    return record if record.pid is not None and pid_alive(record.pid) else None


def write_holder(db_path: Path, command: str) -> tuple[str, str]:
    """Record this process as the writer, with a new token and the time; written whole
    (temp file, rename) so a reader never sees half a record. Best effort: a read-only
    directory only loses the label (and the snapshot, which needs the token)."""
    token = secrets.token_hex(8)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = json.dumps({"pid": os.getpid(), "command": command, "started_at": started,
                       "token": token})
    target = holder_path(db_path)
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, db_path.stat().st_mode & 0o666)  # readable by the db's readers
        os.replace(temp, target)
    except OSError:
        return "", started
    _written.add(target)
    return token, started


# Records this process wrote, removed when it exits normally (a killed process's record
# stays, ignored, until the next writer replaces it).
_written: set[Path] = set()


@atexit.register
def _remove_own_records() -> None:
    for path in _written:
        record = None
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text(encoding="utf-8"))
        if record is not None and record.get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                path.unlink()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return False
    return True
