"""`auditlog generate` and `auditlog demo`: a world written by the CLI, loaded by the demo,
answers exactly what its ground truth says; the shipped sample is found and loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.errors import InputError, UsageError
from auditlog.ingest.world import read_sources, sample_logs_dir

runner = CliRunner()


def invoke_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    summary = invoke_json("generate", "--out", str(out), "--customers", "400", "--seed", "23",
                          "--billing-tz", "America/New_York")
    assert summary["incident"]["anomalous_charges"] > 0
    return out


@pytest.fixture(scope="module")
def demo_doc(world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("db") / "demo.duckdb"
    doc: dict[str, Any] = invoke_json("demo", "--world", str(world), "--db", str(db))
    return doc


def test_demo_answer_is_the_ground_truth_of_a_world_it_never_saw(
    world: Path, demo_doc: dict[str, Any]
) -> None:
    truth = json.loads((world / "ground_truth" / "incident.json").read_text())
    summary = demo_doc["summary"]
    assert summary["charges"] == truth["anomalous_charges"]
    assert summary["amount"] == truth["anomalous_amount"]
    assert summary["outstanding_charges"] == truth["outstanding_refunds"]
    assert summary["outstanding_amount"] == truth["outstanding_amount"]
    parties = {(p["change_id"], p["actor"]): p for p in summary["parties"]}
    assert set(parties) == {(c["change_id"], c["actor"]) for c in truth["causes"]}
    for cause in truth["causes"]:
        party = parties[(cause["change_id"], cause["actor"])]
        assert (party["charges"], party["customers"], party["amount"]) == (
            cause["charges"], cause["customers"], cause["amount"])
        assert (party["outstanding_charges"], party["outstanding_amount"]) == (
            cause["outstanding_charges"], cause["outstanding_amount"])
        assert party["first_cause_time"] == cause["first_cause_time"]
    change = demo_doc["changes"][truth["responsible_change"]["change_id"]]
    assert change["approval"]["self_approved"] is True
    assert change["window"]["started_within"] is False


def test_demo_example_trace_reaches_the_grant_and_the_change(
    world: Path, demo_doc: dict[str, Any]
) -> None:
    truth = json.loads((world / "ground_truth" / "incident.json").read_text())
    steps = {s["step"]: s for s in demo_doc["example_trace"]["chain"]}
    assert steps["privilege"]["id"] == truth["privilege_grant"]["event_id"]
    assert steps["change"]["id"] == truth["responsible_change"]["change_id"]


def test_demo_twice_loads_nothing_new_and_finds_the_same(world: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "again.duckdb")
    first = invoke_json("demo", "--world", str(world), "--db", db)
    second = invoke_json("demo", "--world", str(world), "--db", db)
    assert sum(f["loaded"] for f in second["loaded"]) == 0
    assert all(f["rows_read"] == f["duplicates"] + f["quarantined"] for f in second["loaded"])
    assert second["summary"] == first["summary"]
    assert second["run"]["new"] == [] and second["run"]["disappeared"] == []


def test_demo_table_ends_with_the_answer(world: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--world", str(world), "--db",
                                 str(tmp_path / "t.duckdb")], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    truth = json.loads((world / "ground_truth" / "incident.json").read_text())
    answer = result.stdout[result.stdout.index("The answer"):]
    for needle in (truth["responsible_change"]["change_id"], truth["service_account"],
                   truth["responsible_change"]["implementer"], truth["outstanding_amount"]):
        assert needle in answer


def test_shipped_sample_is_found_and_lists_every_kind() -> None:
    sources = read_sources(sample_logs_dir())
    assert {kind for _, kind, _ in sources} == {
        "actions", "privileges", "changes", "charges", "accounts"}
    assert all(path.is_file() for path, _, _ in sources)


def test_a_directory_without_sources_or_with_a_broken_one_is_one_sentence(
    tmp_path: Path,
) -> None:
    with pytest.raises(UsageError, match="no sources.json"):
        read_sources(tmp_path)
    (tmp_path / "sources.json").write_text('{"path": 1}')
    with pytest.raises(InputError, match="sources.json"):
        read_sources(tmp_path)
    done = subprocess.run([sys.executable, "-m", "auditlog", "demo", "--world", str(tmp_path),
                           "--db", str(tmp_path / "x.duckdb")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2
    assert "sources.json" in done.stderr and "Traceback" not in done.stderr
