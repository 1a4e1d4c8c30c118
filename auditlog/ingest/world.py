"""The demo's library side: find the sample incident and load it as its sources say.

A world directory (the shipped `sample_logs/` or one written by `auditlog generate`)
holds `sources.json`: each file with its kind and the zone of its naive timestamps (the
billing export is in local time). Loading follows it, one ingest call per file, since
the zone is per call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import duckdb

from auditlog.errors import InputError, UsageError
from auditlog.ingest import FileResult, ingest_paths

SOURCES_FILE = "sources.json"
SAMPLE_PACKAGE = "auditlog.sample_logs"

# Called after each file with (index, total, result), for progress bars.
Progress = Callable[[int, int, FileResult], None]


def sample_logs_dir() -> Path:
    """The shipped sample incident, wherever auditlog is installed."""
    root = Path(str(files(SAMPLE_PACKAGE)))
    if not (root / SOURCES_FILE).is_file():
        raise UsageError(f"the sample logs are missing from this installation ({root})")
    return root


def is_world(path: Path) -> bool:
    """Whether `path` is a world directory (it holds the sources.json a world writes)."""
    return path.is_dir() and (path / SOURCES_FILE).is_file()


def read_sources(root: Path) -> list[tuple[Path, str, str]]:
    """(path, kind, tz) of every file that `sources.json` in `root` lists."""
    manifest = root / SOURCES_FILE
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))
        return [(root / e["path"], str(e["kind"]), str(e.get("tz", "UTC"))) for e in entries]
    except FileNotFoundError:
        raise UsageError(f"{root} has no {SOURCES_FILE}; load its files with 'auditlog ingest'")
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{manifest}: not a list of {{path, kind, tz}} entries ({exc})") from None


def load_world(
    con: duckdb.DuckDBPyConnection, root: Path, progress: Progress | None = None
) -> list[FileResult]:
    """Ingest every file of a world directory with the kind and zone its sources name."""
    sources = read_sources(root)
    results: list[FileResult] = []
    for index, (path, kind, tz) in enumerate(sources):
        results += ingest_paths(con, [path], kind=kind, tz=tz)
        if progress is not None:
            progress(index, len(sources), results[-1])
    return results
