"""Errors the library raises. The CLI turns each into one sentence and an exit code."""

from __future__ import annotations


class AuditlogError(Exception):
    """A problem the user can act on. `source` names the file, row or rule involved."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.source}: {message}" if self.source else message


class InputError(AuditlogError):
    """An input file cannot be read, or its rows break the contract under --strict."""


class UsageError(AuditlogError):
    """Options that do not fit together, an unknown name, a missing database."""


class RuleError(AuditlogError):
    """A rule that cannot be loaded, validated or run; `source` is its file."""


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
