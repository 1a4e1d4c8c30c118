"""Findings as OCSF 1.8.0 Detection Finding events: every event validates against the
official 1.8.0 schema (generated offline by ocsf-json-schema from the schema export it
ships), and the mapping of rule, severity, triage status, times and evidence holds."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ocsf_json_schema import OcsfJsonSchema, OcsfJsonSchemaEmbedded, get_ocsf_schema

from auditlog import store
from auditlog.analysis.findings import FindingFilter, findings_records, list_findings, triage
from auditlog.export.bundle import export_bundle
from auditlog.export.ocsf import OCSF_FILE
from tests.test_export import world_database

# The real OCSF 1.8.0 Detection Finding example (datetime profile), as shipped with the
# project's reference data.
REAL_EXAMPLE = json.loads(
    '{"class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200401, "severity_id": '
    '4, "severity": "High", "status_id": 1, "status": "New", "time": 1700000000000, "time_dt": '
    '"2023-11-14T22:13:20Z", "is_alert": true, "confidence_id": 3, "metadata": {"version": '
    '"1.8.0", "uid": "finding-5f2c", "product": {"name": "opsaudit", "vendor_name": "Example", '
    '"version": "0.1.0"}, "profiles": ["datetime"]}, "finding_info": {"uid": '
    '"R001:alice:bob:1700000000000", "title": "Self-approved privilege escalation", "desc": '
    '"alice attached AdministratorAccess to bob with no matching change ticket", "analytic": '
    '{"type_id": 1, "type": "Rule", "name": "priv_grant_without_change", "uid": "R001"}, "types": '
    '["privilege-change"], "first_seen_time": 1700000000000, "last_seen_time": 1700000000000, '
    '"related_events": [{"uid": "0a1b2c3d-eventID"}]}, "evidences": [{"actor": {"user": {"uid": '
    '"AIDAEXAMPLEALICE", "name": "alice", "type_id": 1}}, "api": {"operation": '
    '"AttachUserPolicy"}, "src_endpoint": {"ip": "198.51.100.7"}, "data": {"source_table": '
    '"privilege_changes", "row_id": 17}}], "resources": [{"uid": '
    '"arn:aws:iam::123456789012:user/bob", "type": "AWS::IAM::User", "name": "bob"}], '
    '"observables": [{"name": "actor.user.name", "type_id": 4, "value": "alice"}]}'
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return detection_finding_validator()


def detection_finding_validator(
        profiles: tuple[str, ...] = ()) -> jsonschema.Draft202012Validator:
    """The Detection Finding class of the OCSF 1.8.0 schema export that ocsf-json-schema
    ships (no network), as a JSON Schema with every object embedded."""
    schema = OcsfJsonSchemaEmbedded(OcsfJsonSchema(get_ocsf_schema("1.8.0")))
    class_schema = schema.get_class_schema("detection_finding", profiles=list(profiles))
    jsonschema.Draft202012Validator.check_schema(class_schema)
    return jsonschema.Draft202012Validator(class_schema)


@pytest.fixture(scope="module")
def triaged_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world (seed 19) with one finding in each triage state."""
    db = world_database(tmp_path_factory.mktemp("ocsf-world"), seed=19)
    ids = [f["finding_id"] for f in stored(db)]
    for finding_id, status in zip(ids, ("acknowledged", "false_positive", "resolved"),
                                  strict=False):
        triage(db, finding_id, status, f"set to {status}")
    return db


def stored(db: Path) -> list[dict[str, Any]]:
    con = store.connect(db, read_only=True)
    rows = findings_records(list_findings(con, FindingFilter()))
    con.close()
    return rows


@pytest.fixture(scope="module")
def events(triaged_db: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("ocsf-out")
    export_bundle(triaged_db, out, ["ocsf"])
    return [json.loads(line) for line in (out / OCSF_FILE).read_text().splitlines()]


def test_the_schema_accepts_the_real_example_and_rejects_broken_events(
        validator: jsonschema.Draft202012Validator, events: list[dict[str, Any]]) -> None:
    with_datetime = detection_finding_validator(("datetime",))
    assert list(with_datetime.iter_errors(REAL_EXAMPLE)) == []
    assert [e.message for e in validator.iter_errors(REAL_EXAMPLE)] == [
        "Additional properties are not allowed ('time_dt' was unexpected)"]
    broken = copy.deepcopy(events[0])
    broken["status_id"] = 7
    del broken["finding_info"]["uid"]
    broken["evidences"].append({})  # an evidence must hold at least one artifact
    broken["surprise"] = True
    problems = {e.json_path for e in validator.iter_errors(broken)}
    assert {"$.status_id", "$.finding_info", f"$.evidences[{len(broken['evidences']) - 1}]",
            "$"} <= problems


def test_every_event_validates_against_ocsf_1_8_0(
        validator: jsonschema.Draft202012Validator, events: list[dict[str, Any]]) -> None:
    assert events
    for event in events:
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(event)]
        assert errors == [], event["finding_info"]["uid"]


def test_one_event_per_finding_with_its_rule_severity_and_time(
        triaged_db: Path, events: list[dict[str, Any]]) -> None:
    findings = {f["finding_id"]: f for f in stored(triaged_db)}
    assert [e["finding_info"]["uid"] for e in events] == list(findings)
    severity_ids = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
    for event in events:
        finding = findings[event["finding_info"]["uid"]]
        assert (event["class_uid"], event["category_uid"]) == (2004, 2)
        assert event["type_uid"] == 200400 + event["activity_id"]
        assert event["metadata"]["version"] == "1.8.0"
        assert event["metadata"]["product"]["name"] == "auditlog"
        assert event["severity_id"] == severity_ids[finding["severity"]]
        analytic = event["finding_info"]["analytic"]
        assert (analytic["uid"], analytic["type_id"]) == (finding["rule_id"], 1)
        when = finding["ts"] or finding["last_seen"]
        assert event["time"] == int(datetime.fromisoformat(when).timestamp() * 1000)
        assert [r["uid"] for r in event["finding_info"]["related_events"]] == finding["evidence"]


def test_status_and_activity_follow_triage(triaged_db: Path,
                                           events: list[dict[str, Any]]) -> None:
    by_status = {f["finding_id"]: f["status"] for f in stored(triaged_db)}
    expected = {"open": (1, "New", 1), "acknowledged": (2, "In Progress", 2),
                "false_positive": (3, "Suppressed", 2), "resolved": (4, "Resolved", 3)}
    seen = set()
    for event in events:
        status = by_status[event["finding_info"]["uid"]]
        seen.add(status)
        assert (event["status_id"], event["status"], event["activity_id"]) == expected[status]
        if status != "open":
            assert event["comment"] == f"set to {status}"
    assert seen == set(expected)


def test_evidences_carry_the_rows_behind_the_finding(events: list[dict[str, Any]]) -> None:
    charge_events = [e for e in events
                     if e["finding_info"]["analytic"]["uid"] == "unauthorized_order_charge"]
    assert charge_events
    for event in charge_events:
        kinds = {item["name"]: item for item in event["evidences"]}
        charge = kinds["charges"]
        assert charge["uid"] == event["finding_info"]["related_events"][0]["uid"]
        assert charge["data"]["amount"] == event["unmapped"]["amount"]
        assert charge["data"]["source_sha256"]
        action = kinds["actions"]
        assert action["api"]["operation"] and action["actor"]["user"]["name"]
        assert {r["type"] for r in event["resources"]} >= {"account"}
