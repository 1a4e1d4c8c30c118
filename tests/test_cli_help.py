"""`auditlog --version`, `--help` at 80 columns and shell completion (issue 15)."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.cli.helpstyle import plain_label

runner = CliRunner()
ENV = {"COLUMNS": "80", "NO_COLOR": "1"}


def help_of(*command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_version_is_the_installed_one() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"auditlog {version('auditlog')}\n"


def test_completion_can_be_installed_or_shown() -> None:
    top = help_of()
    assert "--install-completion" in top and "--show-completion" in top
    shown = runner.invoke(app, ["--show-completion", "bash"], env={**ENV, "SHELL": "/bin/bash"})
    assert shown.exit_code == 0 and "complete" in shown.stdout


@pytest.mark.parametrize("command", [(), ("ingest",), ("findings",), ("findings", "triage"),
                                     ("run",), ("trace", "charge")])
def test_help_fits_80_columns_without_type_noise(command: tuple[str, ...]) -> None:
    text = help_of(*command)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert not re.search(r"<(bool|str|path|int|float|list\[[^\]]*\])>", text), text
    assert "…" not in text  # nothing cut off
    assert "{" not in text.split("\n", 3)[1]  # the usage line names arguments plainly


def test_help_paragraphs_are_not_broken_mid_sentence() -> None:
    # ingest's docstring wraps its second paragraph in the source; on screen the words
    # that ended a source line run on in the same line as the next ones.
    text = " ".join(help_of("ingest").split())
    assert "text formats also gzipped, each told by its content" in text
    usage = help_of("ingest").splitlines()[1]
    assert usage.strip() == "Usage: auditlog ingest [OPTIONS] PATHS..."


@pytest.mark.parametrize(("label", "shown"), [
    ("<bool>", None), ("<str>", "TEXT"), ("<list[Path]>", "PATH..."), ("<path>", "PATH"),
    ("<int range>", "INTEGER"), ("<table|json>", "table|json"),
    ("<info|low|medium|high|critical>", "info | low | medium | high | critical"),
    ("SECONDS", "SECONDS"), (None, None),
])
def test_option_labels_are_words(label: str | None, shown: str | None) -> None:
    assert plain_label(label) == shown
