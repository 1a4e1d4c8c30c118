"""`auditlog run`: run the rule packs on the loaded logs and store their findings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditlog.cli.common import (
    DEFAULT_ENGINE,
    DbOption,
    Engine,
    FormatOption,
    OutputFormat,
    ProgressBar,
    RuleOption,
    RulesDirOption,
    Severity,
    SinceOption,
    UntilOption,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.engines.bounds import DEFAULT_BOUNDS
from auditlog.errors import UsageError

PackOption = Annotated[
    list[str] | None, typer.Option("--pack", help="Only this pack (repeatable).")]
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", help="name=value for a rule parameter.")]
FailOnOption = Annotated[
    Severity | None,
    typer.Option("--fail-on", help="Exit 1 if a finding at or above this severity exists.")]
EngineOption = Annotated[
    Engine, typer.Option("--engine", help="duckdb (embedded) or spark (pip install "
                         "'auditlog\\[spark]').")]
LakeOption = Annotated[
    Path | None, typer.Option("--lake", help="Spark: the Parquet lake to read "
                              "(default: the database exported to a temporary lake).")]
MasterOption = Annotated[
    str | None, typer.Option("--master", help="Spark master URL (default local[2]).")]
RuleTimeoutOption = Annotated[
    float | None, typer.Option("--rule-timeout", metavar="SECONDS", help=(
        f"Stop a rule after this long (default {DEFAULT_BOUNDS.timeout:g}); nothing is stored."))]
RuleMemoryOption = Annotated[
    str | None, typer.Option("--rule-memory", metavar="SIZE", help=(
        f"DuckDB memory for the rules, e.g. 2GB (default {DEFAULT_BOUNDS.memory}); "
        "above it they spill to disk."))]
RuleSpillOption = Annotated[
    str | None, typer.Option("--rule-spill", metavar="SIZE", help=(
        f"Disk the rules may spill to (default {DEFAULT_BOUNDS.spill})."))]


def parse_params(items: list[str] | None) -> dict[str, str]:
    params = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param '{item}' must look like name=value")
        params[name.strip()] = value
    return params


@app.command()
def run(
    pack: PackOption = None,
    rule: RuleOption = None,
    param: ParamOption = None,
    fail_on: FailOnOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    rules_dir: RulesDirOption = None,
    engine: EngineOption = DEFAULT_ENGINE,
    lake: LakeOption = None,
    master: MasterOption = None,
    rule_timeout: RuleTimeoutOption = None,
    rule_memory: RuleMemoryOption = None,
    rule_spill: RuleSpillOption = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Run rule packs on the loaded logs and store their findings."""
    inv = investigation(db, engine=engine, master=master, lake=lake, rules_dirs=rules_dir)
    with ProgressBar("rules", enabled=output is OutputFormat.table) as bar:
        report = inv.run(packs=pack or (), rules=rule or (), params=parse_params(param),
                         since=since, until=until, rule_timeout=rule_timeout,
                         rule_memory=rule_memory, rule_spill=rule_spill, progress=bar.steps)
    if output is OutputFormat.json:
        print_json(report.as_dict())
    else:
        counts = ", ".join(f"{n} {s}" for s, n in report.by_severity.items() if n) or "none"
        console.print(f"run {report.run_id}: {report.rules} rules, {report.findings} findings "
                      f"({counts}); {len(report.new)} new, {len(report.disappeared)} disappeared")
    if fail_on is not None and report.worst_at_least(fail_on.value):
        raise typer.Exit(1)
