"""Writing an export so that a kill at any moment leaves the last good one intact.

The export is written into a hidden directory beside its target and renamed into place
only when complete. Replacing an earlier export swaps the two directories in one step
where the system can (Linux renameat2 RENAME_EXCHANGE), else in two renames with the
earlier export kept aside in between; whatever a killed export left, the next export
to the same target clears or puts back first (recover).

Side directories live in the target's parent, so no rename crosses a file system:
.<name>.partial-<pid>-<token> while writing, .<name>.previous-<pid>-<token> for the
export being replaced. The pid tells a live export's directory from a dead one's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auditlog.export.manifest import MANIFEST
from auditlog.store.locking import pid_alive

PARTIAL, PREVIOUS = "partial", "previous"
AT_FDCWD, RENAME_EXCHANGE = -100, 2


def side_dir(out_dir: Path, role: str) -> Path:
    return out_dir.parent / f".{out_dir.name}.{role}-{os.getpid()}-{secrets.token_hex(4)}"


def dead_side_dirs(out_dir: Path, role: str) -> list[Path]:
    """This target's side directories of `role` whose export process is gone."""
    prefix = f".{out_dir.name}.{role}-"
    found = []
    for path in sorted(out_dir.parent.glob(f"{glob.escape(prefix)}*-*")):
        pid = path.name.removeprefix(prefix).split("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)) and path.is_dir():
            found.append(path)
    return found


def recover(out_dir: Path) -> None:
    """Undo what a killed export left beside out_dir: its partial directory goes; an
    earlier export it had set aside goes back if out_dir is missing, else goes too."""
    if not out_dir.parent.is_dir():
        return
    for path in dead_side_dirs(out_dir, PARTIAL):
        shutil.rmtree(path, ignore_errors=True)
    for path in dead_side_dirs(out_dir, PREVIOUS):
        if not out_dir.exists():
            path.rename(out_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A new directory beside out_dir, removed unless it was renamed into place."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = side_dir(out_dir, PARTIAL)
    staging.mkdir()  # mkdir, not mkdtemp: the export gets the umask's mode, not 0700
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def install(staging: Path, out_dir: Path) -> None:
    """Put the complete export at out_dir, replacing an earlier one (already checked to
    be replaceable) in one atomic swap where possible."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    if not any(out_dir.iterdir()):
        fill(staging, out_dir)
        return
    if exchange(staging, out_dir):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the earlier export
        return
    # No atomic swap here: the earlier export waits aside, whole, for the two renames;
    # a kill between them is undone by the next export's recover().
    previous = side_dir(out_dir, PREVIOUS)
    out_dir.rename(previous)
    staging.rename(out_dir)
    shutil.rmtree(previous, ignore_errors=True)


def fill(staging: Path, out_dir: Path) -> None:
    """Move the export into an empty directory the user made (perhaps the current one,
    or a mount point, which must stay where it is): file by file, the manifest last, so
    an interrupted move leaves export files without a manifest, which never verify and
    which the next export replaces."""
    names = sorted((p for p in staging.iterdir()), key=lambda p: p.name == MANIFEST)
    for path in names:
        path.rename(out_dir / path.name)
    staging.rmdir()


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # a C library older than glibc 2.28
        return False
    done = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return bool(done == 0)
