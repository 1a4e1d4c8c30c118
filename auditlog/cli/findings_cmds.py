"""`auditlog findings`: the stored findings, filtered; `findings triage` sets one's
status."""

from __future__ import annotations

from typing import Annotated

import typer

from auditlog.cli.common import (
    ChangeOption,
    DbOption,
    RuleOption,
    Severity,
    SinceOption,
    TableFormat,
    TableFormatOption,
    UntilOption,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.cli.render import render_rows, write_csv

findings_app = typer.Typer(help="List stored findings, or triage one.", no_args_is_help=False)
app.add_typer(findings_app, name="findings")

SeverityOption = Annotated[
    Severity | None, typer.Option("--severity", help="At least this severe.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Only findings about this account.")]
StatusOption = Annotated[
    str | None, typer.Option("--status", help="open, acknowledged, false_positive, resolved.")]


@findings_app.callback(invoke_without_command=True)
def findings(
    ctx: typer.Context,
    rule: RuleOption = None,
    severity: SeverityOption = None,
    actor: ActorOption = None,
    change: ChangeOption = None,
    status: StatusOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    db: DbOption = None,
    output: TableFormatOption = TableFormat.table,
) -> None:
    """List the findings stored by the last runs, most severe first."""
    if ctx.invoked_subcommand is not None:
        return
    from auditlog.analysis.findings import findings_records

    frame = investigation(db).findings(
        rules=rule or (), severity=severity.value if severity else None, actor=actor,
        change_id=change, status=status, since=since, until=until)
    rows = findings_records(frame)
    if output is TableFormat.json:
        print_json(rows)
    elif output is TableFormat.csv:
        write_csv(rows)
    else:
        render_rows(rows, ("finding_id", "severity", "rule_id", "ts", "actor", "account",
                           "change_id", "amount", "status"), "Findings")


@findings_app.command("triage")
def findings_triage(
    finding_id: Annotated[str, typer.Argument(help="The finding's id (F-...).")],
    status: Annotated[
        str, typer.Option("--status", help="open, acknowledged, false_positive or resolved.")],
    note: Annotated[str | None, typer.Option("--note", help="Why; kept across runs.")] = None,
    db: DbOption = None,
) -> None:
    """Set a finding's status and note; later runs keep them."""
    investigation(db).triage(finding_id, status, note)
    console.print(f"{finding_id}: {status}")
