"""Mapping files: read any CSV/JSON source whose columns and codes are not auditlog's.

A mapping is a small TOML file given with `auditlog ingest --mapping FILE`. It is applied
to the staged table of each file *before* validation, so everything downstream (kind
detection, checks, quarantine, dedup) sees canonical column names and values and works
unchanged. Nothing is dropped: source columns the mapping does not rename keep their
names and end up in `extra`.

    kind = "privileges"                 # optional; --kind wins, else detected

    [columns]                           # source column -> new name (case-insensitive)
    "操作员" = "actor"
    "Zeit" = "ts"

    [values.operation]                  # per column (new name): source value -> value
    "A" = "grant"
    "R" = "revoke"

    [constants]                         # columns set on every row (override the source)
    system = "crm"

    [timestamps]                        # column (new name) -> strptime format(s)
    ts = "%d.%m.%Y %H:%M"               # or a list: ["%d.%m.%Y %H:%M", "%d.%m.%Y"]

Why SQL and not Python: files can hold millions of rows; the mapping only writes one
`CREATE TABLE ... AS SELECT` with the values bound as parameters.

Value maps match the trimmed text exactly (case-sensitive, as codes usually are); a
value with no entry passes through unchanged, so an unexpected code is quarantined by
validation with the usual "unknown value" reason rather than silently rewritten. A
timestamp that does not fit its format(s) also passes through unchanged (so an ISO 8601
value still loads, and anything else is quarantined as unparseable). A format without
%z/%Z gives a naive time, read in the zone given by --tz like any other.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from auditlog.errors import UsageError
from auditlog.ingest.staging import MAPPED, Staged
from auditlog.kinds import KINDS
from auditlog.sqltext import quote_ident

SECTIONS = ("kind", "description", "columns", "values", "constants", "timestamps")


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file. Column keys of `columns` are lower-cased source names;
    all other column names are the names after renaming, lower-cased."""

    source: str
    kind: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    timestamps: dict[str, list[str]] = field(default_factory=dict)


def load_mapping(path: Path) -> Mapping:
    """Read and check `path`; every problem is a UsageError naming the file and key."""
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("mapping file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read mapping file: {exc}", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"not valid TOML: {exc}", source=source) from None

    def bad(key: str, problem: str) -> UsageError:
        return UsageError(f"mapping key '{key}' {problem}", source=source)

    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise bad(unknown[0], f"is not known; use: {', '.join(SECTIONS)}")
    kind = data.get("kind")
    if kind is not None and kind not in KINDS:
        raise bad("kind", f"is {kind!r}; use one of: {', '.join(KINDS)}")

    columns = {k.strip().lower(): _name(v, f"columns.{k}", bad)
               for k, v in _table(data, "columns", bad).items()}
    values: dict[str, dict[str, str]] = {}
    for column, table in _table(data, "values", bad).items():
        if not isinstance(table, dict):
            raise bad(f"values.{column}", "must be a table of source value = value")
        values[column.strip().lower()] = {
            str(k).strip(): _scalar(v, f"values.{column}.{k}", bad) for k, v in table.items()
        }
    constants = {k.strip().lower(): _scalar(v, f"constants.{k}", bad)
                 for k, v in _table(data, "constants", bad).items()}
    timestamps: dict[str, list[str]] = {}
    for column, formats in _table(data, "timestamps", bad).items():
        listed = formats if isinstance(formats, list) else [formats]
        if not listed or not all(isinstance(f, str) and "%" in f for f in listed):
            raise bad(f"timestamps.{column}",
                      "must be a strptime format such as \"%d.%m.%Y %H:%M\", or a list of them")
        zoned = {"%z" in f or "%Z" in f for f in listed}
        if len(zoned) > 1:
            raise bad(f"timestamps.{column}",
                      "mixes formats with and without a zone (%z/%Z); use one or the other")
        timestamps[column.strip().lower()] = listed
    return Mapping(source=source, kind=kind, columns=columns, values=values,
                   constants=constants, timestamps=timestamps)


def _table(data: dict[str, Any], key: str, bad: Any) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise bad(key, "must be a table")
    return value


def _name(value: Any, key: str, bad: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(key, "must be a non-empty column name")
    return value.strip().lower()


def _scalar(value: Any, key: str, bad: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise bad(key, "must be a string or a number")


def apply_mapping(con: duckdb.DuckDBPyConnection, staged: Staged, mapping: Mapping) -> Staged:
    """Rewrite `staged.table` in place per `mapping`; returns the staged table's new shape."""
    names = [mapping.columns.get(n.strip().lower(), n) for n in staged.columns]
    params: dict[str, str] = {}
    selects: list[str] = []
    kept: list[str] = []
    for i, name in enumerate(names):
        key = name.strip().lower()
        if key in mapping.constants:
            continue  # replaced by the constant below
        if key in mapping.values or key in mapping.timestamps:
            selects.append(_restyle(_transform(_text(f"c{i}", staged), key, mapping, params),
                                    staged))
        else:
            selects.append(f"c{i}")
        kept.append(name)
    for name, value in mapping.constants.items():
        text = f"CAST({_bind(params, value)} AS VARCHAR)"
        selects.append(_restyle(_transform(text, name, mapping, params), staged))
        kept.append(name)
    columns = "".join(f",\n  {expr} AS c{i}" for i, expr in enumerate(selects))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {MAPPED} AS
        SELECT _row, _loc, _raw, _bad{columns}
        FROM {quote_ident(staged.table)} ORDER BY _row, _loc
        """,
        params,
    )
    con.execute(f"DROP TABLE {quote_ident(staged.table)}")
    con.execute(f"ALTER TABLE {MAPPED} RENAME TO {quote_ident(staged.table)}")
    return Staged(columns=kept, style=staged.style, table=staged.table,
                  kind=staged.kind, source_format=staged.source_format)


def _bind(params: dict[str, str], value: str) -> str:
    name = f"m{len(params)}"
    params[name] = value
    return f"${name}"


def _text(column: str, staged: Staged) -> str:
    if staged.style == "json":
        return f"nullif(trim(json_extract_string({column}, '$')), '')"
    if staged.style == "native":
        return f"nullif(trim(CAST({column} AS VARCHAR)), '')"
    return f"nullif(trim({column}), '')"


def _restyle(text: str, staged: Staged) -> str:
    """A VARCHAR expression in the staged table's value style."""
    return f"to_json({text})" if staged.style == "json" else text


def _transform(text: str, key: str, mapping: Mapping, params: dict[str, str]) -> str:
    """SQL for the column's text after its value map, then its timestamp format."""
    expr = text
    if key in mapping.values:
        whens = " ".join(
            f"WHEN {_bind(params, source)} THEN {_bind(params, target)}"
            for source, target in mapping.values[key].items()
        )
        expr = f"CASE {expr} {whens} ELSE {expr} END"
    if key in mapping.timestamps:
        formats = mapping.timestamps[key]
        listed = "[" + ", ".join(_bind(params, f) for f in formats) + "]"
        parsed = f"try_strptime({expr}, {listed})"
        # Zoned formats give an instant: written as UTC with Z. Others give a wall-clock
        # time, written without offset so validation reads it in --tz.
        if any("%z" in f or "%Z" in f for f in formats):
            iso = (f"strftime(timezone('UTC', CAST({parsed} AS TIMESTAMPTZ)), "
                   f"'%Y-%m-%dT%H:%M:%S.%fZ')")
        else:
            iso = f"strftime(CAST({parsed} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%f')"
        expr = f"coalesce({iso}, {expr})"
    return expr
