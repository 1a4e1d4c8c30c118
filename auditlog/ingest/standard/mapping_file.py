"""A mapping file read and checked: the TOML, its sections, and every name it uses.

Everything that can be told from the file alone is checked here, before any log is
read: the TOML itself (with its line), unknown sections, the kind, target columns (each
must be a column of the kind, or `extra.NAME`), path syntax, filters, formats. What can
only be told against a log file (a path that matches nothing, an object where an id is
expected) is checked when the mapping is applied (mapping_sql.py).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import available_timezones

import duckdb

from auditlog.errors import UsageError
from auditlog.ingest.standard.mapping_paths import PathSyntaxError, optional, parse_path
from auditlog.kinds import KINDS

SECTIONS = ("kind", "description", "tz", "columns", "fields", "values", "unmatched", "defaults",
            "constants", "timestamps", "minor_units", "decimal_mark", "filters")

# The mappings shipped with auditlog, named by their file's stem (`--mapping okta_csv`).
SHIPPED = Path(__file__).resolve().parent.parent / "mappings"

# A filter keeps a row when the value at its path passes its one test.
FILTER_TESTS = ("equals", "in", "matches", "not_equals", "not_in", "not_matches")

# Where an extra column is written: `extra.NAME` keeps a value in the row's `extra`.
EXTRA = "extra."


@dataclass(frozen=True)
class RowFilter:
    name: str
    paths: tuple[str, ...]  # the value tested: the first of these present
    test: str  # one of FILTER_TESTS
    values: tuple[str, ...]  # for the *matches tests: one regular expression


@dataclass(frozen=True)
class Mapping:
    """A checked mapping file. Target column names are lower-cased; source names and
    paths are kept as written (JSON keys are case-sensitive), matched to a file's
    columns case-insensitively when applied."""

    source: str  # how messages name it: its path, or "NAME (shipped mapping)"
    name: str  # its stem, for quarantine reasons
    kind: str | None = None  # the one --kind names, else the file's
    tz: str | None = None  # the zone of the source's naive times; --tz wins
    columns: dict[str, str] = field(default_factory=dict)  # source column or path -> target
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)  # target -> paths
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    unmatched: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)  # when the file gives nothing
    constants: dict[str, str] = field(default_factory=dict)
    timestamps: dict[str, list[str]] = field(default_factory=dict)
    minor_units: dict[str, int | str] = field(default_factory=dict)  # exponent or "currency"
    # Per amount column, the mark before its decimals ("," or "."), the other one and
    # spaces and apostrophes grouping its thousands ("1.234,56", "1 234,56", "1,234.56").
    decimal_mark: dict[str, str] = field(default_factory=dict)
    filters: tuple[RowFilter, ...] = ()

    @property
    def targets(self) -> set[str]:
        """Every column the mapping writes (renamed, taken from paths, or constant)."""
        return set(self.columns.values()) | set(self.fields) | set(self.constants)


def shipped_mappings() -> list[str]:
    """The names of the mappings shipped with auditlog, sorted."""
    return sorted(p.stem for p in SHIPPED.glob("*.toml"))


def find_mapping(path: Path) -> tuple[Path, str]:
    """The file `path` names and how messages name it: a file, or else the name of a
    shipped mapping (with or without `.toml`)."""
    if path.is_file():
        return path, str(path)
    text = str(path)
    name = text.removesuffix(".toml")
    if re.fullmatch(r"[A-Za-z0-9_-]+", name):
        shipped = SHIPPED / f"{name}.toml"
        if shipped.is_file():
            return shipped, f"{name} (shipped mapping)"
        raise UsageError(
            f"mapping file not found, nor a shipped mapping of that name; shipped: "
            f"{', '.join(shipped_mappings())}", source=text)
    raise UsageError("mapping file not found", source=text)


def load_mapping(path: Path, *, kind: str | None = None) -> Mapping:
    """Read and check the mapping `path` names (a file or a shipped mapping's name);
    every problem is a UsageError naming the file and key. `kind` (the one --kind names)
    wins over the file's for checking target columns."""
    file, source = find_mapping(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read mapping file: {exc}", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"not valid TOML, {_where(str(exc))}", source=source) from None
    return _check(data, source, file.stem, kind)


def _where(message: str) -> str:
    """tomllib's message with its position first: 'at line 3, column 9: Expected ...'."""
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match is None:
        return message
    return f"at line {match.group(1)}, column {match.group(2)}: {message[:match.start()]}"


def _check(data: dict[str, Any], source: str, name: str, kind_named: str | None) -> Mapping:
    def bad(key: str, problem: str) -> NoReturn:
        raise UsageError(f"mapping key '{key}' {problem}", source=source)

    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        bad(unknown[0], f"is not known; use: {', '.join(SECTIONS)}")
    kind = data.get("kind")
    if kind is not None and kind not in KINDS:
        bad("kind", f"is {kind!r}; use one of: {', '.join(KINDS)}")
    if "description" in data and not isinstance(data["description"], str):
        bad("description", "must be a string")
    tz = data.get("tz")
    if tz is not None and (not isinstance(tz, str) or tz not in available_timezones()):
        bad("tz", f"is {tz!r}; use an IANA zone name such as UTC or Europe/Paris")
    checked_kind = kind_named or kind
    valid = (KINDS[checked_kind].column_names if checked_kind
             else tuple(dict.fromkeys(c for k in KINDS.values() for c in k.column_names)))

    def target(value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            bad(key, "must be a non-empty column name")
        name = value.strip().lower()
        if name.startswith(EXTRA) and name[len(EXTRA):].strip() not in ("", *valid):
            return value.strip()[len(EXTRA):].strip()  # a key of `extra`, as written
        if name not in valid:
            of = f"{checked_kind} columns" if checked_kind else "columns of any kind"
            bad(key, f"names the column {value.strip()!r}, which is not one of the {of}: "
                     f"{', '.join(valid)} (or write extra.NAME to keep it in extra)")
        return name

    def path(value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            bad(key, "must be a path such as \"actor.alternateId\" or \"target[0].id\"")
        try:
            parse_path(optional(value)[0])
        except PathSyntaxError as exc:
            bad(key, f"is not a path ({value!r}: {exc})")
        return value.strip()

    columns: dict[str, str] = {}
    for k, v in _table(data, "columns", bad).items():
        columns[k.strip()] = target(v, f"columns.{k}")
    fields: dict[str, tuple[str, ...]] = {}
    for k, v in _table(data, "fields", bad).items():
        listed = v if isinstance(v, list) else [v]
        if not listed:
            bad(f"fields.{k}", "is an empty list; give one path or several, tried in order")
        fields[target(k, f"fields.{k}")] = tuple(
            path(p, f"fields.{k}") for p in listed)
    renamed = list(columns.values())
    for name_ in {n for n in renamed if renamed.count(n) > 1} | (set(renamed) & set(fields)):
        bad(f"fields.{name_}" if name_ in fields else "columns",
            f"sets the column {name_!r} twice; each column is set once")

    values: dict[str, dict[str, str]] = {}
    for column, table in _table(data, "values", bad).items():
        if not isinstance(table, dict):
            bad(f"values.{column}", "must be a table of source value = value")
        values[target(column, f"values.{column}")] = {
            str(k).strip(): _scalar(v, f"values.{column}.{k}", bad) for k, v in table.items()
        }
    unmatched = {target(k, f"unmatched.{k}"): _scalar(v, f"unmatched.{k}", bad)
                 for k, v in _table(data, "unmatched", bad).items()}
    for column in unmatched:
        if column not in values:
            bad(f"unmatched.{column}", f"needs a [values.{column}] table it is the default of")
    defaults = {target(k, f"defaults.{k}"): _scalar(v, f"defaults.{k}", bad)
                for k, v in _table(data, "defaults", bad).items()}
    constants = {target(k, f"constants.{k}"): _scalar(v, f"constants.{k}", bad)
                 for k, v in _table(data, "constants", bad).items()}
    for name_ in sorted(set(constants) & set(defaults)):
        bad(f"defaults.{name_}", f"gives a default to {name_!r}, which [constants] sets on "
                                 "every row")
    for name_ in sorted(set(constants) & (set(renamed) | set(fields))):
        bad(f"constants.{name_}", f"sets the column {name_!r}, which the mapping also reads "
                                  "from the file; each column is set once")
    timestamps: dict[str, list[str]] = {}
    for column, formats in _table(data, "timestamps", bad).items():
        listed = formats if isinstance(formats, list) else [formats]
        if not listed or not all(isinstance(f, str) and "%" in f for f in listed):
            bad(f"timestamps.{column}",
                "must be a strptime format such as \"%d.%m.%Y %H:%M\", or a list of them")
        zoned = {"%z" in f or "%Z" in f for f in listed}
        if len(zoned) > 1:
            bad(f"timestamps.{column}",
                "mixes formats with and without a zone (%z/%Z); use one or the other")
        timestamps[target(column, f"timestamps.{column}")] = listed
    minor_units: dict[str, int | str] = {}
    for column, units in _table(data, "minor_units", bad).items():
        if not (units == "currency" or (isinstance(units, int) and not isinstance(units, bool)
                                        and 0 <= units <= 4)):
            bad(f"minor_units.{column}", "must be the number of decimals (0 to 4) or "
                                         "\"currency\" (the row's currency's, ISO 4217)")
        minor_units[target(column, f"minor_units.{column}")] = units
    decimal_mark: dict[str, str] = {}
    for column, mark in _table(data, "decimal_mark", bad).items():
        if mark not in (",", "."):
            bad(f"decimal_mark.{column}", "must be \",\" (4,99 and 1.234,56) or \".\" "
                                          "(4.99 and 1,234.56)")
        decimal_mark[target(column, f"decimal_mark.{column}")] = mark
    filters = tuple(_filter(n, t, bad, path) for n, t in _table(data, "filters", bad).items())
    return Mapping(source=source, name=name, kind=checked_kind, tz=tz, columns=columns, fields=fields,
                   values=values, unmatched=unmatched, defaults=defaults, constants=constants,
                   timestamps=timestamps, minor_units=minor_units, decimal_mark=decimal_mark,
                   filters=filters)


def _filter(name: str, table: Any, bad: Any, path: Any) -> RowFilter:
    key = f"filters.{name}"
    if not isinstance(table, dict):
        bad(key, "must be a table with a path and one test (" + ", ".join(FILTER_TESTS) + ")")
    unknown = sorted(set(table) - {"path", *FILTER_TESTS})
    if unknown:
        bad(f"{key}.{unknown[0]}", f"is not known; use path and one of: {', '.join(FILTER_TESTS)}")
    tests = [t for t in FILTER_TESTS if t in table]
    if len(tests) != 1:
        bad(key, "needs exactly one test: " + ", ".join(FILTER_TESTS))
    (test,) = tests
    given = table[test]
    if test.endswith("in"):
        if not isinstance(given, list) or not given:
            bad(f"{key}.{test}", "must be a non-empty list of values")
        values = tuple(_scalar(v, f"{key}.{test}", bad) for v in given)
    else:
        values = (_scalar(given, f"{key}.{test}", bad),)
    if test.endswith("matches"):
        try:  # DuckDB's (RE2) syntax, which is what runs it
            with duckdb.connect() as scratch:
                scratch.execute("SELECT regexp_matches('', $re)", {"re": values[0]})
        except duckdb.Error as exc:
            bad(f"{key}.{test}", f"is not a regular expression ({exc})")
    given_paths = table.get("path")
    listed = given_paths if isinstance(given_paths, list) and given_paths else [given_paths]
    return RowFilter(name=name, paths=tuple(path(p, f"{key}.path") for p in listed),
                     test=test, values=values)


def _table(data: dict[str, Any], key: str, bad: Any) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        bad(key, "must be a table")
    return value


def _scalar(value: Any, key: str, bad: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    bad(key, "must be a string or a number")
    raise AssertionError  # bad raises
