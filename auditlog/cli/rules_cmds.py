"""`auditlog rules`: list, show, validate and test the rule packs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditlog.cli.common import (
    DEFAULT_ENGINE,
    Engine,
    FormatOption,
    OutputFormat,
    RuleOption,
    RulesDirOption,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.cli.render import render_rows
from auditlog.textsafe import terminal

if TYPE_CHECKING:
    from auditlog.pack.model import Rule

rules_app = typer.Typer(help="List, show, validate and test rule packs.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


def rule_row(rule: Rule) -> dict[str, Any]:
    """A rule as `rules list --format json` shows it."""
    return {"id": rule.id, "pack": rule.pack, "severity": rule.severity, "title": rule.title,
            "requires": list(rule.requires), "tags": list(rule.tags)}


@rules_app.command("list")
def rules_list(rules_dir: RulesDirOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Every rule with its pack, severity and title."""
    rows = [rule_row(r) for r in investigation(None, rules_dirs=rules_dir).list_rules()]
    if output is OutputFormat.json:
        print_json(rows)
    else:
        render_rows(rows, ("pack", "id", "severity", "title"), "Rules")


@rules_app.command("show")
def rules_show(rule_id: Annotated[str, typer.Argument(help="The rule's id.")],
               rules_dir: RulesDirOption = None,
               engine: Annotated[Engine, typer.Option(
                   "--engine", help="spark: print the rule's Spark SQL translation.")
               ] = DEFAULT_ENGINE) -> None:
    """A rule's metadata, parameters and SQL."""
    inv = investigation(None, engine=engine, rules_dirs=rules_dir)
    if engine is not DEFAULT_ENGINE:  # the SQL that engine runs, as it runs it
        console.print(inv.rule_sql(rule_id), soft_wrap=True)
        return
    rule = inv.rule(rule_id)
    # A rule file is user input like a log: its texts are pieces of a Text, never markup.
    console.print(terminal((rule.id, "bold"), f" ({rule.pack}, {rule.severity}): {rule.title}"))
    console.print()
    for label, text in (("What", rule.description), ("Why", rule.rationale),
                        ("Investigate", rule.investigate)):
        console.print(terminal((f"{label}:", "bold"), f" {text}"))
    console.print(terminal(("Tags:", "bold"), f" {', '.join(rule.tags)}  ",
                           ("Needs:", "bold"), f" {', '.join(rule.requires)}"))
    console.print(terminal(("Params:", "bold"), f" {rule.params or '-'}"))
    console.print(terminal(("File:", "bold"), f" {rule.source}"))
    if rule.sigma:  # imported by rules import-sigma: what the Sigma rule says of itself
        sigma = rule.sigma
        console.print(terminal(("Sigma:", "bold"), f" {sigma.get('id')} ({sigma.get('status')}, "
                               f"level {sigma.get('level')}) from {sigma.get('file')}, "
                               f"SHA-256 {sigma.get('sha256')}"))
        for ref in sigma.get("references", []):
            console.print(terminal(("Reference:", "bold"), f" {ref}"))
    console.print()
    console.print(rule.sql)


@rules_app.command("validate")
def rules_validate(rules_dir: RulesDirOption = None) -> None:
    """Check every rule's metadata and SQL; report all broken rules at once."""
    checks = investigation(None, rules_dirs=rules_dir).validate_rules()
    for error in checks.errors:
        console.print(terminal(("broken", "red"), f" {error}"))
    console.print(f"{len(checks.valid)} rules valid, {len(checks.errors)} problems")
    if checks.errors:
        raise typer.Exit(2)


@rules_app.command("import-sigma")
def rules_import_sigma(
    paths: Annotated[list[Path], typer.Argument(help="Sigma rule files or folders.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the rule packs to "
                                      "(one sub-directory per logsource).")],
    output: FormatOption = OutputFormat.table,
) -> None:
    """Convert Sigma rules into rule packs that 'run --rules-dir' runs; exits 2 when none
    could be converted."""
    result = investigation(None).import_sigma(paths, out)
    if output is OutputFormat.json:
        print_json(result.as_json())
    else:
        for refused in result.refused:
            console.print(terminal(("refused", "yellow"),
                                   f" {refused.source}: {refused.reason}"))
        packs = sorted({c.pack for c in result.converted})
        console.print(f"{len(result.converted)} rules converted into {out}"
                      + (f" ({', '.join(packs)})" if packs else "")
                      + f", {len(result.refused)} refused")
    if not result.converted:
        raise typer.Exit(2)


@rules_app.command("test")
def rules_test(
    rule: RuleOption = None,
    rules_dir: RulesDirOption = None,
    builtin: Annotated[bool, typer.Option(help="Include the built-in packs.")] = True,
) -> None:
    """Run every rule's fire and quiet cases."""
    results = investigation(None, rules_dirs=rules_dir).test_rules(rule or (), builtin=builtin)
    for res in results:
        mark = ("pass", "green") if res.passed else ("FAIL", "red")
        console.print(terminal(mark, f" {res.case.label}"
                               + (f": {res.message}" if res.message else "")))
    failed = sum(not r.passed for r in results)
    console.print(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
