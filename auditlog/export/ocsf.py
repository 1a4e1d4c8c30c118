"""Findings as OCSF 1.8.0 Detection Finding events (class 2004), one JSON object a line.

Each finding is one event: the rule is the analytic, the triage status is the OCSF
status, the rows its evidence names are the `evidences` (each with the full row as
`data`), the customer account and the change are the `resources`. Times are epoch
milliseconds. The event's activity follows the triage: Create for an open finding,
Update for one under review or suppressed, Close for a resolved one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditlog.export.model import ExportData
from auditlog.pack.model import Rule
from auditlog.values import json_value

OCSF_VERSION = "1.8.0"
OCSF_FILE = "findings.ocsf.jsonl"
CLASS_UID, CATEGORY_UID = 2004, 2
SEVERITY_IDS = {"info": (1, "Informational"), "low": (2, "Low"), "medium": (3, "Medium"),
                "high": (4, "High"), "critical": (5, "Critical")}
STATUS_IDS = {"open": (1, "New"), "acknowledged": (2, "In Progress"),
              "false_positive": (3, "Suppressed"), "resolved": (4, "Resolved")}
ACTIVITY_IDS = {"open": (1, "Create"), "acknowledged": (2, "Update"),
                "false_positive": (2, "Update"), "resolved": (3, "Close")}
# OCSF user.type_id: 1 User, 3 System, 4 Service.
USER_TYPE_IDS = {"human": 1, "customer": 1, "system": 3, "service": 4}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Per evidence table: the column that places the row in time, and who acted.
EVIDENCE_SHAPE = {"actions": ("ts", "actor"), "privileges": ("ts", "actor"),
                  "changes": ("started_at", "implementer"), "charges": ("ts", "initiated_by")}


def epoch_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    return (value.astimezone(UTC) - EPOCH) // timedelta(milliseconds=1)


def write_ocsf(data: ExportData, out_dir: Path) -> list[tuple[str, dict[str, int]]]:
    evidence = evidence_by_finding(data)
    with (out_dir / OCSF_FILE).open("w", encoding="utf-8", newline="\n") as handle:
        for finding in data.records("findings"):
            event = detection_finding(finding, evidence.get(finding["finding_id"], []),
                                      data.rules.get(finding["rule_id"]), data.tool_version)
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
    return [(OCSF_FILE, {"findings": data.tables["findings"].height})]


def evidence_by_finding(data: ExportData) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    grouped: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for name in data.evidence_tables:
        kind = name.removeprefix("evidence_")
        for row in data.records(name):
            grouped[row.pop("finding_id")].append((kind, row))
    return grouped


def detection_finding(finding: dict[str, Any], evidence: list[tuple[str, dict[str, Any]]],
                      rule: Rule | None, product_version: str) -> dict[str, Any]:
    """One OCSF Detection Finding for one stored finding and its evidence rows."""
    severity_id, severity = SEVERITY_IDS[finding["severity"]]
    status_id, status = STATUS_IDS[finding["status"]]
    activity_id, activity = ACTIVITY_IDS[finding["status"]]
    times = [t for kind, row in evidence if (t := row.get(EVIDENCE_SHAPE[kind][0])) is not None]
    event: dict[str, Any] = {
        "class_uid": CLASS_UID, "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID, "category_name": "Findings",
        "activity_id": activity_id, "activity_name": activity,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"Detection Finding: {activity}",
        "severity_id": severity_id, "severity": severity,
        "status_id": status_id, "status": status,
        "time": epoch_ms(finding["ts"] or finding["last_seen"]),
        "message": finding["title"],
        "count": len(finding["evidence"] or []),
        "metadata": {"version": OCSF_VERSION, "uid": finding["finding_id"],
                     "product": {"name": "auditlog", "vendor_name": "auditlog",
                                 "version": product_version}},
        "finding_info": finding_info(finding, rule, times, evidence),
        "evidences": [evidence_object(kind, row) for kind, row in evidence],
        "resources": resources(finding),
    }
    if finding["note"]:
        event["comment"] = finding["note"]
    if rule is not None:
        event["remediation"] = {"desc": rule.investigate}
    if finding["amount"] is not None:
        event["unmapped"] = {"amount": json_value(finding["amount"])}
    return {k: v for k, v in event.items() if v not in (None, [])}


def finding_info(finding: dict[str, Any], rule: Rule | None, times: list[datetime],
                 evidence: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    analytic = {"uid": finding["rule_id"], "name": finding["rule_id"], "type_id": 1,
                "type": "Rule"}
    info: dict[str, Any] = {"uid": finding["finding_id"], "title": finding["title"],
                            "analytic": analytic}
    if rule is not None:
        analytic |= {"category": rule.pack, "desc": rule.title}
        info |= {"desc": rule.description, "types": list(rule.tags) or None}
    info |= {
        "created_time": epoch_ms(finding["first_seen"]),
        "modified_time": epoch_ms(finding["last_seen"]),
        "first_seen_time": epoch_ms(min(times)) if times else None,
        "last_seen_time": epoch_ms(max(times)) if times else None,
        "data_sources": sorted({kind for kind, _ in evidence}) or None,
        "related_events": [{"uid": item} for item in finding["evidence"] or []] or None,
    }
    return {k: v for k, v in info.items() if v is not None}


def evidence_object(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """One evidence row: who acted, and the whole row (extra columns parsed) as data."""
    data = {k: json_value(v) for k, v in row.items()}
    if isinstance(data.get("extra"), str):
        data["extra"] = json.loads(data["extra"])
    item: dict[str, Any] = {"name": kind, "uid": row[id_column(kind)], "data": data}
    actor = row.get(EVIDENCE_SHAPE[kind][1])
    if actor is not None:
        user: dict[str, Any] = {"name": actor, "uid": actor}
        if row.get("actor_type") in USER_TYPE_IDS:
            user["type_id"] = USER_TYPE_IDS[row["actor_type"]]
        item["actor"] = {"user": user}
    if kind == "actions":
        item["api"] = {"operation": row["action"]}
    if kind == "privileges":
        item["user"] = {"name": row["subject"], "uid": row["subject"]}
    return item


def id_column(kind: str) -> str:
    return {"changes": "change_id", "charges": "charge_id"}.get(kind, "event_id")


def resources(finding: dict[str, Any]) -> list[dict[str, Any]]:
    """What the finding is about: the customer account, the change."""
    found = []
    if finding["account"] is not None:
        found.append({"uid": finding["account"], "name": finding["account"], "type": "account"})
    if finding["change_id"] is not None:
        found.append({"uid": finding["change_id"], "name": finding["change_id"],
                      "type": "change"})
    return found
