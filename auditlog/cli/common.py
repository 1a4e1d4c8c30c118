"""What every command module shares: the app, the consoles, the common options."""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from auditlog.store.locking import DEFAULT_TIMEOUT, Notice, WaitPolicy, set_wait_policy
from auditlog.textsafe import json_document, visible

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


class SafeConsole(Console):
    """A console that prints every string literally: never as Rich markup (a log field
    or file name holding `[/]` or `[link=…]` is text, and one holding `[/]` cannot make
    the printer raise), and with control characters shown as `\\x1b`, so no ANSI or OSC
    sequence from the data reaches the terminal. Escaping at each call site would be one
    forgotten call away from an injection; here a plain `print(f"... {field}")` is safe,
    `markup=True` is ignored, and styles come only from Text built by
    `auditlog.textsafe.terminal`. Segments are checked once more on the way out, so a
    control character inside a Text built elsewhere is shown escaped too."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs["markup"] = False
        return super().render_str(visible(text, keep_lines=True), **kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Renderables render their parts through this same method; checking only the
        # outermost call's segments sees every segment once. Per thread, as a progress
        # bar refreshes from its own.
        self._rendering = threading.local()

    def render(self, renderable: RenderableType,
               options: ConsoleOptions | None = None) -> Iterable[Segment]:
        if getattr(self._rendering, "active", False):
            yield from super().render(renderable, options)
            return
        self._rendering.active = True
        try:
            for segment in super().render(renderable, options):
                if segment.control or not segment.text or segment.text.isprintable():
                    yield segment
                else:
                    yield Segment(visible(segment.text, keep_lines=True), segment.style)
        finally:
            self._rendering.active = False


# Data goes to stdout, diagnostics to stderr, so `... --format json | jq` always works.
console = SafeConsole(highlight=False, markup=False)
err_console = SafeConsole(stderr=True, highlight=False, markup=False)


@app.callback()
def global_options(
    ctx: typer.Context,
    wait: Annotated[bool | None, typer.Option(
        "--wait/--no-wait", envvar="AUDITLOG_WAIT", show_default=False,
        help="While another process (an ingest, a run) writes the database. Default: a "
             "command that only reads answers at once from the database as it was when "
             "that writer started; one that writes waits. --wait: every command waits "
             "(the latest data). --no-wait: none waits; without that snapshot, fail "
             "naming the writer.")] = None,
    wait_timeout: Annotated[float, typer.Option(
        "--wait-timeout", envvar="AUDITLOG_WAIT_TIMEOUT", min=0, metavar="SECONDS",
        help="Longest wait for the database before failing.")] = DEFAULT_TIMEOUT,
) -> None:
    """Options for every command; give them before the command: auditlog --wait status."""
    set_wait_policy(WaitPolicy(wait=wait, timeout=wait_timeout, notify=tell_waiting,
                               command=ctx.invoked_subcommand or "auditlog"))


def tell_waiting(notice: Notice) -> None:
    """The visible line on stderr when a command waits, or answers from the snapshot."""
    if notice.snapshot:
        line = (f"note: {notice.holder.describe()} is writing {notice.db_path}; this answer is "
                "from the database as it was when it started (--wait waits for the "
                "latest instead)")
    else:
        line = (f"waiting for {notice.holder.describe()} to release {notice.db_path} "
                "(--no-wait fails at once instead)")
    err_console.print(line, markup=False, soft_wrap=True)


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
    """Exactly one JSON document on stdout, nothing else (controls escaped)."""
    typer.echo(json_document(document))


def warn(caveats: list[str]) -> list[str]:
    """An answer's coverage caveats (coverage.py) on stderr, one line each, never through
    Rich markup: they quote system names from the logs. Returns them for the documents."""
    for line in caveats:
        err_console.print(f"warning: {line}", markup=False, soft_wrap=True)
    return caveats
