"""The `auditlog` command line. Each command parses its options, makes one call of an
`auditlog.investigation.Investigation` (the notebook's door too) and renders the answer.

Each command group lives in its own module and registers itself on `app`; command
modules share only cli/common.py (options, consoles), cli/render.py (renderers) and
cli/display.py (times in --tz, money, records as lines). This
module builds the app and turns library errors into one sentence and an exit code, with
the arguments a message names worded as this command line's flags.

A command imports only its own module (start time, issue 14): `auditlog trace charge X`
registers the trace commands alone, so Typer neither imports nor builds the twenty
others. `auditlog --help`, shell completion, a name that is no command, and
`from auditlog.cli import app` (tests, a notebook) register every one, in one order.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import typer

from auditlog.cli import common
from auditlog.cli.common import err_console, flag
from auditlog.errors import AuditlogError
from auditlog.textsafe import terminal

# The modules that register commands on the app, in the order --help lists them; and
# the module of each top-level command or group (tests/test_cli_lazy.py checks both).
COMMAND_MODULES = ("browse_cmds", "export_cmds", "findings_cmds", "forget_cmds", "lake_cmds",
                   "load_cmds", "privileges_cmds", "remediation_cmds", "report_cmds",
                   "review_cmds", "rules_cmds", "run_cmds", "status_cmds", "timeline_cmds",
                   "trace_cmds", "world_cmds")
MODULE_OF = {
    "changes": "browse_cmds", "accounts": "browse_cmds", "export": "export_cmds",
    "verify": "export_cmds", "findings": "findings_cmds", "forget": "forget_cmds",
    "lake": "lake_cmds", "ingest": "load_cmds", "privileges": "privileges_cmds",
    "remediation": "remediation_cmds", "report": "report_cmds", "review": "review_cmds",
    "rules": "rules_cmds", "run": "run_cmds", "status": "status_cmds",
    "quarantine": "status_cmds", "timeline": "timeline_cmds", "trace": "trace_cmds",
    "generate": "world_cmds", "demo": "world_cmds",
}
# The options before the command that take a value (the next argument, unless `=`).
VALUE_OPTIONS = ("--wait-timeout", "--memory-limit")
# Before the command, these need every command listed (help) or none (--version).
EVERY = ("-h", "--help", "--install-completion", "--show-completion", "--")
NONE = ("--version",)


def register(modules: Sequence[str]) -> typer.Typer:
    """Import the command modules (each registers its commands on the app when first
    imported); whatever order they came in, the app lists them in COMMAND_MODULES'."""
    for module in modules:
        importlib.import_module(f"auditlog.cli.{module}")
    app = common.app
    rank = {f"auditlog.cli.{m}": i for i, m in enumerate(COMMAND_MODULES)}
    app.registered_commands.sort(
        key=lambda info: rank.get(getattr(info.callback, "__module__", ""), len(rank)))
    app.registered_groups.sort(
        key=lambda info: rank.get(f"auditlog.cli.{MODULE_OF.get(info.name or '', '')}",
                                  len(rank)))
    return app


def modules_for(args: Sequence[str]) -> Sequence[str]:
    """The command modules a command line needs: the named command's, none for
    --version, every one for help, completion or anything not a known command."""
    if any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ):
        return COMMAND_MODULES  # the shell asks for completions (of any command)
    following_value = False
    for arg in args:
        if following_value:
            following_value = False
        elif arg in EVERY or arg.startswith(("--install-completion=", "--show-completion=")):
            return COMMAND_MODULES
        elif arg in NONE:
            return ()
        elif arg in VALUE_OPTIONS:
            following_value = True
        elif not arg.startswith("-"):
            module = MODULE_OF.get(arg)
            return (module,) if module is not None else COMMAND_MODULES
    return COMMAND_MODULES


def __getattr__(name: str) -> typer.Typer:
    """`from auditlog.cli import app`: the app with every command (PEP 562)."""
    if name == "app":
        return register(COMMAND_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: never lets a traceback reach the user."""
    try:
        register(modules_for(sys.argv[1:]))()
    except AuditlogError as exc:
        # Messages quote file names and log text: pieces of a Text, never markup.
        # The library names its arguments; here they are the flags that gave them.
        err_console.print(terminal(("error:", "bold red"), f" {exc.worded(flag)}"),
                          soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print(terminal(("interrupted", "bold red"), "; nothing was committed"))
        sys.exit(130)
    except Exception as exc:  # a bug of ours: still one sentence, the traceback on request
        if os.environ.get("AUDITLOG_DEBUG"):
            raise
        if _is_database_error(exc):
            message = str(exc).strip().splitlines()[0]
            err_console.print(terminal(("error:", "bold red"), f" database: {message}"),
                              soft_wrap=True)
            sys.exit(2)
        err_console.print(terminal(("internal error:", "bold red"),
                                   f" {type(exc).__name__}: {exc}; please report it "
                                   "(AUDITLOG_DEBUG=1 shows the traceback)"), soft_wrap=True)
        sys.exit(70)


def _is_database_error(exc: BaseException) -> bool:
    """A DuckDB error, told without importing DuckDB: `--help` must not pay for it, and a
    command that raised one has imported it already."""
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(exc, duckdb.Error)
