"""A page of an OData list API saved as returned (Microsoft Graph `directoryAudits`, the
Azure Activity log REST API): `{"@odata.context": ..., "value": [events],
"@odata.nextLink": ...}`. Its events are the `value` array; the paging keys are not
events. Built from the real Entra ID audit records in tests/data/azure (their
`properties` are the directoryAudit resources Graph lists)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditlog import store
from auditlog.errors import InputError
from auditlog.ingest import ingest_paths

AZURE = Path(__file__).parent / "data" / "azure"
GRAPH = "https://graph.microsoft.com/v1.0"
KINDS = ("actions", "privileges", "changes", "charges", "accounts")


def directory_audits() -> list[dict[str, Any]]:
    lines = (AZURE / "elastic_auditlogs_sample.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["properties"] for line in lines if line.strip()]


def page(events: list[dict[str, Any]]) -> dict[str, Any]:
    # The shape of GET /auditLogs/directoryAudits (learn.microsoft.com, "List
    # directoryAudits"): context, the events, and the link to the next page.
    return {
        "@odata.context": f"{GRAPH}/$metadata#auditLogs/directoryAudits",
        "value": events,
        "@odata.nextLink": f"{GRAPH}/auditLogs/directoryAudits?$skiptoken=abc",
    }


def rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    # Every column but the file's digest: the same events read from either file.
    return {
        kind: con.execute(
            f"SELECT * EXCLUDE (_file) FROM {kind} ORDER BY _row").fetchall()
        for kind in KINDS
    }


def ingest(tmp_path: Path, name: str, text: str) -> tuple[Any, dict[str, list[Any]]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    con = store.connect(tmp_path / f"{name}.duckdb")
    try:
        (result,) = ingest_paths(con, [path])
        return result, rows(con)
    finally:
        con.close()


@pytest.fixture()
def unwrapped(tmp_path: Path) -> dict[str, list[Any]]:
    text = "".join(json.dumps(event) + "\n" for event in directory_audits())
    result, got = ingest(tmp_path, "audits.jsonl", text)
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 3, 0)
    return got


@pytest.mark.parametrize("indent", [None, 2])
def test_graph_page_loads_its_value_events_as_the_events_alone(
    tmp_path: Path, unwrapped: dict[str, list[Any]], indent: int | None
) -> None:
    result, got = ingest(tmp_path, "page.json", json.dumps(page(directory_audits()), indent=indent))
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (3, 3, 0, 0)
    assert got == unwrapped
    (first, second, third) = got["actions"]
    assert first[:5] == ("Directory_53161141-e3f4-4944-85b6-7b953f17265e_6X649_134684731",
                         first[1], "b9814691-9ca1-4e55-a1ac-8ef5dd010ec0", "service",
                         "Add service principal credentials")
    assert [second[4], third[4]] == ["Update service principal"] * 2


def test_broken_event_in_a_page_is_quarantined_and_the_others_load(tmp_path: Path) -> None:
    # DuckDB cannot parse the file; the salvaging reader still sees a page.
    events = [json.dumps(event) for event in directory_audits()]
    text = ('{"@odata.context": "x", "value": [' + events[0] + ", " + events[1]
            + ', {"id": "broken", tru')
    result, got = ingest(tmp_path, "broken.json", text)
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 2, 1)
    assert [row[4] for row in got["actions"]] == [
        "Add service principal credentials", "Update service principal"]


def test_object_with_value_and_other_keys_is_not_a_page(tmp_path: Path) -> None:
    # A record that happens to hold a `value` list keeps its meaning: one record.
    record = {"time": "2024-01-01T00:00:00Z", "value": [{"a": 1}], "name": "x"}
    path = tmp_path / "one.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    con = store.connect(tmp_path / "one.duckdb")
    try:
        with pytest.raises(InputError) as caught:
            ingest_paths(con, [path])
    finally:
        con.close()
    assert "cannot tell which kind" in str(caught.value)
