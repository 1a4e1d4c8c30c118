"""The HTML accountability report in a real headless browser (Debian's chromium): the key
numbers are in the rendered DOM and a screenshot renders, on the sample and on a world of
another seed. Chromium is required (CI installs it: apt-get install -y chromium); when it
is missing these tests fail rather than skip."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest.world import sample_logs_dir
from auditlog.world import generate_world

runner = CliRunner()

# Screenshots are kept here, one per world, for a person to look at.
ARTIFACTS = Path(tempfile.gettempdir()) / "auditlog-report-artifacts"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed; install it with: "
                    "apt-get update -qq && apt-get install -y -qq chromium")
    return path


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
               page.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def html_report(world: Path, workdir: Path) -> tuple[Path, dict[str, object]]:
    """Load the world and run the rules (`auditlog demo`), then write the report with the
    command a manager's analyst would use."""
    db, page = workdir / "report.duckdb", workdir / "accountability.html"
    loaded = runner.invoke(app, ["demo", "--world", str(world), "--db", str(db),
                                 "--format", "json"])
    assert loaded.exit_code == 0, loaded.output
    wrote = runner.invoke(app, ["report", "accountability", "--db", str(db), "--format",
                                "html", "--out", str(page)])
    assert wrote.exit_code == 0, wrote.output
    return page, json.loads((world / "ground_truth" / "incident.json").read_text())


@pytest.fixture(scope="module", params=["sample", "seed53"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[str, Path, dict[str, object]]:
    workdir = tmp_path_factory.mktemp(f"browser-{request.param}")
    if request.param == "sample":
        world = sample_logs_dir()
    else:
        world = workdir / "world"
        generate_world(world, customers=500, seed=53, days=21, formats="jsonl",
                       billing_tz="Asia/Tokyo")
    page, truth = html_report(world, workdir)
    return request.param, page, truth


def test_key_numbers_are_in_the_rendered_dom(rendered: tuple[str, Path, dict[str, object]],
                                             tmp_path: Path) -> None:
    _, page, truth = rendered
    dom = run_chromium(page, tmp_path / "profile", "--dump-dom").stdout
    assert dom.lstrip().lower().startswith("<html") or "<body" in dom
    change = truth["responsible_change"]
    assert isinstance(change, dict)
    expected = [
        f'id="kpi-charges">{int(str(truth["anomalous_charges"])):,}<',
        f'id="kpi-amount">EUR {Decimal(str(truth["anomalous_amount"])):,.2f}<',
        f'id="kpi-outstanding">EUR {Decimal(str(truth["outstanding_amount"])):,.2f}<',
        str(change["change_id"]), str(change["implementer"]),
        str(truth["service_account"]), str(truth["operator"]),
        f'{int(str(truth["affected_customers"])):,}',
    ]
    missing = [text for text in expected if text not in dom]
    assert not missing, f"not in the rendered page: {missing}"
    assert "<svg" in dom and "Controls that failed" in dom


def test_screenshot_renders(rendered: tuple[str, Path, dict[str, object]],
                            tmp_path: Path) -> None:
    name, page, _ = rendered
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"accountability-{name}.png"
    shot.unlink(missing_ok=True)
    run_chromium(page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2400")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000
    print(f"screenshot: {shot}")
