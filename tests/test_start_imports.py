"""A command imports what it uses (issue 14): `--help` and `--version` parse and print
without DuckDB or any data library, and `status` reads the database without the readers
(pyarrow, polars) or the exporters. Checked in a fresh interpreter through sys.modules:
what is loaded, never how long it took."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from golden import sample_db

__all__ = ["sample_db"]

# rich.progress (with rich.live): only the commands that draw a bar (ingest, run,
# export, generate, demo) import it, when they draw it; --help imports every command module.
HEAVY = ("duckdb", "polars", "pyarrow", "sqlglot", "jinja2", "xlsxwriter", "openpyxl",
         "rich.progress")

# Runs the CLI in-process as the console script does, then reports what got imported.
PROBE = """
import json, sys
from auditlog.cli import main
args = json.loads(sys.argv[1])
sys.argv = ["auditlog", *args]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "loaded": sorted(m for m in %r if m in sys.modules)}),
      file=sys.stderr)
"""


# Ours that a charge's trace does without (session 13): the change and account traces'
# records, the money sums, the near-id look-up (only for an unknown id), and the source
# records unless --records asks for them.
NOT_FOR_A_CHARGE = ("auditlog.analysis.change_traces", "auditlog.analysis.money",
                    "auditlog.analysis.browse", "auditlog.analysis.source_records")


def loaded_by(args: list[str], db: Path, cache: Path | None = None,
              watched: tuple[str, ...] = HEAVY) -> tuple[object, list[str]]:
    env = {"AUDITLOG_DB": str(db), "COLUMNS": "80", "NO_COLOR": "1",
           "PATH": "/usr/bin:/bin", "AUDITLOG_CACHE_DIR": str(cache or db.parent / "cache")}
    done = subprocess.run([sys.executable, "-c", PROBE % (watched,), json.dumps(args)],
                          capture_output=True, text=True, env=env, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], report["loaded"]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["trace", "--help"],
                                  ["status", "--help"], ["run", "--help"]])
def test_help_and_version_import_no_data_library(args: list[str], tmp_path: Path) -> None:
    code, loaded = loaded_by(args, tmp_path / "none.duckdb")
    assert code in (0, None)
    assert loaded == []


@pytest.mark.parametrize("args", [["status"], ["trace", "charge", "CH000471040"],
                                  ["trace", "change", "CHG0160644"]])
def test_reading_commands_import_duckdb_but_not_readers_or_exporters(
        args: list[str], sample_db: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first_code, _ = loaded_by(args, sample_db, cache)  # may parse the units (cold cache)
    code, loaded = loaded_by(args, sample_db, cache)
    assert first_code in (0, None) and code in (0, None)
    assert loaded == ["duckdb"]


def test_ingest_of_a_clean_file_imports_no_data_library_but_duckdb(tmp_path: Path) -> None:
    # The salvage and auditd readers (pyarrow) are for files DuckDB's readers refuse or
    # auditd text; the per-file results are rendered from records, not a DataFrame.
    log = tmp_path / "actions.jsonl"
    log.write_text('{"event_id": "e1", "ts": "2025-01-01T00:00:00Z", "actor": "a", '
                   '"action": "login", "system": "crm"}\n', encoding="utf-8")
    for output in ("table", "json"):
        db = tmp_path / f"{output}.duckdb"
        code, loaded = loaded_by(["ingest", str(log), "--kind", "actions", "--format", output],
                                 db, watched=("polars", "pyarrow"))
        assert code in (0, None) and loaded == []
        assert db.is_file()


def test_a_charge_trace_imports_only_what_it_uses(sample_db: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ["trace", "charge", "CH000471040"]
    loaded_by(args, sample_db, cache)  # may parse the units (cold cache)
    code, loaded = loaded_by(args, sample_db, cache, NOT_FOR_A_CHARGE)
    assert code in (0, None)
    assert loaded == []
    # What it left out is there when needed: the records, an unknown id's near ids, and
    # a change's trace (whose records the trace module names lazily, PEP 562).
    code, loaded = loaded_by([*args, "--records"], sample_db, cache, NOT_FOR_A_CHARGE)
    assert code in (0, None) and loaded == ["auditlog.analysis.source_records"]
    code, loaded = loaded_by(["trace", "charge", "CH00047104"], sample_db, cache,
                             NOT_FOR_A_CHARGE)
    assert code == 2 and "auditlog.analysis.browse" in loaded
    code, loaded = loaded_by(["trace", "change", "CHG0160644"], sample_db, cache,
                             NOT_FOR_A_CHARGE)
    assert code in (0, None)
    assert {"auditlog.analysis.change_traces", "auditlog.analysis.money"} <= set(loaded)


# What `status` does without (session 15): the forgetting (it only asks whether the
# latest run's findings are stale), the ingest's staging and readers, and the HTML
# escaping of the reports.
NOT_FOR_STATUS = ("auditlog.ingest.forget", "auditlog.ingest.staging",
                  "auditlog.ingest.loading", "auditlog.ingest.pipeline", "markupsafe")


def test_status_imports_neither_the_ingest_nor_html(sample_db: Path, tmp_path: Path) -> None:
    code, loaded = loaded_by(["status"], sample_db, tmp_path / "cache", NOT_FOR_STATUS)
    assert code in (0, None)
    assert loaded == []


def test_the_trace_records_are_one_set_of_classes() -> None:
    from auditlog.analysis import change_traces, traces

    for name in traces.CHANGE_TRACE_NAMES:
        assert getattr(traces, name) is getattr(change_traces, name)
    assert set(traces.CHANGE_TRACE_NAMES) <= set(traces.__all__)
    with pytest.raises(AttributeError):
        _ = traces.NoSuchRecord  # type: ignore[attr-defined]


def test_unit_reads_come_back_the_same_from_the_cache(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from auditlog.pack import reads_cache, units

    monkeypatch.setenv("AUDITLOG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(reads_cache, "_known", None)
    sql = "WITH x AS (SELECT * FROM charges) SELECT * FROM x JOIN actions USING (account)"
    parsed = units.sql_reads(sql)
    assert parsed == {"charges", "actions"}
    assert reads_cache.cache_file().is_file()
    monkeypatch.setattr(reads_cache, "_known", None)  # as a new process: from the file
    assert reads_cache.lookup(sql) == parsed
    assert units.sql_reads(sql + " ") == parsed  # another text, parsed again, same reads
    # An unwritable cache directory is no error: the SQL is parsed every time.
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("AUDITLOG_CACHE_DIR", str(blocked))
    monkeypatch.setattr(reads_cache, "_known", None)
    assert units.sql_reads(sql) == parsed


def test_a_database_error_is_still_one_sentence(tmp_path: Path) -> None:
    # cli.main tells DuckDB's errors apart without importing DuckDB itself.
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a database file" * 100)
    done = subprocess.run([sys.executable, "-m", "auditlog", "status", "--db", str(bad)],
                          capture_output=True, text=True, check=False,
                          env={"COLUMNS": "80", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error:")
