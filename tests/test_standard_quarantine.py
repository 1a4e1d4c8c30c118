"""Malformed records of every standard format (CloudTrail, Kubernetes audit, OCSF, CSV
through a mapping file) are quarantined with their reason, file and position, the rest
loads, and for every file loaded + duplicates + quarantined = rows_read."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ct(event_id: str, name: str = "ListUsers", **changes: Any) -> dict[str, Any]:
    record = {
        "eventVersion": "1.08", "eventID": event_id, "eventTime": "2026-03-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        "requestParameters": {"userName": "bob",
                              "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "recipientAccountId": "111122223333",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def k8s(audit_id: str, **changes: Any) -> dict[str, Any]:
    event = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": audit_id, "stage": "ResponseComplete", "verb": "get",
        "requestURI": "/api/v1/namespaces/default/pods/p", "user": {"username": "dev"},
        "objectRef": {"resource": "pods", "namespace": "default", "name": "p"},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-03-01T10:00:00.000000Z",
        "stageTimestamp": "2026-03-01T10:00:00.100000Z",
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def ocsf(uid: str, **changes: Any) -> dict[str, Any]:
    event = {
        "class_uid": 3005, "category_uid": 3, "activity_id": 1, "type_uid": 300501,
        "severity_id": 1, "time": 1772359200000,
        "metadata": {"version": "1.8.0", "uid": uid, "product": {"name": "idp"}},
        "actor": {"user": {"name": "alice"}}, "user": {"name": "bob"},
        "privileges": ["crm:read"],
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def lines(*items: dict[str, Any] | str) -> str:
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


MAPPING = """
kind = "privileges"
[columns]
Wann = "ts"
Wer = "actor"
Fuer = "subject"
Recht = "privilege"
Art = "operation"
[values.operation]
"+" = "grant"
"-" = "revoke"
[timestamps]
ts = "%d.%m.%Y %H:%M"
"""

CSV = (
    "Wann,Wer,Fuer,Recht,Art\n"
    "01.03.2026 10:00,alice,bob,crm:read,+\n"            # record 1: loads
    "01.03.2026 11:00,alice,bob,crm:read\n"              # record 2: a field short
    "2026/03/01 12:00,alice,bob,crm:write,+\n"           # record 3: not the format
    "01.03.2026 13:00,alice,bob,crm:write,?\n"           # record 4: unknown code
    "01.03.2026 14:00,alice,,crm:write,-\n"              # record 5: no subject
    "01.03.2026 15:00,alice,bob,crm:write,-\n"           # record 6: loads
)

# file name -> (content, [(location, reason fragment)], loaded, duplicates)
CASES: dict[str, tuple[str, list[tuple[str, str]], int, int]] = {
    "cloudtrail.jsonl": (
        lines(ct("e1"), "{not json", ct("e3", eventTime=None), ct("e4", userIdentity=None),
              ct("e5", name="AttachUserPolicy", requestParameters={"userName": "bob"}),
              ct("e6", eventTime="yesterday"), ct("e1"), ct("e1", eventName="ListRoles"),
              ct("e9", name="AttachUserPolicy")),
        [("line 2", "not valid JSON"), ("line 3", "without eventTime"),
         ("line 4", "without userIdentity"), ("line 5", "missing required field privilege"),
         ("line 6", "unparseable timestamp in ts: yesterday"),
         ("line 8", "conflict: event_id e1 appears at line 1")],
        2, 1),
    "k8s.jsonl": (
        lines(k8s("a1"), k8s("a2", verb=None), k8s("a3", user={"groups": ["x"]}),
              k8s("a4", requestReceivedTimestamp=None, stageTimestamp=None),
              k8s("a5", kind="EventList"), "[1, 2]",
              k8s("a7", stage="RequestReceived"), k8s("a7"),
              k8s("a9", requestReceivedTimestamp="soon")),
        [("line 2", "without verb"), ("line 3", "without user.username"),
         ("line 4", "without requestReceivedTimestamp"), ("line 5", "not a Kubernetes audit"),
         ("line 6", "not a JSON object"), ("line 9", "unparseable timestamp in ts: soon")],
        2, 1),
    "ocsf.json": (
        json.dumps([ocsf("o1"), ocsf("o2", class_uid=4001), ocsf("o3", class_uid=None),
                    ocsf("o4", time=None), ocsf("o5", privileges=None), 7,
                    ocsf("o7", time="next week"), ocsf("o8", class_uid="IAM")]),
        [("element 2", "OCSF class 4001 is not an IAM"), ("element 3", "without a numeric"),
         ("element 4", "without time"), ("element 5", "missing required field privilege"),
         ("element 6", "not a JSON object"), ("element 7", "unparseable timestamp"),
         ("element 8", "without a numeric class_uid")],
        1, 0),
    "mapped.csv": (
        CSV,
        # records by their file line (the header is line 1)
        [("line 3", "malformed CSV record"), ("line 4", "unparseable timestamp in ts"),
         ("line 5", "unknown value ? for operation"),
         ("line 6", "missing required field subject")],
        2, 0),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("quarantine")
    db = str(root / "d.duckdb")
    (root / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    results: dict[str, Any] = {}
    for name, (content, *_) in CASES.items():
        path = root / (name + ".gz" if name.startswith("cloudtrail") else name)
        data = content.encode("utf-8")
        path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
        extra = ["--mapping", str(root / "mapping.toml")] if name == "mapped.csv" else []
        (results[name],) = cli("ingest", str(path), "--db", db, "--format", "json", *extra)
    return root, results


@pytest.mark.parametrize("name", list(CASES))
def test_bad_records_are_quarantined_with_file_position_and_reason(
        loaded: tuple[Path, dict[str, Any]], name: str) -> None:
    root, results = loaded
    _, expected, _, _ = CASES[name]
    result = results[name]
    rows = [r for r in cli("quarantine", "--db", str(root / "d.duckdb"), "-f", "json")
            if r["path"] == result["path"]]
    # A bare JSON array's members are located "value N" by DuckDB's reader, "element N"
    # when a wrapper object holds the array; either names the same position.
    got = sorted((r["location"].replace("value ", "element "), r["reason"]) for r in rows)
    assert [loc for loc, _ in got] == [loc for loc, _ in sorted(expected)]
    for (_, reason), (_, fragment) in zip(got, sorted(expected), strict=True):
        assert fragment in reason
    assert all(r["raw"] for r in rows)


@pytest.mark.parametrize("name", list(CASES))
def test_nothing_is_lost(loaded: tuple[Path, dict[str, Any]], name: str) -> None:
    _, results = loaded
    _, expected, loaded_rows, duplicates = CASES[name]
    result = results[name]
    assert (result["loaded"], result["duplicates"], result["quarantined"]) == (
        loaded_rows, duplicates, len(expected))
    assert result["loaded"] + result["duplicates"] + result["quarantined"] == result["rows_read"]
