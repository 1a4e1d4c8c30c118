"""Paths into a record, as a mapping file writes them: `actor.alternateId`,
`target[0].displayName`, `protoPayload.authenticationInfo.principalEmail`.

A path is keys joined by dots, each optionally followed by array indexes (`[0]`, from
0). A key holding a dot, a bracket or a quote is written in brackets and quotes:
`labels["app.kubernetes.io/name"]`. The first key is a top-level key of a JSON record
or a column of a CSV/TSV/Parquet file (matched case-insensitively, as column names
are); the keys after it are JSON keys (matched exactly, as JSON keys are). A trailing
`?` makes a path optional (see `optional`).

Why our own small syntax and not JSONPath: these are the paths every log vendor's
documentation prints (Okta, GCP, Azure all write `a.b[0].c`), so a user can copy them
from the docs; wildcards and filters have no place in picking one value per row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from auditlog.sqltext import sql_string

# One step: a key (str) or an array index (int).
Step = str | int

_KEY = re.compile(r"[^.\[\]\"]+")
_INDEX = re.compile(r"\[(\d+)\]")
_QUOTED = re.compile(r'\["((?:[^"\\]|\\.)*)"\]')


def optional(text: str) -> tuple[str, bool]:
    """A path and whether it is optional: written with a trailing `?`, it may match
    nothing in a file without that being an error (a field some exports carry)."""
    stripped = text.strip()
    return (stripped[:-1].rstrip(), True) if stripped.endswith("?") else (stripped, False)


class PathSyntaxError(ValueError):
    """A path that cannot be read; the message says where."""


@dataclass(frozen=True)
class FieldPath:
    text: str  # as written in the mapping file
    steps: tuple[Step, ...]

    @property
    def head(self) -> str:
        first = self.steps[0]
        assert isinstance(first, str)
        return first

    @property
    def rest(self) -> tuple[Step, ...]:
        return self.steps[1:]


def parse_path(text: str) -> FieldPath:
    """`text` as a FieldPath; PathSyntaxError says what is wrong and where."""
    steps: list[Step] = []
    i = 0
    expect_key = True
    while i < len(text):
        if text.startswith('["', i):
            match = _QUOTED.match(text, i)
            if match is None:
                raise PathSyntaxError(f"unclosed [\"...\"] at character {i + 1}")
            steps.append(json.loads(f'"{match.group(1)}"'))
            i = match.end()
            expect_key = False
            continue
        if text[i] == "[":
            match = _INDEX.match(text, i)
            if match is None:
                raise PathSyntaxError(
                    f"'[' at character {i + 1} starts neither an index such as [0] nor a "
                    "quoted key such as [\"a.b\"]")
            if not steps:
                raise PathSyntaxError("a path starts with a key, not an index")
            steps.append(int(match.group(1)))
            i = match.end()
            expect_key = False
            continue
        if text[i] == ".":
            if expect_key:
                raise PathSyntaxError(f"empty key at character {i + 1}")
            i += 1
            expect_key = True
            continue
        if not expect_key:
            raise PathSyntaxError(f"'.' expected at character {i + 1}")
        match = _KEY.match(text, i)
        if match is None:
            raise PathSyntaxError(f"unexpected {text[i]!r} at character {i + 1}")
        steps.append(match.group(0).strip())
        i = match.end()
        expect_key = False
    if not steps:
        raise PathSyntaxError("empty path")
    if expect_key:
        raise PathSyntaxError("the path ends with '.'")
    return FieldPath(text=text, steps=tuple(steps))


def pointer(steps: tuple[Step, ...]) -> str:
    """The steps as a JSON pointer (`/a/0/b`), which DuckDB's json functions take: it can
    name every key (an empty one too) and needs no quoting beyond ~ and /."""
    return "".join(
        "/" + (str(s) if isinstance(s, int) else s.replace("~", "~0").replace("/", "~1"))
        for s in steps
    )


def pointer_sql(steps: tuple[Step, ...]) -> str:
    return sql_string(pointer(steps))


def written(steps: tuple[Step, ...]) -> str:
    """The steps written back in the mapping's syntax, for messages and suggestions."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _KEY.fullmatch(step) and step == step.strip():
            out += ("." if out else "") + step
        else:
            out += "[" + json.dumps(step) + "]"
    return out
