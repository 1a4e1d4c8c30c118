"""The read snapshot: a copy of the database as it was when the current writer opened it.

While a process writes the database no other process can open it, so a writer first
copies the file (checkpointed: every committed change, nothing else) to
`auditlog.duckdb.snapshot`, and a reader that finds the database held opens the copy
instead of waiting: a consistent state, the one before the write began. The copy is
made only when the file changed since the last one (size and modification time), so a
writer that follows a writer pays nothing; at 1M rows the database is 54 MB and the
copy 0.09 s (benchmarks/bench_lock.py). A child process makes the copy
(copy_held): closing a descriptor of the file here would drop DuckDB's lock.

Beside it, `auditlog.duckdb.snapshot.json` names the writer open it belongs to (the
token of its holder record, see locking.py): a reader uses the copy only when the
process holding the database is that writer, so a copy left by a killed process, or a
database held by a program other than auditlog, is never mistaken for current.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a database is used: `--help` never pays it
    import duckdb


@dataclass(frozen=True)
class Snapshot:
    path: Path
    token: str
    taken_at: str


def snapshot_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".snapshot")


def meta_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".snapshot.json")


def read_snapshot(db_path: Path) -> Snapshot | None:
    try:
        meta = json.loads(meta_path(db_path).read_text(encoding="utf-8"))
        found = Snapshot(snapshot_path(db_path), str(meta["token"]), str(meta["taken_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if found.path.is_file() else None


def refresh(con: duckdb.DuckDBPyConnection, db_path: Path, token: str, now: str) -> None:
    """Make the snapshot the database as it is now (called right after a writer opens,
    before it writes), and tie it to this open's token. Best effort: on any failure the
    snapshot is disowned and readers wait instead."""
    import duckdb

    meta = meta_path(db_path)
    if not token:  # no holder record, so no reader could tell this copy is current
        return
    try:
        con.execute("CHECKPOINT")  # committed changes into the file; the WAL empty
        stat = db_path.stat()
        source, mode = [stat.st_size, stat.st_mtime_ns], stat.st_mode & 0o777
        previous = _read_json(meta)
        if previous.get("source") != source or not snapshot_path(db_path).is_file():
            meta.unlink(missing_ok=True)  # never a new token on an old copy
            _write_whole(snapshot_path(db_path), lambda temp: copy_held(db_path, temp), mode)
            now_taken = now
        else:
            now_taken = str(previous.get("taken_at", now))
        text = json.dumps({"token": token, "taken_at": now_taken, "source": source})
        _write_whole(meta, lambda temp: Path(temp).write_text(text, encoding="utf-8"), mode)
    except (OSError, duckdb.Error, subprocess.CalledProcessError):
        with contextlib.suppress(OSError):
            meta.unlink(missing_ok=True)


# A POSIX lock belongs to the process and the file, and closing *any* descriptor of
# that file in the process drops it: shutil.copyfile(db, ...) here would silently
# release DuckDB's lock. So a child process copies it: its descriptors, and their
# closing, are its own (locks are not inherited), and none stays open here. The system's
# `cp` where there is one: it starts in ~5 ms of CPU where a Python child takes ~50, and
# every writing command that follows a write pays it (issue 14).
COPY_CHILD = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"


def copy_held(db_path: Path, target: str) -> None:
    """Copy the database file to `target` without this process touching the file."""
    cp = shutil.which("cp")
    command = ([cp, "--", str(db_path), target] if cp is not None else
               [sys.executable, "-I", "-S", "-c", COPY_CHILD, str(db_path), target])
    subprocess.run(command, check=True, capture_output=True)


def _read_json(path: Path) -> dict[str, object]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_whole(target: Path, write: Callable[[str], object], mode: int) -> None:
    """Write through a temporary file in the same directory, then rename: a reader sees
    the old file or the new one, never part of one. `mode`: the database's, so whoever
    may read the database may read this too (mkstemp alone gives 0600)."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        write(temp)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
