"""Where a mapping's paths lead in one staged file, asked of the file itself.

A path of a mapping is resolved to a reference into the staged table (`Resolver`): a
whole column, or a path into the record's text `_raw`. Whether it matches anything, and
where JSON *text* must be parsed on the way (a CSV column holding JSON, Azure's
`properties.log`), is found by probing the readable rows (`Probe`), once per file; so is
the nearest key the file has, for a path that matches nothing.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import duckdb

from auditlog.ingest.staging import Staged
from auditlog.ingest.standard.mapping_paths import (
    PathSyntaxError,
    Step,
    optional,
    parse_path,
    pointer,
    written,
)
from auditlog.sqltext import sql_string


@dataclass(frozen=True)
class PathRef:
    """Where one path's value is in the staged table: a whole column `c<i>`, or a path
    into `_raw` (its first step spelled as the file spells it), of which the first
    `split` steps hold JSON text that the rest reads inside."""

    column: int | None = None
    steps: tuple[Step, ...] = ()
    split: int = 0

    @property
    def whole_column(self) -> bool:
        return self.column is not None or len(self.steps) == 1


class Resolver:
    """A path of the mapping as a reference into this staged table."""

    def __init__(self, staged: Staged, present: set[str]) -> None:
        self.staged = staged
        self.present = present

    def column_of(self, name: str | Step) -> int | None:
        """The source column spelled `name`, exactly, else case-insensitively."""
        if not isinstance(name, str):
            return None
        columns = self.staged.columns
        if name in columns:
            return columns.index(name)
        folded = [c.strip().lower() for c in columns]
        key = name.strip().lower()
        return folded.index(key) if key in folded else None

    def ref(self, text: str) -> PathRef | None:
        """None when the path's first step is no column of the file."""
        text = optional(text)[0]
        column = self.column_of(text)
        if column is not None:
            if f"c{column}" in self.present:
                return PathRef(column=column)
            return PathRef(steps=(self.staged.columns[column],))
        try:
            path = parse_path(text)
        except PathSyntaxError:
            return None  # a column name that is not there, and no path either
        head = self.column_of(path.head)
        if head is None:
            return None
        return PathRef(steps=(self.staged.columns[head], *path.rest))


