"""What every command module shares: the app, the consoles, the common options, and the
Investigation each command calls (`investigation`), whose notices print on stderr.

Only what the options need is imported here (the kinds, severities, engine names, the
lock's timeout): the library itself is loaded by the command that runs, after its
arguments are parsed (tests/test_api_cli.py checks that no data library is)."""

from __future__ import annotations

import enum
import os
import shlex
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Self

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from auditlog.cli import helpstyle
from auditlog.engines import engine_names
from auditlog.pack.severity import SEVERITIES
from auditlog.store.locking import DEFAULT_TIMEOUT, Notice, WaitPolicy, set_wait_policy
from auditlog.store.memory import MEMORY_ENV, parse_size
from auditlog.textsafe import json_document, visible

if TYPE_CHECKING:
    from auditlog.ingest.pipeline import FileResult
    from auditlog.investigation import Investigation
    from auditlog.notices import Notice as Told

app = typer.Typer(
    name="auditlog",
    help=(
        "Trace anomalous charges in operator-action, privilege, change and billing logs "
        "back to the change, the account and the moment responsible."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell.
    add_completion=True,
    # Markdown joins a docstring's lines into paragraphs that Rich wraps at the
    # terminal's width, instead of keeping the source's line breaks mid-sentence.
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
helpstyle.install()


class SafeConsole(Console):
    """A console that prints every string literally: never as Rich markup (a log field
    or file name holding `[/]` or `[link=…]` is text, and one holding `[/]` cannot make
    the printer raise), nor as emoji codes (`:warning:` stays those nine characters), and
    with control characters shown as `\\x1b`, so no ANSI or OSC
    sequence from the data reaches the terminal. Escaping at each call site would be one
    forgotten call away from an injection; here a plain `print(f"... {field}")` is safe,
    `markup=True` is ignored, and styles come only from Text built by
    `auditlog.textsafe.terminal`. Segments are checked once more on the way out, so a
    control character inside a Text built elsewhere is shown escaped too."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs["markup"] = kwargs["emoji"] = False
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
console = SafeConsole(highlight=False, markup=False, emoji=False)
err_console = SafeConsole(stderr=True, highlight=False, markup=False, emoji=False)


def show_version(value: bool) -> None:
    """--version: the installed package's version (its metadata, so it is the one pip
    installed, never a copy in the source that could drift)."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        typer.echo(f"auditlog {installed('auditlog')}")
    except PackageNotFoundError:  # run from a source tree that was never installed
        typer.echo("auditlog (not installed: version unknown)")
    raise typer.Exit()


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
    # Not min=0: its "[x>=0]" would widen the options column until the help text
    # beside it is cut at 80 columns; the check is below.
    wait_timeout: Annotated[float, typer.Option(
        "--wait-timeout", envvar="AUDITLOG_WAIT_TIMEOUT", metavar="SECONDS",
        help="Longest wait for the database before failing.")
    ] = DEFAULT_TIMEOUT,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", envvar="AUDITLOG_MEMORY_LIMIT", metavar="SIZE", show_default=False,
        help="DuckDB memory per connection, e.g. 8GB; beyond it DuckDB spills to disk "
             "(AUDITLOG_TEMP_DIR). Default: min(3 GiB, 40% of RAM).")] = None,
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=show_version,
        help="Print auditlog's version and exit.")] = False,
) -> None:
    """Options for every command; give them before the command: auditlog --wait status."""
    if wait_timeout < 0:
        raise typer.BadParameter("must be 0 or more seconds", param_hint="'--wait-timeout'")
    if memory_limit is not None:  # checked now; every connection reads it (store/memory.py)
        os.environ[MEMORY_ENV] = parse_size(memory_limit, "memory_limit")
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


class ProgressBar:
    """One progress bar on stderr for a command that may run long (ingest, run, export),
    drawn only when it is for a person: output for people (not --format json) and stderr
    a terminal. Piped or redirected, nothing of it is written. The library tells how far
    it got through callbacks (`steps`, `files`); labels are names from the data (rule
    ids, file names), so they are text, never markup. Transient: gone when done."""

    def __init__(self, what: str, *, enabled: bool, on: Console | None = None) -> None:
        # Here, not at the top: a command without a bar never imports it (start time).
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        target = on or err_console
        self.rows = 0
        self.bar = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[detail]}", markup=False),
            TimeElapsedColumn(), console=target, transient=True,
            disable=not (enabled and target.is_terminal))
        self.task = self.bar.add_task(what, total=None, detail="")

    def __enter__(self) -> Self:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def steps(self, done: int, total: int, label: str) -> None:
        """analysis.progress.Steps: `label` is what runs now (a rule, a file)."""
        self.bar.update(self.task, completed=done, total=total,
                        description=label or "done")

    def files(self, index: int, total: int, result: FileResult) -> None:
        """ingest.pipeline.Progress: after each file, with the rows read so far."""
        self.rows += result.rows_read
        self.bar.update(self.task, completed=index + 1, total=total,
                        description=Path(result.path).name, detail=f"{self.rows:,} rows")


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



class TableFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


# One choice per registered engine (auditlog.engines.ENGINES), so a new engine needs no
# change here; DuckDB, embedded, is the default.
Engine = enum.Enum("Engine", {n: n for n in engine_names()}, type=str)  # type: ignore[misc]
DEFAULT_ENGINE = Engine("duckdb")


Severity = enum.Enum("Severity", {s: s for s in SEVERITIES}, type=str)  # type: ignore[misc]
TableFormatOption = Annotated[
    TableFormat, typer.Option("--format", "-f", help="table for people; json or csv for programs.")
]
RulesDirOption = Annotated[
    list[Path] | None,
    typer.Option("--rules-dir", help="Extra rule pack directory (repeatable)."),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="ISO 8601 time (UTC if no offset).")]
UntilOption = Annotated[str | None, typer.Option("--until", help="ISO 8601 time, exclusive.")]
RuleOption = Annotated[
    list[str] | None, typer.Option("--rule", help="Only this rule (repeatable).")]
ChangeOption = Annotated[
    str | None, typer.Option("--change", help="Only those naming this change.")]

# The Investigation's argument names whose flag is not `--` + the name with dashes.
FLAGS = {"change_id": "--change", "rules_dirs": "--rules-dir", "packs": "--pack",
         "rules": "--rule", "params": "--param", "kinds": "--kind", "file": "--file",
         "formats": "--format"}


def flag(argument: str) -> str:
    """The flag that gives an Investigation argument: since -> --since."""
    return FLAGS.get(argument, "--" + argument.replace("_", "-"))


def investigation(db: Path | None, *, engine: Engine = DEFAULT_ENGINE,
                  master: str | None = None, lake: Path | None = None,
                  rules_dirs: list[Path] | None = None) -> Investigation:
    """The command's Investigation of `db` (default ./auditlog.duckdb or $AUDITLOG_DB),
    its notices printed on stderr as they come."""
    from auditlog.investigation import Investigation

    return Investigation(db, engine=engine.value, master=master, lake=lake,
                         rules_dirs=rules_dirs or (), notify=tell)


def tell(notice: Told) -> None:
    """A notice on stderr, worded for the command line (flags, commands to run); never
    through Rich markup: notices quote file and system names from the logs."""
    from auditlog.notices import (
        Caveat,
        DaylightSaving,
        IdSpellings,
        NaiveTimes,
        SkippedFile,
        StaleFindings,
    )

    if isinstance(notice, Caveat | IdSpellings):
        line = f"warning: {notice}"
    elif isinstance(notice, StaleFindings):
        line = (f"note: files were forgotten since run {notice.run_id}; its findings may rest "
                "on rows that are gone until 'auditlog run' is run again")
    elif isinstance(notice, NaiveTimes):
        r = notice.file
        line = (f"warning: {r.naive_times:,} timestamp(s) in {r.path} carry no offset and were "
                f"read in {r.tz}, since no --tz was given, and answers will say so: if that "
                f"is right, load it again with --tz {r.tz}; if they are local times of another "
                f"zone, forget it (auditlog forget {shlex.quote(r.path)}) and load it with "
                "--tz ZONE")
    elif isinstance(notice, DaylightSaving):
        r = notice.file
        line = (f"note: {r.dst_resolved:,} naive time(s) in {r.path} fell in a daylight-saving "
                f"gap or overlap of {r.tz}; resolved with the offset in effect before the "
                "change: a time in a gap moves forward by the gap, a time in an overlap is "
                "the earlier of its two instants")
    elif isinstance(notice, SkippedFile):
        line = (f"warning: skipped {notice.file.path}, not in a format auditlog reads: "
                f"{notice.file.reason} (with --strict this is an error)")
    else:  # a notice this version does not know: its own words
        line = f"note: {notice}"
    err_console.print(line, markup=False, soft_wrap=True)
