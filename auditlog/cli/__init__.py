"""The `auditlog` command line. Each command parses its options, makes one call of an
`auditlog.investigation.Investigation` (the notebook's door too) and renders the answer.

Each command group lives in its own module and registers itself on `app`; command
modules share only cli/common.py (options, consoles), cli/render.py (renderers) and
cli/display.py (times in --tz, money, records as lines). This
module builds the app and turns library errors into one sentence and an exit code, with
the arguments a message names worded as this command line's flags.
"""

from __future__ import annotations

import os
import sys

# Importing a command module registers its commands on `app`.
from auditlog.cli import (  # noqa: F401  (registration by import)
    browse_cmds,
    export_cmds,
    findings_cmds,
    forget_cmds,
    lake_cmds,
    load_cmds,
    privileges_cmds,
    remediation_cmds,
    report_cmds,
    review_cmds,
    rules_cmds,
    run_cmds,
    status_cmds,
    timeline_cmds,
    trace_cmds,
    world_cmds,
)
from auditlog.cli.common import app, err_console, flag
from auditlog.errors import AuditlogError
from auditlog.textsafe import terminal

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: never lets a traceback reach the user."""
    try:
        app()
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
