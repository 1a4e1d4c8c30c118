"""What each unit's SQL reads, remembered across processes.

Every reader (a trace, a status) orders the shared units by what they read, and that
comes from sqlglot's parse of each unit's SQL: importing sqlglot and parsing the
attribution model's views cost a trace more than its query (issue 14). The answer
depends on the SQL text alone, so it is kept in a small JSON file keyed by the text's
SHA-256 (a changed unit is a new key; an entry is never wrong for its text). The file
lives in the user's cache directory ($AUDITLOG_CACHE_DIR, else $XDG_CACHE_HOME/auditlog,
else ~/.cache/auditlog); it is best effort: unreadable or unwritable, the SQL is parsed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

FILE_NAME = "unit-reads-v1.json"

_known: dict[str, frozenset[str]] | None = None


def cache_file() -> Path:
    given = os.environ.get("AUDITLOG_CACHE_DIR")
    if given:
        return Path(given) / FILE_NAME
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "auditlog" / FILE_NAME


def key(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def _load() -> dict[str, frozenset[str]]:
    global _known
    if _known is None:
        _known = {}
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            raw = json.loads(cache_file().read_text(encoding="utf-8"))
            _known = {k: frozenset(str(n) for n in v) for k, v in raw.items()
                      if isinstance(v, list)}
    return _known


def lookup(sql: str) -> frozenset[str] | None:
    return _load().get(key(sql))


def remember(sql: str, reads: frozenset[str]) -> frozenset[str]:
    """Keep `reads` for `sql` (and write the file, whole, by a rename); returns `reads`."""
    known = _load()
    known[key(sql)] = reads
    path = cache_file()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".reads-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({k: sorted(v) for k, v in known.items()}, out)
        os.replace(temp, path)
    return reads
