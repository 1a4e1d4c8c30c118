"""A generated world whose privilege log arrives as OCSF 3005 User Access Management events
gives the same remediation list and the same charge traces as the world in its native
format. The converter lives here, in the test, as a producer of OCSF would."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import ocsf_json_schema
import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.analysis.attribution import trace_charge
from auditlog.cli import app
from auditlog.world import generate_world

runner = CliRunner()


def to_epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def ocsf_user_access(row: dict[str, Any]) -> dict[str, Any]:
    """One native privileges row as an OCSF 1.8.0 User Access Management event."""
    activity = {"grant": 1, "revoke": 2}[row["operation"]]
    event: dict[str, Any] = {
        "class_uid": 3005, "category_uid": 3, "activity_id": activity,
        "type_uid": 300500 + activity, "severity_id": 1, "status_id": 1,
        "time": to_epoch_ms(row["ts"]),
        "metadata": {"version": "1.8.0", "uid": row["event_id"],
                     "product": {"name": "iam-console", "vendor_name": "Example"}},
        "actor": {"user": {"name": row["actor"]}},
        "user": {"name": row["subject"]},
        "privileges": [row["privilege"]],
    }
    if row.get("system"):
        event["resources"] = [{"name": row["system"]}]
    # OCSF has no attribute for approvals or expiry: producers keep them in `unmapped`.
    unmapped = {k: row[k] for k in ("ticket", "approver", "expires_at") if row.get(k)}
    if unmapped:
        event["unmapped"] = unmapped
    return event


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "json" in args else None


def load(world: Path, db: Path, privileges_as_ocsf: bool) -> None:
    for source in json.loads((world / "sources.json").read_text()):
        path = world / source["path"]
        options = ["--kind", source["kind"]]
        if source["kind"] == "privileges" and privileges_as_ocsf:
            path = path.with_name("privileges.ocsf.jsonl")
            options = []  # the format says what it maps onto
        files = cli("ingest", str(path), "--db", str(db), "--tz", source["tz"], *options,
                    "--format", "json")
        assert all(f["quarantined"] == 0 for f in files), files
    cli("run", "--db", str(db))


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ocsf-world")
    world = generate_world(root / "world", customers=100, days=30, seed=29, formats="jsonl").out_dir
    (source,) = [s for s in json.loads((world / "sources.json").read_text())
                 if s["kind"] == "privileges"]
    native = world / source["path"]
    rows = [json.loads(line) for line in native.read_text().splitlines() if line.strip()]
    schema = ocsf_json_schema.OcsfJsonSchemaEmbedded(
        ocsf_json_schema.get_ocsf_schema(version="1.8.0")).get_class_schema("user_access", [])
    events = [ocsf_user_access(r) for r in rows]
    for event in events:
        jsonschema.validate(event, schema)  # the converter writes real OCSF
    native.with_name("privileges.ocsf.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    assert len(events) > 10 and {r["operation"] for r in rows} == {"grant", "revoke"}

    dbs = root / "native.duckdb", root / "ocsf.duckdb"
    load(world, dbs[0], privileges_as_ocsf=False)
    load(world, dbs[1], privileges_as_ocsf=True)
    shutil.rmtree(world)
    return dbs


def test_remediation_is_the_same(worlds: tuple[Path, Path]) -> None:
    native, ocsf = (cli("remediation", "--db", str(db), "--format", "json") for db in worlds)
    assert native, "the world has anomalous charges"
    assert ocsf == native


def test_every_anomalous_charge_traces_the_same(worlds: tuple[Path, Path]) -> None:
    charges = [r["charge_id"] for r in cli("remediation", "--db", str(worlds[0]),
                                           "--format", "json")]
    # The first through the CLI; all of them through trace_charge, which is what
    # `auditlog trace charge --format json` prints (one connection each: far faster).
    first = [cli("trace", "charge", charges[0], "--db", str(db), "--format", "json")
             for db in worlds]
    assert first[1] == first[0]
    native, ocsf = (store.connect(db, read_only=True) for db in worlds)
    privileged = 0
    for charge in charges:
        expected = json.loads(json.dumps(trace_charge(native, charge).as_json()))
        assert json.loads(json.dumps(trace_charge(ocsf, charge).as_json())) == expected, charge
        privileged += any(step.get("step") == "privilege" for step in expected["chain"])
    native.close()
    ocsf.close()
    assert privileged, "some traces go through a privilege grant"
