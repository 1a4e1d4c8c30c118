"""The core claim on worlds the rules were never tuned on, end to end through the command
line: load every file with the zone its sources.json names, run every pack, and the
remediation list is the generator's ground truth row for row; every change's impact is
the truth's, and innocent changes have none.

The billing export of a `mixed` world is in local time without an offset, so these
worlds use zones with half-hour and 45-minute offsets and daylight saving of their own.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.world import generate_world

runner = CliRunner()


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def text(value: Any) -> str:
    """A JSON value as the ground-truth CSV writes it."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize(("seed", "customers", "days", "zone"), [
    (5, 250, 30, "Australia/Lord_Howe"),
    (17, 200, 24, "America/St_Johns"),
    (41, 150, 21, "Asia/Kathmandu"),
])
def test_cli_answers_match_the_ground_truth(tmp_path: Path, seed: int, customers: int,
                                            days: int, zone: str) -> None:
    world = generate_world(tmp_path / "world", seed=seed, customers=customers, days=days,
                           formats="mixed", billing_tz=zone)
    root, db = world.out_dir, str(tmp_path / "w.duckdb")
    sources = json.loads((root / "sources.json").read_text())
    assert zone in {s["tz"] for s in sources}
    for source in sources:
        cli("ingest", str(root / source["path"]), "--kind", source["kind"],
            "--tz", source["tz"], "--db", db)
    cli("run", "--db", db)

    with (root / "ground_truth" / "remediation.csv").open(newline="", encoding="utf-8") as f:
        truth = list(csv.DictReader(f))
    ours = [{k: text(row[k]) for k in truth[0]}
            for row in json.loads(cli("remediation", "--format", "json", "--db", db))]
    assert len(ours) == len(truth) == world.incident.anomalous_charges
    assert ours == truth

    first = truth[0]
    responsible = json.loads(cli("trace", "charge", first["charge_id"], "--format", "json",
                                 "--db", db))["responsible"]
    assert [text(responsible[k]) for k in ("change_id", "actor", "time")] == [
        first["change_id"], first["actor"], first["cause_time"]]

    facts = json.loads((root / "ground_truth" / "incident.json").read_text())
    for cause in facts["causes"]:
        if cause["change_id"] is None:
            continue
        impact = json.loads(cli("trace", "change", cause["change_id"], "--format", "json",
                                "--db", db))["impact"]
        assert (impact["charges"], impact["accounts"], impact["amount"],
                impact["unrefunded_charges"], impact["first_cause_time"],
                impact["last_cause_time"]) == (
            cause["charges"], cause["customers"], cause["amount"],
            cause["outstanding_charges"], cause["first_cause_time"], cause["last_cause_time"])
    innocent = [*facts["innocent_change_ids"], facts["rollback_change"]["change_id"]]
    for change_id in innocent:
        doc = json.loads(cli("trace", "change", change_id, "--format", "json", "--db", db))
        assert doc["impact"]["charges"] == 0, change_id
