"""A log source plugs in through the registry alone (ingest/sources.py): an adapter that
has the Adapter interface and is listed in ADAPTERS loads its format, in every file
format that holds JSON records, with nothing else changed; the pipeline never names it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from auditlog.errors import InputError
from auditlog.ingest import ingest_paths, sources
from auditlog.ingest.staging import Staged, extract, key, split_by_kind, text
from tests.conftest import write_rows

FIELDS = {"uuid": key("entryId"), "published": key("published"), "event_type": key("eventType"),
          "who": "$.actor.alternateId"}


class SystemLog:
    """A toy identity-provider log: `eventType` by `actor.alternateId` at `published`
    (keyed `entryId`, so that no real adapter, such as Okta's, claims it)."""

    name = "toylog"

    def matches(self, keys: set[str]) -> bool:
        return {"entryId", "eventType", "published"} <= keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE TEMP TABLE _toylog_fields AS {extract(FIELDS)}")
        con.execute(f"""
            CREATE TEMP TABLE _toylog_mapped AS
            SELECT _row, _loc, _raw, _bad, 'actions' AS _kind, {text('uuid')} AS event_id,
                   {text('published')} AS ts, {text('who')} AS actor,
                   {text('event_type')} AS action, 'idp' AS system
            FROM _toylog_fields""")
        con.execute("DROP TABLE _toylog_fields")
        return split_by_kind(con, "_toylog_mapped", self.name,
                             {"actions": ["event_id", "ts", "actor", "action", "system"]},
                             default_kind="actions")


RECORDS = [
    {"entryId": "u-1", "published": "2026-03-01T10:00:00Z", "eventType": "user.session.start",
     "actor": {"alternateId": "ana@example.com"}},
    {"entryId": "u-2", "published": "2026-03-01T10:05:00Z", "eventType": "group.user_membership.add",
     "actor": {"alternateId": "bo@example.com"}},
    {"entryId": "u-3", "eventType": "user.session.start", "actor": {"alternateId": "x"}},
]


@pytest.mark.parametrize("name", ["idp.jsonl", "idp.json", "idp.jsonl.gz"])
def test_a_registered_adapter_loads_its_format(
        tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch,
        name: str) -> None:
    monkeypatch.setattr(sources, "ADAPTERS", (SystemLog(), *sources.ADAPTERS))
    (result,) = ingest_paths(con, [write_rows(tmp_path / name, RECORDS)])
    assert (result.kind, result.rows_read, result.loaded, result.quarantined) == (
        "actions", 3, 2, 1)
    assert con.execute("SELECT event_id, actor, action, system FROM actions ORDER BY _row"
                       ).fetchall() == [
        ("u-1", "ana@example.com", "user.session.start", "idp"),
        ("u-2", "bo@example.com", "group.user_membership.add", "idp")]
    (reason,) = con.execute("SELECT reason FROM quarantine").fetchone() or ("",)
    assert reason == "missing required field ts"
    # Extra source fields the adapter does not map are not invented.
    assert con.execute("SELECT count(*) FROM actions WHERE extra IS NOT NULL").fetchone() == (0,)


def test_unregistered_the_same_records_are_read_by_their_own_keys(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Without the adapter nothing recognizes the records: their keys name no kind.
    with pytest.raises(InputError, match="cannot tell which kind of log this is"):
        ingest_paths(con, [write_rows(tmp_path / "idp.jsonl", RECORDS)])
