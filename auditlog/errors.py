"""Errors the library raises. The CLI turns each into one sentence and an exit code.

A message says what is wrong; `location` says where (a file and its row or line, or a
rule). A message that names the caller's arguments writes each as `{name}` and lists it
in `arguments`: `str()` names it as the Python API does (`since`), and the CLI names the
flag it came from (`--since`) with `worded()`, so the library never speaks in flags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Location:
    """Where a problem is. Shown as `file`, `file:line` or `file row N`; a rule is
    named only when there is no file to name (a rule's file names it already)."""

    file: str | None = None
    row: int | None = None
    rule: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file is None:
            return f"rule {self.rule}" if self.rule else ""
        text = self.file if self.line is None else f"{self.file}:{self.line}"
        return text if self.row is None else f"{text} row {self.row}"

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.file, self.row, self.rule, self.line))


class HasSource(Protocol):
    """A rule as an error sees it: its file and its id (pack.model.Rule is one)."""

    @property
    def source(self) -> str: ...

    @property
    def id(self) -> str: ...


def rule_location(rule: HasSource) -> Location:
    """Where a rule's problem is: its file, and the rule by id."""
    return Location(file=rule.source, rule=rule.id)


def plain_name(name: str) -> str:
    """An argument as the Python API names it: itself."""
    return name


class AuditlogError(Exception):
    """A problem the user can act on. `location` names the file, row or rule involved;
    `source=` is the short form for a file (or a rule's file)."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None,
                 location: Location | None = None, arguments: Sequence[str] = ()) -> None:
        super().__init__(message)
        if location is None and source:
            location = Location(file=source)
        self.location = location if location else None
        self.arguments = tuple(arguments)

    @property
    def source(self) -> str | None:
        """Where, as one string (the file, or the rule), or None."""
        return str(self.location) if self.location else None

    def worded(self, name: Callable[[str], str] = plain_name) -> str:
        """The message with each argument it names written as `name(argument)`."""
        message = super().__str__()
        for argument in self.arguments:
            # Only the named placeholders: other braces (in file names, log text) stay.
            message = message.replace("{" + argument + "}", name(argument))
        return f"{self.source}: {message}" if self.source else message

    def __str__(self) -> str:
        return self.worded()


class AuditlogWarning(UserWarning):
    """What an answer should be read with (a coverage caveat, findings that may rest on
    forgotten files): the notebook API's default way of telling it."""


class InputError(AuditlogError):
    """An input file cannot be read, or its rows break the contract in strict mode."""


class UsageError(AuditlogError):
    """Options that do not fit together, an unknown name, a missing database."""


class RuleError(AuditlogError):
    """A rule that cannot be loaded, validated or run; `location` is its file."""


class DatabaseBusy(AuditlogError):
    """Another process holds the database (DuckDB allows one writer, or readers, per
    file) and the caller would not, or no longer, wait. `pid` and `command` name the
    holder where known. Exit 75 (EX_TEMPFAIL): the same command can simply be retried."""

    exit_code = 75

    def __init__(self, message: str, *, pid: int | None = None,
                 command: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.command = command
