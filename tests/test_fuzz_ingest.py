"""Fuzzing the readers: valid files of every format and source, mutated byte by byte.

Whatever the bytes, an ingest either loads, with loaded + duplicates + quarantined =
rows_read for the file (and, for JSON Lines, rows_read the true number of non-blank
lines), and a reload changes nothing; or it fails with an AuditlogError (exit 2) that
names the file in one line, is not an internal error worded as bad input, and leaves the
database exactly as it was. Any other exception fails the test: it would be a traceback.

Bounded for CI: a fixed seed (derandomize) and AUDITLOG_FUZZ_EXAMPLES examples per seed
file (default 5). For a longer run: AUDITLOG_FUZZ_EXAMPLES=500 pytest tests/test_fuzz_ingest.py
Defects found are kept as regression files in tests/data/fuzz/ (test_fuzz_regressions.py).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlog import store
from auditlog.errors import AuditlogError
from auditlog.ingest import ingest_paths
from tests.conftest import snapshot, write_rows

DATA = Path(__file__).parent / "data"
EXAMPLES = int(os.environ.get("AUDITLOG_FUZZ_EXAMPLES", "5"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Words of DuckDB's own errors: an auditlog bug, never the user's bad input.
INTERNAL = ("Binder Error", "Parser Error", "Catalog Error", "TransactionContext",
            "INTERNAL Error", "Internal error", "Traceback", "not implemented")

ACTIONS = [
    {"event_id": "E1", "ts": "2026-01-01T00:00:00Z", "actor": "alice", "action": "login",
     "system": "crm", "note": "caf\u00e9"},
    {"event_id": "E2", "ts": 1767225600, "actor": "bob", "action": "subscribe", "system": "crm",
     "target_account": "C1", "object": "PKG"},
    {"ts": "2026-01-01T01:00:00+01:00", "actor": "carol", "action": "logout", "system": "crm"},
    {"event_id": "E1", "ts": "2026-01-01T00:00:00Z", "actor": "alice", "action": "login",
     "system": "crm", "note": "caf\u00e9"},
]
CHARGES = [
    {"charge_id": "K1", "ts": "2026-01-02T00:00:00Z", "account": "C1", "product": "PKG",
     "amount": "4.99"},
    {"charge_id": "K2", "ts": "2026-01-02 00:00:00", "account": "C2", "product": "PKG",
     "amount": "10", "type": "recurring"},
]


def _native(name: str, rows: list[dict[str, object]]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        if name.endswith(".parquet"):
            columns = list(dict.fromkeys(k for r in rows for k in r))
            pl.DataFrame([{c: None if r.get(c) is None else str(r[c]) for c in columns}
                          for r in rows]).write_parquet(path)
        else:
            write_rows(path, rows)
        return path.read_bytes()


def _lines(path: Path, count: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(keepends=True)[:count])


SEEDS: dict[str, bytes] = {
    "actions.jsonl": _native("a.jsonl", ACTIONS),
    "actions.json": _native("a.json", ACTIONS),
    "actions.csv": _native("a.csv", ACTIONS),
    "actions.tsv": _native("a.tsv", ACTIONS),
    "actions.jsonl.gz": _native("a.jsonl.gz", ACTIONS),
    "charges.csv.gz": _native("c.csv.gz", CHARGES),
    "actions.parquet": _native("a.parquet", ACTIONS),
    "cloudtrail.json": (DATA / "cloudtrail/stratus_aws.persistence.iam-create-admin-user.json"
                        ).read_bytes(),
    "k8s.jsonl": _lines(DATA / "k8s_audit/falco_k8s_audit_rbac_sample.jsonl", 6),
    "ocsf.jsonl": (DATA / "ocsf/minimal_examples.jsonl").read_bytes(),
}

# Bytes that break readers: NUL, CR, invalid UTF-8, a BOM, quotes and separators, escape
# sequences and markup, numbers JSON cannot hold, and a key in another case.
PAYLOADS = [b"\x00", b"\r", b"\r\n", b"\n", b"\n\n", b"\xff", b"\xc3", b"\xef\xbb\xbf", b'"',
            b",", b"\t", b"{", b"}", b"[", b"\\", b"\x1b[2J", b"[bold]x[/]", b"1e400", b"NaN",
            b'"":1,', b'"ACTOR":"mallory",', b'"actor":"mallory",', b"-62135596800",
            b"0000-01-01T00:00:00Z", b"9999-12-31T23:59:59Z"]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 7)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(PAYLOADS)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("repeat_line"), st.floats(0, 1), st.just(b"")),
)


def mutate(data: bytes, steps: list[tuple[str, float, object]]) -> bytes:
    for op, where, arg in steps:
        at = min(int(where * len(data)), max(len(data) - 1, 0))
        if op == "flip" and data:
            data = data[:at] + bytes([data[at] ^ (1 << int(arg))]) + data[at + 1:]  # type: ignore[call-overload]
        elif op == "insert":
            data = data[:at] + bytes(arg) + data[at:]  # type: ignore[call-overload]
        elif op == "truncate":
            data = data[:at]
        elif op == "delete":
            data = data[:at] + data[at + int(arg):]  # type: ignore[call-overload]
        elif op == "repeat_line":
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            line = data[start:(end + 1 if end >= 0 else len(data))]
            data = data[:start] + line + line + data[start:][len(line):]
    return data


def true_jsonl_rows(text: bytes) -> int:
    """Non-blank lines, as the contract defines a JSON Lines row."""
    lines = text.split(b"\n")
    lines[0] = lines[0].removeprefix(b"\xef\xbb\xbf")
    return sum(1 for line in lines if line.removesuffix(b"\r").strip(b" "))


@functools.cache
def _template() -> bytes:
    """A database with something stored already, so that "the database as it was" is not
    just empty; copied for every example (cheaper than loading it each time)."""
    with tempfile.TemporaryDirectory() as folder:
        con = store.connect(Path(folder) / "db.duckdb")
        ingest_paths(con, [write_rows(Path(folder) / "base.jsonl", ACTIONS[:1])])
        con.execute("CHECKPOINT")
        con.close()
        return (Path(folder) / "db.duckdb").read_bytes()


def check_ingest(name: str, data: bytes, kind: str | None = None) -> None:
    """The conservation law, the error rule and the no-op reload, for one file."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "db.duckdb").write_bytes(_template())
        con = store.connect(root / "db.duckdb")
        try:
            before = snapshot(con)
            path = root / f"fuzzed-{name}"
            path.write_bytes(data)
            try:
                (result,) = ingest_paths(con, [path], kind=kind)
            except AuditlogError as exc:
                message = str(exc)
                assert path.name in message, message
                assert "\n" not in message.strip(), message
                assert not any(word in message for word in INTERNAL), message
                assert snapshot(con) == before
                return
            assert result.loaded + result.duplicates + result.quarantined == result.rows_read
            if name.endswith(".jsonl") and not name.startswith("k8s"):
                assert result.rows_read == true_jsonl_rows(data)
            after = snapshot(con)
            assert len(after["quarantine"]) - len(before["quarantine"]) == result.quarantined
            stored = sum(len(after[t]) - len(before[t]) for t in
                         ("actions", "privileges", "changes", "charges", "accounts"))
            assert stored == result.loaded
            for (raw,) in con.execute("SELECT raw FROM quarantine").fetchall():
                assert raw is None or not any(c in raw for c in "\x00\x1b\x9b"), raw
            (again,) = ingest_paths(con, [path], kind=kind)
            assert (again.loaded, again.rows_read) == (0, result.rows_read)
            assert snapshot(con) == after
        finally:
            con.close()


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_file_loads_cleanly(name: str) -> None:
    check_ingest(name, SEEDS[name])


