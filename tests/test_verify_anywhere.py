"""`verify` as a compliance officer uses it: from any directory, on an export whose logs
were loaded with relative paths; with the manifest's own digest recorded elsewhere, so
an edited file plus an edited manifest no longer passes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.errors import UsageError
from auditlog.export.manifest import MANIFEST, verify
from auditlog.investigation import Investigation
from auditlog.world import generate_world

runner = CliRunner()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A case folder: logs loaded with paths relative to it (ingest run inside it), and
    an export in evidence/ beside them."""
    world = generate_world(tmp_path / "world", customers=120, seed=29, days=21, formats="csv")
    folder = tmp_path / "case"
    shutil.copytree(world.out_dir / "billing", folder / "logs" / "billing")
    monkeypatch.chdir(folder)
    with Investigation(tmp_path / "v.duckdb") as inv:
        loaded = inv.ingest(Path("logs"), tz="Europe/Amsterdam")
        assert all(not Path(p).is_absolute() for p in loaded["path"].to_list())
        inv.export(folder / "evidence", ["csv"])
    return folder


def test_inputs_are_found_from_any_working_directory(
        case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert verify(case / "evidence", inputs=True).intact
    manifest = json.loads((case / "evidence" / MANIFEST).read_text())
    (item,) = [i for i in manifest["inputs"] if i["paths"]][:1]
    target = Path(item["locations"][0])
    assert target.is_absolute() and target.is_relative_to(case)
    with target.open("a", encoding="utf-8") as handle:
        handle.write("\n")
    result = verify(case / "evidence", inputs=True)
    assert result.inputs_changed == [item["paths"][0]] and not result.intact


def test_a_case_folder_moved_whole_still_verifies(case: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "archive" / "case-2026-17"
    moved.parent.mkdir()
    case.rename(moved)
    monkeypatch.chdir(tmp_path)
    assert verify(moved / "evidence", inputs=True).intact  # found beside the export
    shutil.rmtree(moved / "logs")
    result = verify(moved / "evidence", inputs=True)
    assert result.inputs_missing and not result.inputs_changed and not result.intact


def test_an_edited_file_with_an_edited_manifest_fails_against_the_recorded_digest(
        case: Path) -> None:
    out = case / "evidence"
    recorded = sha256(out / MANIFEST)
    findings = out / "findings.csv"
    findings.write_text(findings.read_text(encoding="utf-8") + "forged\n", encoding="utf-8")
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        if entry["path"] == "findings.csv":
            entry["sha256"], entry["bytes"] = sha256(findings), findings.stat().st_size
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    assert verify(out).intact  # the manifest alone cannot tell
    result = verify(out, manifest_sha256=recorded)
    assert not result.intact and result.manifest_changed
    assert result.problems()[0][0] == "manifest changed"
    assert result.as_dict()["expected_manifest_sha256"] == recorded


def test_export_and_verify_print_the_manifest_digest(case: Path, tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    out = tmp_path / "again"
    exported = runner.invoke(app, ["export", "--db", str(db), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    digest = sha256(out / MANIFEST)
    assert f"manifest.json sha256 {digest}" in exported.stdout
    checked = runner.invoke(app, ["verify", str(out), "--manifest-sha256", digest.upper()])
    assert checked.exit_code == 0, checked.output
    assert f"manifest.json sha256 {digest} (as recorded)" in checked.stdout
    as_json = runner.invoke(app, ["verify", str(out), "--format", "json",
                                  "--manifest-sha256", "0" * 64])
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    assert (document["manifest_sha256"], document["manifest_changed"]) == (digest, True)
    with pytest.raises(UsageError, match="not a SHA-256"):
        verify(out, manifest_sha256="abc")
