"""One door: every command's JSON is the Investigation method's answer, on a generated world
neither has seen; errors name where and what, in the API's words or the CLI's flags."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import auditlog
from auditlog.analysis.findings import findings_records
from auditlog.analysis.refunds import refund_records
from auditlog.analysis.timeline import timeline_records
from auditlog.cli import app
from auditlog.cli.common import flag
from auditlog.cli.export_cmds import FORMATS
from auditlog.cli.rules_cmds import rule_row
from auditlog.errors import Location, RuleError, UsageError
from auditlog.export.writers import WRITERS
from auditlog.investigation import Caveat, Investigation, Notice
from auditlog.textsafe import json_document
from auditlog.world import WorldSummary, generate_world
from tests.conftest import write_rows
from tests.test_rules import write_rule

CLI_PACKAGE = Path(auditlog.__file__).parent / "cli"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return generate_world(tmp_path_factory.mktemp("door") / "world", customers=120, seed=41,
                          days=21, formats="mixed", billing_tz="Europe/Amsterdam")


@pytest.fixture(scope="module")
def inv(world: WorldSummary) -> Iterator[Investigation]:
    with auditlog.open(world.out_dir.parent / "door.duckdb") as investigation:
        investigation.ingest_world(world.out_dir)
        investigation.run()
        yield investigation


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def as_json(value: Any) -> Any:
    """The API's answer through the CLI's own JSON writer: the same edge for both."""
    return json.loads(json_document(value))


def first_charge(inv: Investigation) -> str:
    return str(inv.remediation()["charge_id"][0])


# (name, CLI arguments after the command, the API's answer as JSON)
PAIRS: list[tuple[str, Callable[[Investigation, WorldSummary], list[str]],
                  Callable[[Investigation, WorldSummary], Any]]] = [
    ("status", lambda i, w: ["status"], lambda i, w: i.status()),
    ("quarantine", lambda i, w: ["quarantine", "--limit", "50"],
     lambda i, w: i.quarantine(limit=50)),
    ("findings", lambda i, w: ["findings", "--severity", "high"],
     lambda i, w: findings_records(i.findings(severity="high"))),
    ("remediation", lambda i, w: ["remediation"],
     lambda i, w: refund_records(i.refunds()["charges"])),
    ("remediation customers", lambda i, w: ["remediation", "--list", "customers"],
     lambda i, w: refund_records(i.refunds()["customers"])),
    ("remediation refund-issues", lambda i, w: ["remediation", "--list", "refund-issues"],
     lambda i, w: refund_records(i.refunds()["refund_issues"])),
    ("trace charge", lambda i, w: ["trace", "charge", first_charge(i)],
     lambda i, w: i.trace_charge(first_charge(i))),
    ("trace change", lambda i, w: ["trace", "change", w.incident.change_id],
     lambda i, w: i.trace_change(w.incident.change_id)),
    ("trace account", lambda i, w: ["trace", "account", w.incident.service_account],
     lambda i, w: i.trace_account(w.incident.service_account)),
    ("changes", lambda i, w: ["changes", "--anomalous"],
     lambda i, w: i.changes(anomalous=True, limit=50)),
    ("accounts", lambda i, w: ["accounts", "--limit", "5"], lambda i, w: i.accounts(limit=5)),
    ("privileges", lambda i, w: ["privileges", "--between", "2000-01-01", "2100-01-01"],
     lambda i, w: i.privileges(between=("2000-01-01", "2100-01-01"))),
    ("timeline", lambda i, w: ["timeline", "--account", w.incident.service_account],
     lambda i, w: timeline_records(i.timeline(account=w.incident.service_account,
                                              limit=1000))),
    ("report", lambda i, w: ["report", "accountability"], lambda i, w: i.report().document),
    ("rules list", lambda i, w: ["rules", "list"],
     lambda i, w: [rule_row(r) for r in i.list_rules()]),
]


@pytest.mark.parametrize(("command", "args", "answer"), PAIRS, ids=[p[0] for p in PAIRS])
def test_every_command_is_its_investigation_call(
        inv: Investigation, world: WorldSummary, command: str,
        args: Callable[[Investigation, WorldSummary], list[str]],
        answer: Callable[[Investigation, WorldSummary], Any]) -> None:
    shown = cli_json(*args(inv, world), "--db", str(inv.path)) if command != "rules list" \
        else cli_json(*args(inv, world))
    assert shown == as_json(answer(inv, world))
    assert shown not in ([], {}, None), "an empty answer proves nothing"


def test_run_is_the_same_run(inv: Investigation) -> None:
    # Each run has its own id; a run over unchanged logs finds the same, nothing new.
    shown = cli_json("run", "--pack", "change", "--db", str(inv.path))
    report = inv.run(packs=["change"]).as_dict()
    assert shown["run_id"] != report["run_id"]
    for doc in (shown, report):
        doc.pop("run_id")
    assert shown == report and shown["findings"] > 0


def test_ingest_and_forget_answer_alike(tmp_path: Path) -> None:
    row = {"account": "C1", "product": "P", "amount": "1.50"}
    path = write_rows(tmp_path / "c.csv", [
        {"charge_id": "c1", "ts": "2026-01-15 12:00:00", **row},
        {"charge_id": "c2", "ts": "2026-01-15 13:00:00", **row}])
    cli_db, api_db = tmp_path / "cli.duckdb", tmp_path / "api.duckdb"
    shown = cli_json("ingest", str(path), "--kind", "charges", "--tz", "UTC", "--db",
                     str(cli_db))
    api = auditlog.open(api_db)
    assert shown == as_json(api.ingest(path, kind="charges", tz="UTC").to_dicts())
    assert shown[0]["loaded"] == 2
    forgotten = cli_json("forget", str(path), "--db", str(cli_db))
    assert forgotten == as_json(api.forget(str(path)).to_dicts())
    assert forgotten[0]["rows_removed"] == 2


def test_export_verify_and_lake_answer_alike(inv: Investigation, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path / "cli"), "--db",
                                      str(inv.path)])
    assert result.exit_code == 0, result.output
    manifest = inv.export(tmp_path / "api")
    assert sorted(manifest["tables"]) == sorted(
        json.loads((tmp_path / "cli" / "manifest.json").read_text())["tables"])
    assert cli_json("verify", str(tmp_path / "cli")) == as_json(
        inv.verify(tmp_path / "cli").as_dict())
    lake = cli_json("lake", "export", "--out", str(tmp_path / "lake1"), "--db", str(inv.path))
    assert lake["rows"] == inv.lake_export(tmp_path / "lake2") and sum(lake["rows"].values())


def test_the_caveats_the_cli_prints_are_the_notices_the_api_gives(
        inv: Investigation, world: WorldSummary) -> None:
    told: list[Notice] = []
    Investigation(inv.path, notify=told.append).trace_change(world.incident.change_id)
    result = CliRunner().invoke(app, ["trace", "change", world.incident.change_id, "--db",
                                      str(inv.path), "--format", "json"])
    printed = [line.removeprefix("warning: ") for line in result.stderr.splitlines()
               if line.startswith("warning: ")]
    assert printed == [n.text for n in told if isinstance(n, Caveat)]


def test_the_library_names_arguments_the_cli_names_flags(inv: Investigation) -> None:
    with pytest.raises(UsageError) as info:
        inv.timeline(since="yesterday")
    assert str(info.value) == ("since 'yesterday' is not an ISO 8601 time, "
                               "e.g. 2026-03-01T00:00:00Z")
    assert info.value.worded(flag).startswith("--since 'yesterday' is not")
    with pytest.raises(UsageError, match="^give account or customer, not both$"):
        inv.timeline(account="a", customer="b")
    process = subprocess.run(
        [sys.executable, "-m", "auditlog", "timeline", "--account", "a", "--customer", "b",
         "--db", str(inv.path)], capture_output=True, text=True, check=False)
    assert process.returncode == 2
    assert process.stderr.strip() == "error: give --account or --customer, not both"
    with pytest.raises(UsageError, match="^lake and master go with engine spark$"):
        inv.run(master="local[1]")
    with pytest.raises(UsageError, match="^no format given; use formats$") as missing:
        inv.export(inv.path.parent / "nowhere", formats=[])
    assert missing.value.worded(flag) == "no format given; use --format"
    assert flag("change_id") == "--change" and flag("rule_timeout") == "--rule-timeout"


def test_an_error_carries_its_location(tmp_path: Path) -> None:
    pack = tmp_path / "mine"
    pack.mkdir()
    (pack / "lonely.sql").write_text("SELECT 1 AS finding_key\n", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        Investigation(tmp_path / "x.duckdb", rules_dirs=[tmp_path]).list_rules()
    location = info.value.location
    assert location is not None and location.file is not None
    assert Path(location.file).name == "lonely.sql"
    assert str(info.value).startswith(f"{location.file}: ")
    assert info.value.source == location.file  # source= and .source keep working


def test_a_rule_that_fails_names_itself_and_its_file(inv: Investigation,
                                                     tmp_path: Path) -> None:
    path = write_rule(tmp_path, "one_key", "SELECT ts, NULL AS change_id, NULL AS actor, "
                      "account, amount, list_value(charge_id) AS evidence, 'k' AS key "
                      "FROM charges")
    with pytest.raises(RuleError, match="more than once") as info:
        inv.run(rules=["one_key"], rules_dirs=[path.parent])
    assert info.value.location == Location(file=str(path), rule="one_key")
    assert str(info.value).startswith(f"{path}: ")


def test_a_location_reads_as_file_line_row_or_rule() -> None:
    assert str(Location(file="a.csv")) == "a.csv"
    assert str(Location(file="a.sql", line=3)) == "a.sql:3"
    assert str(Location(file="a.csv", row=12)) == "a.csv row 12"
    assert str(Location(rule="self_grant")) == "rule self_grant"
    assert str(Location(file="q/self_grant.sql", rule="self_grant")) == "q/self_grant.sql"
    assert not Location()
    error = UsageError("bad {since}", location=Location(file="f.csv", row=2),
                       arguments=("since",))
    assert str(error) == "f.csv row 2: bad since"
    assert error.worded(flag) == "f.csv row 2: bad --since"
    assert str(UsageError("a {brace} in data stays")) == "a {brace} in data stays"


def test_parsing_the_command_line_loads_no_data_library() -> None:
    code = ("import sys, auditlog.cli; "
            "print(sorted(m for m in ('polars', 'pyarrow', 'sqlglot', 'openpyxl', 'xlsxwriter', "
            "'auditlog.export.writers', 'auditlog.analysis.findings', 'auditlog.investigation')"
            " if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"
    code = "import sys, auditlog; print('duckdb' in sys.modules, auditlog.UsageError.__name__)"
    bare = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split()
    assert bare == ["False", "UsageError"]


def test_no_command_module_imports_another() -> None:
    # Command modules (*_cmds.py) share options and renderers (common, render, and
    # modules that render one thing, like findings_render), never one another.
    commands = {f"auditlog.cli.{p.stem}" for p in CLI_PACKAGE.glob("*_cmds.py")}
    for path in sorted(CLI_PACKAGE.glob("*_cmds.py")):
        imported = {node.module for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("auditlog.cli")}
        assert not imported & commands, (path.name, imported & commands)


def test_export_formats_named_on_the_command_line_are_the_writers() -> None:
    assert FORMATS == tuple(WRITERS)


def test_demo_answers_alike(world: WorldSummary, tmp_path: Path) -> None:
    shown = cli_json("demo", "--world", str(world.out_dir), "--db", str(tmp_path / "cli.db"))
    answer = as_json(Investigation(tmp_path / "api.db", notify=lambda n: None)
                     .demo(world.out_dir).as_dict())
    assert shown == answer  # run ids too: each database's first run
    assert shown["summary"]["parties"] and shown["example_trace"]["anomalous"]
