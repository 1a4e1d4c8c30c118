"""What every command module shares: the app, the consoles, the common options."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

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
