"""Find and load rule packs: the built-in ones shipped as `auditlog.queries`, and user
directories given with --rules-dir. A pack is a directory of `<rule_id>.sql` files, each
with a `<rule_id>.toml` of metadata and optionally `cases/<rule_id>.toml`.

Loading checks every rule and collects every problem, so `rules validate` can report
all broken rules in one pass, each with its file. The built-in rules' SQL is checked by
the test suite (tests/test_rules_lint.py loads them with check_builtin=True), not on
every load: they are package data no user edits, and parsing them cost every command
that lists or runs rules ~0.5 s, sqlglot's import included (issue 14). Their metadata
is still checked, and what they read comes from the same parse, remembered across
processes by the SQL's text (units.reads_or_nothing).

A rule's `requires` (the kinds of log it reads) is derived from its SQL: the tables it
names and, through the shared views and controls it reads, the tables those read
(units.py). The shipped metadata no longer states it. A user rule may still state it,
as documentation or as a check of the author's intent: it is accepted only when it names
exactly the kinds the SQL reads (in any order), and refused otherwise, naming its .toml,
because a run's caveats (what is missing or has a gap) are worked out from `requires`
and a stale list would hide or invent them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from auditlog.errors import RuleError
from auditlog.pack.model import Rule, known_kinds
from auditlog.pack.names import unknown_name
from auditlog.pack.severity import SEVERITIES
from auditlog.pack.units import UNIT_DIRS, kinds_in_order, raw_tables

BUILTIN_PACKAGE = "auditlog.queries"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED_TEXT = ("title", "description", "rationale", "investigate")


@dataclass
class LoadResult:
    rules: list[Rule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


def builtin_root() -> Traversable:
    return files(BUILTIN_PACKAGE)


def pack_dirs(root: Traversable) -> list[Traversable]:
    """The packs under a root: subdirectories holding at least one .sql file."""
    dirs = [d for d in root.iterdir() if d.is_dir() and d.name not in UNIT_DIRS]
    dirs = [d for d in dirs if not d.name.startswith(("_", "."))]
    return sorted((d for d in dirs if any(f.name.endswith(".sql") for f in d.iterdir())),
                  key=lambda d: d.name)


def load_all(rules_dirs: Iterable[Path] = (), *, builtin: bool = True,
             check_builtin: bool = False) -> LoadResult:
    """Every rule of the built-in packs (unless builtin=False) and of the user dirs; the
    SQL of the user dirs' rules is checked, the built-ins' only with check_builtin."""
    roots: list[tuple[Traversable, bool]] = [(builtin_root(), check_builtin)] if builtin else []
    for d in rules_dirs:
        if not d.is_dir():
            raise RuleError(f"rules directory {d} does not exist")
        # A user dir is either one pack (holds .sql files) or a root of packs.
        roots.append((d, True))
    result = LoadResult()
    seen: dict[str, str] = {}
    for root, checked in roots:
        packs = pack_dirs(root)
        if not packs and any(f.name.endswith(".sql") for f in root.iterdir()):
            packs = [root]
        for pack in packs:
            load_pack(pack, result, seen, checked=checked)
    return result


def load_rules(rules_dirs: Iterable[Path] = (), *, builtin: bool = True) -> list[Rule]:
    """Like load_all, but the first broken rule is an error."""
    result = load_all(rules_dirs, builtin=builtin)
    if result.errors:
        raise result.errors[0]
    return result.rules


def select_rules(rules_dirs: Iterable[Path], packs: Sequence[str] | str | None,
                 ids: Sequence[str] | str | None) -> list[Rule]:
    """The built-in and `rules_dirs` rules, narrowed to `packs` and rule `ids`; an unknown
    pack or id is a usage error listing the valid ones."""
    selected = load_rules(rules_dirs)
    for wanted, attr in ((packs, "pack"), (ids, "id")):
        names = [wanted] if isinstance(wanted, str) else list(wanted or [])
        if names:
            known = sorted({getattr(r, attr) for r in selected})
            unknown = [w for w in names if w not in known]
            if unknown:  # a typo gets the nearest names, not the whole list
                raise unknown_name("rule" if attr == "id" else attr, unknown[0], known,
                                   see="auditlog rules list")
            selected = [r for r in selected if getattr(r, attr) in names]
    return selected


def load_pack(pack: Traversable, result: LoadResult, seen: dict[str, str], *,
              checked: bool = True) -> None:
    for sql_file in sorted((f for f in pack.iterdir() if f.name.endswith(".sql")),
                           key=lambda f: f.name):
        try:
            rule = load_rule(pack, sql_file, checked=checked)
        except RuleError as exc:
            result.errors.append(exc)
            continue
        if rule.id in seen:
            result.errors.append(RuleError(
                f"rule id '{rule.id}' is already defined by {seen[rule.id]}", source=rule.source))
            continue
        seen[rule.id] = rule.source
        result.rules.append(rule)


def load_rule(pack: Traversable, sql_file: Traversable, *, checked: bool = True) -> Rule:
    source = str(sql_file)
    rule_id = sql_file.name.removesuffix(".sql")
    meta_file = pack / f"{rule_id}.toml"
    if not meta_file.is_file():
        raise RuleError(f"missing metadata file {rule_id}.toml next to it", source=source)
    try:
        meta = tomllib.loads(meta_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"invalid TOML: {exc}", source=str(meta_file)) from None
    sql = sql_file.read_text(encoding="utf-8")
    sql_problems = check_sql(sql, meta.get("params") or {}) if checked else []
    requires = kinds_in_order(raw_tables(sql))
    problems = check_metadata(rule_id, meta) + sql_problems
    if not sql_problems:  # what SQL that does not parse reads is unknown: lint says so
        problems += check_requires(meta, requires)
    if problems:
        raise RuleError("; ".join(problems), source=str(meta_file) if any(
            not p.startswith("SQL") for p in problems) else source)
    cases = pack / "cases" / f"{rule_id}.toml"
    return Rule(
        id=rule_id, pack=pack.name, title=meta["title"], severity=meta["severity"],
        description=meta["description"].strip(), rationale=meta["rationale"].strip(),
        investigate=meta["investigate"].strip(), sql=sql, source=source,
        tags=tuple(meta.get("tags", ())), requires=requires,
        params=dict(meta.get("params") or {}),
        cases_source=str(cases) if cases.is_file() else None,
        sigma=dict(meta["sigma"]) if isinstance(meta.get("sigma"), dict) else {},
    )


def check_metadata(rule_id: str, meta: dict[str, Any]) -> list[str]:
    problems = []
    if not ID_PATTERN.match(rule_id):
        problems.append(f"rule id '{rule_id}' must be lower_snake_case")
    if meta.get("id", rule_id) != rule_id:
        problems.append(f"id '{meta.get('id')}' does not match the file name '{rule_id}'")
    for key in REQUIRED_TEXT:
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            problems.append(f"'{key}' is required (a non-empty string)")
    if meta.get("severity") not in SEVERITIES:
        problems.append(
            f"severity {meta.get('severity')!r} is not one of: {', '.join(SEVERITIES)}")
    requires = meta.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(k, str) for k in requires):
        problems.append("'requires' must be a list of kind names")
    elif unknown := [k for k in requires if k not in known_kinds()]:
        problems.append(f"requires unknown kinds {unknown}; use: {', '.join(known_kinds())}")
    params = meta.get("params") or {}
    if not isinstance(params, dict):
        problems.append("'params' must be a table of name = default")
    elif bad := [n for n, v in params.items() if not isinstance(v, int | float | str | bool)]:
        problems.append(f"params {bad} need a number, string or boolean default")
    if not all(isinstance(t, str) for t in meta.get("tags", ())):
        problems.append("'tags' must be a list of strings")
    return problems


def check_requires(meta: dict[str, Any], derived: tuple[str, ...]) -> list[str]:
    """A stated `requires` must be what the SQL reads (see the module's docstring)."""
    stated = meta.get("requires")
    if not isinstance(stated, list) or not all(k in known_kinds() for k in stated):
        return []  # absent, or not a list of kinds, which check_metadata reports
    if set(stated) == set(derived):
        return []
    return [(f"requires {sorted(stated)} but its SQL reads {list(derived) or 'no kind'}; "
             "'requires' is derived from the SQL, drop the line or make it match")]


def check_sql(sql: str, params: dict[str, Any]) -> list[str]:
    """The SQL uses exactly the declared parameters and stays in the portable subset."""
    # On the parsed tree, never the text: a quote or a '--' inside a string must not hide
    # a call or a parameter from the checks.
    from auditlog.pack.lint import is_empty, lint_sql, parameters

    used = parameters(sql)
    problems = [f"SQL uses ${n} which is not declared in params"
                for n in sorted(used - set(params))]
    problems += [f"SQL never uses declared param '{n}'" for n in sorted(set(params) - used)]
    problems += [f"SQL is not portable: {p}" for p in lint_sql(sql)]
    if is_empty(sql):
        problems.append("SQL file is empty")
    return problems
