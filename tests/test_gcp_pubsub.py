"""Cloud Audit Log entries delivered through Pub/Sub (a Cloud Logging sink to a topic):
push request bodies, pulled messages and bare messages, each `data` the base64 of one
real entry (tests/data/gcp/, SOURCE.md), read as the entries they carry; a message that
cannot be decoded is quarantined at its line, saying why."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()
GCP = Path(__file__).parent / "data" / "gcp"


def entries() -> list[str]:
    """The real entries, as their files hold them (one per line)."""
    return [line for path in sorted(GCP.glob("elastic_*.log"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def message(data: bytes, n: int) -> dict[str, Any]:
    return {"data": base64.b64encode(data).decode(), "messageId": str(9000 + n),
            "publishTime": "2024-05-01T10:00:00.123Z",
            "attributes": {"logging.googleapis.com/timestamp": "2024-05-01T09:59:59Z"}}


def ingest(path: Path, db: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["rows_read"] == entry["loaded"] + entry["duplicates"] + entry["quarantined"]
    return dict(entry)


def rows(db: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT 'actions', event_id, actor, action, system, source_ip FROM actions "
            "UNION ALL SELECT 'privileges', event_id, actor, privilege, subject, operation "
            "FROM privileges ORDER BY ALL").fetchall()


def test_push_pull_and_bare_messages_are_the_entries_they_carry(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jsonl"
    plain.write_text("\n".join(entries()) + "\n", encoding="utf-8")
    expected_db = tmp_path / "plain.duckdb"
    expected = ingest(plain, expected_db)
    assert expected["loaded"] >= 3

    push, pull, bare = entries()[:3]
    wrapped = [
        {"message": message(push.encode(), 1),
         "subscription": "projects/p/subscriptions/audit-push"},
        {"ackId": "RVNEUAYWLF1GSFE3GQhoUQ5PXiM", "message": message(gzip.compress(
            pull.encode()), 2)},  # a sink's data, gzipped by its forwarder
        message(bare.encode(), 3),
    ]
    as_lines = tmp_path / "pubsub.jsonl"
    as_lines.write_text("".join(json.dumps(m) + "\n" for m in wrapped), encoding="utf-8")
    as_array = tmp_path / "pubsub.json"
    as_array.write_text(json.dumps(wrapped, indent=1), encoding="utf-8")
    db = tmp_path / "d.duckdb"
    first, second = ingest(as_lines, db), ingest(as_array, db)
    assert (first["rows_read"], first["loaded"], first["quarantined"]) == (
        expected["rows_read"], expected["loaded"], expected["quarantined"])
    assert second["duplicates"] == second["rows_read"] == first["rows_read"]
    assert rows(db) == rows(expected_db)
    with duckdb.connect(str(db), read_only=True) as con:
        kept = con.execute("SELECT DISTINCT record FROM actions_with_record UNION "
                           "SELECT DISTINCT record FROM privileges_with_record").fetchall()
    # The source record of each row is the entry the sink wrote, not its envelope.
    assert sorted(r for (r,) in kept) == sorted(entries()[:3])


def test_a_message_that_cannot_be_decoded_is_quarantined_at_its_line(tmp_path: Path) -> None:
    good = entries()[0]
    lines = [
        {"message": message(good.encode(), 1), "subscription": "projects/p/subscriptions/s"},
        {"message": {"attributes": {"a": "b"}, "messageId": "2"},
         "subscription": "projects/p/subscriptions/s"},
        {"data": "not base64 at all!", "messageId": "3"},
        message(b"\xff\xfe not utf-8", 4),
        message(b"a plain text log line", 5),
        message(b"[1, 2]", 6),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in lines), encoding="utf-8")
    db = tmp_path / "d.duckdb"
    entry = ingest(path, db)
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (6, 1, 5)
    listed = runner.invoke(app, ["quarantine", "--db", str(db), "--all", "-f", "json"])
    reasons = {r["location"]: r["reason"] for r in json.loads(listed.stdout)}
    assert reasons == {
        "line 2": "Pub/Sub message without its data (a base64 text member data)",
        "line 3": "Pub/Sub message whose data is not base64 text",
        "line 4": "Pub/Sub message whose data is not the JSON of a record (a Cloud "
                  "Logging sink writes one LogEntry as JSON per message)",
        "line 5": "Pub/Sub message whose data is not the JSON of a record (a Cloud "
                  "Logging sink writes one LogEntry as JSON per message)",
        "line 6": "Pub/Sub message whose data is JSON but not an object (one record "
                  "per message)",
    }
