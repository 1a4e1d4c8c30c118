"""`auditlog X` imports and builds only X's commands (start time, issue 14), and answers
exactly as the command line with every command registered does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditlog import cli
from auditlog.cli import COMMAND_MODULES, MODULE_OF, VALUE_OPTIONS, modules_for

# In a fresh interpreter: run main() on the arguments (lazily, or after registering
# every command when asked), then report the output, the exit code and which command
# modules got imported.
PROBE = """
import contextlib, io, json, sys
from auditlog import cli
args, everything = json.loads(sys.argv[1]), sys.argv[2] == "all"
if everything:
    cli.app  # every command registered first, as a notebook or the tests get it
sys.argv = ["auditlog", *args]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
print(json.dumps({"code": code, "out": out.getvalue(),
                  "modules": sorted(m for m in cli.COMMAND_MODULES
                                    if f"auditlog.cli.{m}" in sys.modules)}))
"""


def probe(args: list[str], how: str, tmp_path: Path) -> dict[str, object]:
    env = {"AUDITLOG_DB": str(tmp_path / "none.duckdb"), "COLUMNS": "80", "NO_COLOR": "1",
           "PATH": "/usr/bin:/bin", "AUDITLOG_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), how],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_every_command_is_mapped_to_the_module_that_registers_it() -> None:
    app = cli.app
    registered = {}
    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        registered[name] = info.callback.__module__
    for group in app.registered_groups:
        modules = {c.callback.__module__ for c in group.typer_instance.registered_commands}
        assert len(modules) == 1, group.name
        registered[group.name] = modules.pop()
    assert {name: f"auditlog.cli.{m}" for name, m in MODULE_OF.items()} == registered
    assert set(MODULE_OF.values()) == set(COMMAND_MODULES)


def test_the_options_before_a_command_that_take_a_value_are_known() -> None:
    import typer

    group = typer.main.get_command(cli.app)
    taking = {opt for param in group.params if not getattr(param, "is_flag", True)
              for opt in param.opts}
    assert taking == set(VALUE_OPTIONS)


@pytest.mark.parametrize(("args", "modules"), [
    (["trace", "charge", "CH1"], ("trace_cmds",)),
    (["--wait-timeout", "5", "status"], ("status_cmds",)),
    (["--wait-timeout=5", "--no-wait", "quarantine"], ("status_cmds",)),
    (["--memory-limit", "trace", "run"], ("run_cmds",)),  # a value is no command
    (["--version"], ()),
    (["--help"], COMMAND_MODULES), (["-h", "status"], COMMAND_MODULES),
    ([], COMMAND_MODULES), (["trcae"], COMMAND_MODULES),  # no such command: suggestions
    (["--show-completion", "bash"], COMMAND_MODULES),
])
def test_a_command_line_needs_its_commands_module(args: list[str],
                                                  modules: tuple[str, ...]) -> None:
    assert tuple(modules_for(args)) == modules


def test_the_shell_asking_for_completions_gets_every_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_AUDITLOG_COMPLETE", "complete_bash")
    assert tuple(modules_for(["trace"])) == COMMAND_MODULES


@pytest.mark.parametrize("args", [["trace", "--help"], ["status", "--help"],
                                  ["trace", "chrage"], ["--version"]])
def test_a_lazy_command_answers_as_the_whole_command_line(args: list[str],
                                                          tmp_path: Path) -> None:
    lazy = probe(args, "lazy", tmp_path)
    whole = probe(args, "all", tmp_path)
    assert (lazy["code"], lazy["out"]) == (whole["code"], whole["out"])
    assert lazy["modules"] == sorted(modules_for(args))
    assert whole["modules"] == sorted(COMMAND_MODULES)


def test_help_lists_the_commands_in_one_order_whatever_was_imported_first(
        tmp_path: Path) -> None:
    code = ("import auditlog.cli.world_cmds, auditlog.cli.trace_cmds\n"
            "from auditlog.cli import app\n"
            "import json\n"
            "print(json.dumps([i.callback.__module__ for i in app.registered_commands] +"
            " [g.name for g in app.registered_groups]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    listed = json.loads(done.stdout)
    rank = {m: i for i, m in enumerate(COMMAND_MODULES)}
    commands = [m.rsplit(".", 1)[1] for m in listed if m.startswith("auditlog.cli.")]
    groups = [MODULE_OF[n] for n in listed if not n.startswith("auditlog.cli.")]
    assert commands == sorted(commands, key=rank.__getitem__)
    assert groups == sorted(groups, key=rank.__getitem__)
