"""How much memory and which spill directory every DuckDB connection gets.

DuckDB's own default is 80% of the machine's RAM per connection, and a writer's or an
ingest's connection had no limit of ours: a 10M-row run peaked at 9.5 GB while writing
the stored attribution (issue 14). Every connection opened through store/locking.py
(reader, writer, ingest, the rule sandbox) is therefore capped here.

The default is min(3 GiB, 40% of the memory this process may use): the 3 GiB leave room
under the issue's 4 GB peak for what DuckDB does not count (Python, Arrow and polars
buffers of a result); 40% lets a writer and a reader or two (a trace while an ingest
runs) share a small machine. Above the limit DuckDB spills sorts, joins and
aggregations to `temp_directory` instead of failing. Overrides: AUDITLOG_MEMORY_LIMIT
(e.g. 8GB; the global --memory-limit flag sets it), AUDITLOG_TEMP_DIR.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from auditlog.errors import UsageError

MEMORY_ENV = "AUDITLOG_MEMORY_LIMIT"
TEMP_ENV = "AUDITLOG_TEMP_DIR"
CAP = 3 * 1024**3
SHARE = 0.40
FLOOR = 256 * 1024**2  # below this DuckDB cannot run the views at all

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
UNITS = {"B": "B", "KB": "KB", "MB": "MB", "GB": "GB", "TB": "TB",
         "KIB": "KiB", "MIB": "MiB", "GIB": "GiB", "TIB": "TiB"}


def parse_size(text: str, option: str) -> str:
    """`text` as DuckDB spells a size ('2GB', '512MiB'), or a UsageError naming the
    argument `option` (as {option}: the CLI words it as its flag, errors.py)."""
    match = SIZE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError("{" + option + "} " + f"'{text}' is not a size; write e.g. 2GB, "
                         "512MB or 1.5GiB", arguments=(option,))
    return f"{match.group(1)}{UNITS[match.group(2).upper()]}"


def available_memory() -> int | None:
    """Bytes this process may use: the physical RAM, or less under a cgroup (container)
    limit; None when neither can be read."""
    found: list[int] = []
    try:
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < 1 << 60:  # 'max' or a huge number: no limit
            found.append(int(text))
    return min(found) if found else None


def default_memory_limit() -> str:
    """min(CAP, SHARE of the available memory), never below FLOOR, in MiB."""
    available = available_memory()
    limit = CAP if available is None else min(CAP, int(available * SHARE))
    return f"{max(limit, FLOOR) // 1024**2}MiB"


def memory_limit() -> str:
    """The limit every connection gets: AUDITLOG_MEMORY_LIMIT, else the default."""
    given = os.environ.get(MEMORY_ENV, "").strip()
    return parse_size(given, "memory_limit") if given else default_memory_limit()


BYTES = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
         "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def size_bytes(size: str) -> int:
    """A size as parse_size spells it ('3072MiB', '6GB'), in bytes."""
    match = SIZE.match(size)
    if not match:
        raise ValueError(f"not a size: {size!r}")
    return int(float(match.group(1)) * BYTES[match.group(2).upper()])


def leave_room(con: Any, held_bytes: int) -> None:
    """Lower `con`'s memory limit (memory_limit()) by `held_bytes` that this process
    already holds outside DuckDB, never below FLOOR: a run's findings, handed to the
    writer as Arrow, are counted in the limit, so its peak RSS stays near the limit
    instead of the limit plus the findings (issue 14)."""
    room = max(size_bytes(memory_limit()) - max(held_bytes, 0), FLOOR)
    con.execute(f"SET memory_limit = '{room // 1024**2}MiB'")


def temp_directory(db_path: Path | str) -> str:
    """Where a connection spills: AUDITLOG_TEMP_DIR, else beside the database file
    (`<file>.tmp`, DuckDB's own choice: the same disk as the data), else for an
    in-memory database the system's temporary directory (never the working directory)."""
    given = os.environ.get(TEMP_ENV, "").strip()
    if given:
        return given
    if str(db_path) in ("", ":memory:") or str(db_path).startswith(":memory:"):
        return str(Path(tempfile.gettempdir()) / f"auditlog-spill-{os.getuid()}")
    path = Path(db_path)
    return str(path.with_name(path.name + ".tmp"))


def connection_config(db_path: Path | str, config: dict[str, Any] | None) -> dict[str, Any]:
    """`config` with the memory limit and spill directory, unless it sets them itself
    (the rule sandbox sets its own memory limit, bounds.py). A connection without
    external access (the sandbox) may not name a directory: DuckDB refuses it, and
    spills to its own default, `<file>.tmp` beside the database, the default here too."""
    given = dict(config or {})
    settings: dict[str, Any] = {"memory_limit": memory_limit()}
    if given.get("enable_external_access", True):
        settings["temp_directory"] = temp_directory(db_path)
    return {**settings, **given}