@pytest.mark.parametrize("name", sorted(SEEDS))
@FUZZ
@given(steps=st.lists(mutation, min_size=1, max_size=3), inside=st.booleans())
def test_mutated_files_conserve_rows_or_fail_cleanly(
        name: str, steps: list[tuple[str, float, object]], inside: bool) -> None:
    data = SEEDS[name]
    if name.endswith(".gz") and inside:
        # Mutate the text inside the stream (the stream stays whole).
        data = gzip.compress(mutate(gzip.decompress(data), steps), mtime=0)
    else:
        data = mutate(data, steps)
    check_ingest(name, data)


@FUZZ
@given(rows=st.lists(st.dictionaries(
    st.sampled_from(["event_id", "EVENT_ID", "ts", "TS", "actor", "Actor", "action", "system",
                     "", "x", "X", " ts"]),
    st.one_of(st.none(), st.text(max_size=8), st.integers(-10**12, 10**12),
              st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
              st.sampled_from(["2026-01-01T00:00:00Z", "0000-01-01", "9999-12-31T23:59:59Z"])),
    max_size=8), min_size=1, max_size=6),
    fmt=st.sampled_from(["jsonl", "csv", "json"]))
def test_generated_rows_conserve_rows_in_every_format(
        rows: list[dict[str, object]], fmt: str) -> None:
    # Keys that differ only in case, empty keys, NaN and infinities, extreme years.
    with tempfile.TemporaryDirectory() as folder:
        path = write_rows(Path(folder) / f"rows.{fmt}", rows) if fmt != "jsonl" else None
        if path is None:
            data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        else:
            data = path.read_bytes()
    check_ingest(f"rows.{fmt}", data, kind="actions")

