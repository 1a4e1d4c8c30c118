"""How `--help` names what an option takes, for people: `PATH`, `TEXT`, `table|json`,
nothing for a flag, instead of the Python types recent Typer shows (`<bool>`,
`<list[Path]>`, `<str>`), which say nothing to someone at a terminal and widen the
options panel until the help text breaks every few words.

Typer has no setting for this, so the two parameter classes' `display_type_rich` get
a wrapper that rewrites the label they give; an option with its own `metavar` keeps it.
The usage line names arguments as click and man pages do (`PATHS...`, `[ID]`).
Typer before 0.29 (the one pyproject pins: 0.29 builds a pydantic TypeAdapter per
parameter at parse time) has no `display_type_rich`: there an option's label is its
`make_metavar` and an argument's its type's `get_metavar`, so those get the same
rewrite. A Typer on the separate click package (older still, printing click's own
`TEXT`/`PATH`) is left alone.
"""

from __future__ import annotations

import copy
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


def word_of(label: str, many: bool) -> str:
    """A label as a word, '...' after it when the parameter takes several values;
    a label that is no type (a flag's '<bool>') stays as it was."""
    word = plain_label(label.removesuffix("..."))
    if word is None:
        return label
    return f"{word}..." if many and not word.endswith("...") else word


def plain_metavar(method: Callable[..., str]) -> Callable[..., str]:
    """Typer < 0.29: an option's label in the help panel is its make_metavar."""
    def make_metavar(self: Any, ctx: Any) -> str:
        label = method(self, ctx)
        if self.metavar is not None:
            return label
        return word_of(label, many=self.multiple or self.nargs != 1)
    make_metavar.__doc__ = method.__doc__
    return make_metavar


def argument_usage(method: Callable[..., str]) -> Callable[..., str]:
    """Typer < 0.29: an argument names itself in the usage line through make_metavar."""
    def make_metavar(self: Any, ctx: Any, *, usage: bool = False) -> str:
        return usage_name(self) if usage else method(self, ctx, usage=usage)
    make_metavar.__doc__ = method.__doc__
    return make_metavar


def plain_argument_type(method: Callable[..., None]) -> Callable[..., None]:
    """Typer < 0.29: the help panel labels an argument by its type's get_metavar (or
    `<type name>`), so each argument gets its own copy of its type with that label
    rewritten. A copy: click shares one STRING among all parameters, options too."""
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        method(self, *args, **kwargs)
        if self.metavar is not None:
            return
        own = copy.copy(self.type)
        typed = own.get_metavar

        def get_metavar(param: Any, ctx: Any) -> str:
            label = typed(param, ctx) or f"<{own.name}>"
            return word_of(label, many=param.nargs != 1)
        own.get_metavar = get_metavar
        self.type = own
    init.__doc__ = method.__doc__
    return init


def wrap_once(cls: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
    method = getattr(cls, name, None)
    if cls is None or method is None or getattr(method, "plain", False):
        return
    wrapped = wrapper(method)
    wrapped.plain = True
    setattr(cls, name, wrapped)


def install() -> None:
    """Once, when the command line is built (cli/common.py)."""
    option = getattr(core, "TyperOption", None)
    argument = getattr(core, "TyperArgument", None)
    if hasattr(option, "display_type_rich"):  # Typer >= 0.29
        wrap_once(option, "display_type_rich", plain)
        wrap_once(argument, "display_type_rich", plain)
        if argument is not None and hasattr(argument, "_usage_display_name"):
            argument._usage_display_name = usage_name
    elif hasattr(core, "_click"):  # Typer < 0.29 on its own copy of click: "<str>" labels
        wrap_once(option, "make_metavar", plain_metavar)
        wrap_once(argument, "make_metavar", argument_usage)
        wrap_once(argument, "__init__", plain_argument_type)