class Probe:
    """Questions to the staged table about where paths lead, on its readable rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, staged: Staged,
                 keep: str = "true", params: dict[str, str] | None = None) -> None:
        self.con = con
        self.source = table
        self.staged = staged
        # The rows asked about: the readable ones (that the filters keep).
        self.table = f"(SELECT * FROM {table} WHERE _bad IS NULL AND ({keep}))"
        self.params = params or {}
        ((self.rows,),) = con.execute(
            f"SELECT count(*) FROM {self.table}", self.params).fetchall()

    def keeping(self, keep: str, params: dict[str, str]) -> Probe:
        """The same questions, asked of the rows `keep` (SQL over the table) is true of."""
        return Probe(self.con, self.source, self.staged, keep, params)

    def count(self, expressions: list[str]) -> list[int]:
        if not expressions:
            return []
        counts = ", ".join(f"count(*) FILTER (WHERE ({e}) IS NOT NULL)" for e in expressions)
        row = self.con.execute(f"SELECT {counts} FROM {self.table}", self.params).fetchone()
        return [int(n) for n in row] if row else [0] * len(expressions)

    def count_present(self, pointers: list[str]) -> list[int]:
        """How many rows have a value at each JSON pointer, each row parsed once."""
        if not pointers:
            return []
        listed = "[" + ", ".join(sql_string(p) for p in pointers) + "]"
        counts = ", ".join(f"count(*) FILTER (WHERE _v[{i + 1}] IS NOT NULL)"
                           for i in range(len(pointers)))
        row = self.con.execute(
            f"SELECT {counts} FROM (SELECT json_extract(_raw, {listed}) AS _v "
            f"FROM {self.table})", self.params).fetchone()
        return [int(n) for n in row] if row else [0] * len(pointers)

    def resolve(self, refs: list[PathRef]) -> dict[PathRef, PathRef]:
        """Each path into `_raw` that matches some row → itself, or the same path
        reading inside JSON text at the first prefix where that matches; paths matching
        nothing either way are left out. (Whole columns always resolve.)"""
        found = {r: r for r in refs if r.column is not None}
        raw = list(dict.fromkeys(r for r in refs if r.column is None))
        for ref, n in zip(raw, self.count_present([pointer(r.steps) for r in raw]), strict=True):
            if n:
                found[ref] = ref
        for split in range(1, max((len(r.steps) for r in raw), default=0)):
            trying = [r for r in raw if r not in found and split < len(r.steps)]
            candidates = [PathRef(steps=r.steps, split=split) for r in trying]
            counts = self.count([inside_text_sql(c.steps, split) for c in candidates])
            for ref, candidate, n in zip(trying, candidates, counts, strict=True):
                if n:
                    found[ref] = candidate
        return found

    def at(self, steps: tuple[Step, ...]) -> str | None:
        """SQL for the value at `steps` (through JSON text where a prefix holds it),
        with JSON text at the end parsed too; None when no row has one."""
        tried = [direct_sql(steps)] + [inside_text_sql(steps, k) for k in range(1, len(steps))]
        for expr, n in zip(tried, self.count(tried), strict=True):
            if n:
                return (f"(CASE WHEN json_type({expr}) = 'VARCHAR' AND "
                        f"json_valid({expr} ->> '$') THEN CAST({expr} ->> '$' AS JSON) "
                        f"ELSE {expr} END)")
        return None

    def suggestion(self, text: str, ref: PathRef | None) -> str:
        """' (did you mean …?)' for a path that matches nothing, or ''."""
        try:
            steps: tuple[Step, ...] = parse_path(optional(text)[0]).steps
        except PathSyntaxError:
            steps = (text,)
        if ref is None:  # the first step is no column
            close = closest(str(steps[0]), self.staged.columns)
            return f" (did you mean {written((close, *steps[1:]))!r}?)" if close else ""
        steps = ref.steps
        for depth in range(len(steps) - 1, 0, -1):
            prefix = self.at(steps[:depth])
            if prefix is None:
                continue
            kinds = dict(self.con.execute(
                f"SELECT json_type({prefix}), count(*) FROM {self.table} "
                f"WHERE ({prefix}) IS NOT NULL GROUP BY 1 ORDER BY 2 DESC", self.params
            ).fetchall())
            step = steps[depth]
            here = written(steps[:depth])
            if "ARRAY" in kinds and isinstance(step, str):
                indexed = (*steps[:depth], 0, *steps[depth:])
                if self.at(indexed) is not None:
                    return f" ({here!r} is an array: did you mean {written(indexed)!r}?)"
                return f" ({here!r} is an array: index it, e.g. " \
                       f"{written((*steps[:depth], 0))!r})"
            if "OBJECT" in kinds and isinstance(step, str):
                keys = [k for (k,) in self.con.execute(
                    f"SELECT DISTINCT unnest(json_keys({prefix})) FROM {self.table} "
                    f"WHERE json_type({prefix}) = 'OBJECT' LIMIT 2000", self.params
                ).fetchall()]
                close = closest(step, keys)
                if close:
                    return " (did you mean " \
                           f"{written((*steps[:depth], close, *steps[depth + 1:]))!r}?)"
                return f" ({here!r} has the keys {', '.join(sorted(keys)[:8])})"
            return f" ({here!r} holds {'/'.join(sorted(kinds)).lower()}, " \
                   "not an object or array)"
        return ""


def closest(word: str, candidates: list[str]) -> str | None:
    by_folded = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[close[0]] if close else None


def direct_sql(steps: tuple[Step, ...]) -> str:
    return f"json_extract(_raw, {sql_string(pointer(steps))})"


def inside_text_sql(steps: tuple[Step, ...], split: int) -> str:
    outer = direct_sql(steps[:split])
    return parsed_sql(outer, steps[split:])


def parsed_sql(outer: str, rest: tuple[Step, ...]) -> str:
    """The value at `rest` inside the JSON text `outer` holds (a JSON string)."""
    return (f"CASE WHEN json_type({outer}) = 'VARCHAR' AND json_valid({outer} ->> '$') "
            f"THEN json_extract({outer} ->> '$', {sql_string(pointer(rest))}) END")


def value_sql(ref: PathRef) -> str:
    """The reference's value as JSON over the staged table itself (no `_p` layer)."""
    if ref.column is not None:
        return f"to_json(c{ref.column})"
    return inside_text_sql(ref.steps, ref.split) if ref.split else direct_sql(ref.steps)
