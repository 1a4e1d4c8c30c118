"""`import_sigma`: Sigma rule files in, auditlog rule files out.

For each Sigma rule of a logsource auditlog reads (logsources.py), `DIR/<pack>/` gets
`<rule_id>.sql` (sql.py or correlation.py), `<rule_id>.toml` (its metadata: Sigma's
title, level as severity, tags, and a [sigma] table with the id, status, author,
references, false positives and the source file's SHA-256), `<rule_id>.yml` (the Sigma
file as it was, for provenance) and `cases/<rule_id>.toml` (a matching and a
non-matching event from synth.py, as records of the source, so `rules test` runs them
through the real ingest). A rule that cannot be converted is refused with one sentence
of why and nothing is written for it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlog.errors import UsageError
from auditlog.pack.loader import check_sql
from auditlog.pack.sigma.logsources import LogSource

SEVERITY = {"informational": "info", "low": "low", "medium": "medium", "high": "high",
            "critical": "critical"}
INSTALL_HINT = "install it with pip install 'auditlog[sigma]'"


@dataclass(frozen=True)
class Converted:
    rule_id: str
    pack: str
    title: str
    source: str  # the Sigma file
    sql_file: str


@dataclass(frozen=True)
class Refused:
    source: str
    title: str
    reason: str


@dataclass
class ImportResult:
    converted: list[Converted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"converted": [c.__dict__ for c in self.converted],
                "refused": [r.__dict__ for r in self.refused]}


def require_pysigma() -> None:
    try:
        import sigma  # noqa: F401
    except ImportError:
        raise UsageError(f"importing Sigma rules needs pySigma, which is not installed; "
                         f"{INSTALL_HINT}") from None


def sigma_files(paths: Sequence[Path]) -> list[Path]:
    """The .yml/.yaml files of `paths` (folders searched recursively), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")
                            and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path} does not exist")
    return found


def rule_id_of(path: Path) -> str:
    """The auditlog rule id of a Sigma file: its stem, lower_snake_case."""
    stem = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_")
    return stem if stem[:1].isalpha() else f"sigma_{stem}"


def import_sigma(paths: Sequence[Path], out: Path) -> ImportResult:
    """Convert the Sigma rules of `paths` into rule packs under `out`."""
    require_pysigma()
    from auditlog.pack.sigma.build import build_rules

    files = sigma_files(paths)
    if not files:
        raise UsageError(f"no Sigma rule files (.yml, .yaml) in {', '.join(map(str, paths))}")
    result = ImportResult()
    for built in build_rules(files):
        if isinstance(built, Refused):
            result.refused.append(built)
            continue
        result.converted.append(write_rule(built, out))
    return result


@dataclass(frozen=True)
class BuiltRule:
    """One converted rule, ready to be written."""

    rule_id: str
    source: LogSource
    path: Path
    title: str
    sql: str
    meta: dict[str, Any]
    cases: list[dict[str, Any]]


def check_built(rule_id: str, sql: str) -> str | None:
    """The lint's first problem with the generated SQL, or None."""
    problems = check_sql(sql, {})
    return problems[0] if problems else None


def write_rule(rule: BuiltRule, out: Path) -> Converted:
    pack = out / rule.source.pack
    (pack / "cases").mkdir(parents=True, exist_ok=True)
    sql_file = pack / f"{rule.rule_id}.sql"
    sql_file.write_text(rule.sql, encoding="utf-8")
    (pack / f"{rule.rule_id}.toml").write_text(toml_document(rule.meta), encoding="utf-8")
    (pack / f"{rule.rule_id}.yml").write_bytes(rule.path.read_bytes())
    (pack / "cases" / f"{rule.rule_id}.toml").write_text(
        cases_document(rule.cases), encoding="utf-8")
    return Converted(rule.rule_id, rule.source.pack, rule.title, str(rule.path), str(sql_file))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def metadata(rule: Any, rule_id: str, path: Path, source: LogSource,
             kind: str = "detection") -> dict[str, Any]:
    """The .toml of a converted rule, from the Sigma rule's own fields."""
    level = rule.level.name.lower() if rule.level is not None else "medium"
    tags = [str(t) for t in rule.tags]
    falsepositives = [str(f) for f in rule.falsepositives or []]
    references = [str(r) for r in rule.references or []]
    description = " ".join((rule.description or rule.title).split())  # one paragraph
    sigma = {
        "id": str(rule.id) if rule.id else "", "title": rule.title, "level": level,
        "status": rule.status.name.lower() if rule.status is not None else "",
        "author": rule.author or "", "date": str(rule.date or ""),
        "modified": str(rule.modified or ""), "tags": tags, "references": references,
        "falsepositives": falsepositives, "logsource": f"{source.product}/{source.service}",
        "type": kind, "file": path.name, "sha256": sha256_of(path),
    }
    return {
        "title": rule.title, "severity": SEVERITY.get(level, "medium"),
        "description": description,
        "rationale": (f"Sigma rule {sigma['id'] or path.name} "
                      f"({sigma['status'] or 'no status'}), by "
                      f"{sigma['author'] or 'an unnamed author'}; converted from {path.name} "
                      f"(SHA-256 {sigma['sha256'][:12]}...)."),
        "investigate": ("Known false positives: " + "; ".join(falsepositives)
                        if falsepositives else "Check the evidence event's source record."),
        "tags": tags, "sigma": sigma,
    }


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if "'" not in value and value.isprintable():
            return f"'{value}'"  # a literal string: a record's JSON reads as it is
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_document(meta: dict[str, Any]) -> str:
    lines = [f"{k} = {toml_value(v)}" for k, v in meta.items() if not isinstance(v, dict)]
    for key, table in meta.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def cases_document(cases: Iterable[dict[str, Any]]) -> str:
    blocks = []
    for case in cases:
        blocks.append("[[case]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in case.items()))
    return ("# Built from the rule's own detection by 'auditlog rules import-sigma': the event\n"
            "# it describes and the same event with one tested field changed.\n\n"
            + "\n".join(blocks))
