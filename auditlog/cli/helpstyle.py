"""How `--help` names what an option takes, for people: `PATH`, `TEXT`, `table|json`,
nothing for a flag, instead of the Python types recent Typer shows (`<bool>`,
`<list[Path]>`, `<str>`), which say nothing to someone at a terminal and widen the
options panel until the help text breaks every few words.

Typer has no setting for this, so the two parameter classes' `display_type_rich` get
a wrapper that rewrites the label they give; an option with its own `metavar` keeps it.
The usage line names arguments as click and man pages do (`PATHS...`, `[ID]`).
A Typer without that method (older versions, which print click's own `TEXT`/`PATH`) is
left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from typer import core

# Typer's label of a Python type -> the word a person reads.
WORDS = {"str": "TEXT", "path": "PATH", "Path": "PATH", "int": "INTEGER",
         "float": "NUMBER", "int range": "INTEGER", "float range": "NUMBER",
         "datetime": "TIME", "file": "FILE", "directory": "DIRECTORY"}
# Choices longer than this are written with spaces around '|', where a line may break.
LONG_CHOICES = 24
LABEL = re.compile(r"^<(?:list\[(?P<item>.+)\]|(?P<one>.+))>$")


def plain_label(label: str | None) -> str | None:
    """'<bool>' -> None (a flag takes nothing), '<list[Path]>' -> 'PATH...',
    '<str>' -> 'TEXT', '<table|json>' -> 'table|json'; anything else unchanged."""
    if label is None:
        return None
    match = LABEL.match(label)
    if match is None:
        return label
    item = match.group("item") or match.group("one")
    if item == "bool":
        return None
    word = WORDS.get(item, item)
    if "|" in word and len(word) > LONG_CHOICES:  # room to wrap between the choices
        word = " | ".join(word.split("|"))
    return f"{word}..." if match.group("item") else word


def usage_name(self: Any) -> str:
    """An argument in the usage line as click and man pages write it: PATHS... when
    required, [FINDING_ID] when not (Typer writes {paths}...)."""
    name = self.metavar or self.name.upper()
    name = name if self.required else f"[{name}]"
    return f"{name}..." if self.nargs != 1 else name


def plain(method: Callable[..., str | None]) -> Callable[..., str | None]:
    def display(self: Any, ctx: Any) -> str | None:
        if getattr(self, "metavar", None) is not None:
            return method(self, ctx)
        return plain_label(method(self, ctx))
    display.__doc__ = method.__doc__
    return display


def install() -> None:
    """Once, when the command line is built (cli/common.py)."""
    for cls in (getattr(core, "TyperOption", None), getattr(core, "TyperArgument", None)):
        method = getattr(cls, "display_type_rich", None)
        if cls is not None and method is not None and not getattr(method, "plain", False):
            wrapped = plain(method)
            wrapped.plain = True  # type: ignore[attr-defined]
            cls.display_type_rich = wrapped
    argument = getattr(core, "TyperArgument", None)
    if argument is not None and hasattr(argument, "_usage_display_name"):
        argument._usage_display_name = usage_name
