"""What every command module shares: the app, the consoles, the common options."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from auditlog.locking import DEFAULT_TIMEOUT, Holder, WaitPolicy, set_wait_policy

app = typer.Typer(
    name="auditlog",
    help=(
        "Trace anomalous charges in operator-action, privilege, change and billing logs "
        "back to the change, the account and the moment responsible."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Data goes to stdout, diagnostics to stderr, so `... --format json | jq` always works.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@app.callback()
def global_options(
    ctx: typer.Context,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", envvar="AUDITLOG_WAIT",
        help="While another process (an ingest, a run) holds the database, wait for it, "
             "or fail at once naming it.")] = True,
    wait_timeout: Annotated[float, typer.Option(
        "--wait-timeout", envvar="AUDITLOG_WAIT_TIMEOUT", min=0, metavar="SECONDS",
        help="Longest wait for the database before failing.")] = DEFAULT_TIMEOUT,
) -> None:
    """Options for every command; give them before the command: auditlog --no-wait status."""
    set_wait_policy(WaitPolicy(wait=wait, timeout=wait_timeout, notify=tell_waiting,
                               command=ctx.invoked_subcommand or "auditlog"))


def tell_waiting(db_path: Path, holder: Holder) -> None:
    """The visible line while a command waits for the database (once per holder)."""
    err_console.print(f"waiting for {holder.describe()} to release {db_path} "
                      "(--no-wait fails at once instead)", markup=False, soft_wrap=True)


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"


DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="AUDITLOG_DB",
        help="DuckDB database file (default ./auditlog.duckdb).",
        show_default=False,
    ),
]

FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people, json for programs."),
]


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout, nothing else."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False))
