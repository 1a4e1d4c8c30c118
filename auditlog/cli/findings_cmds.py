"""`auditlog findings`: the stored findings for a person (failed controls, a summary
per rule, the most severe with whole ids) or a program (json, csv); `findings show`
gives one in full; `findings triage` sets the status of one or of many."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditlog.cli.common import (
    ChangeOption,
    DbOption,
    FormatOption,
    OutputFormat,
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
from auditlog.cli.display import Clock, TzOption
from auditlog.cli.findings_render import COLUMNS, render_detail, render_list, render_overview
from auditlog.cli.render import write_csv
from auditlog.errors import UsageError
from auditlog.report import formatting as fmt

if TYPE_CHECKING:
    from auditlog.analysis.finding_views import FindingDetail

# Findings listed by default after the summary: with it, the sample incident's screen
# stays within 120 lines.
DEFAULT_LIMIT = 20
# Ids a dry run of a bulk triage names, so the selection can be checked by eye.
DRY_RUN_SHOWN = 10

# Its help is the callback's docstring (`findings` alone lists them).
findings_app = typer.Typer(no_args_is_help=False)
app.add_typer(findings_app, name="findings")

SeverityOption = Annotated[
    Severity | None, typer.Option("--severity", help="At least this severe.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Only findings about this account.")]
StatusOption = Annotated[
    str | None, typer.Option("--status", help="open, acknowledged, false_positive, resolved.")]


LimitOption = Annotated[int | None, typer.Option(
    "--limit", min=0, metavar="N",
    help=f"List N findings (default {DEFAULT_LIMIT} in the table; all in json and csv).")]
AllOption = Annotated[bool, typer.Option("--all", help="List every finding.")]
ColumnsOption = Annotated[str | None, typer.Option(
    "--columns", metavar="A,B",
    help="Only these columns, as a plain list (table and csv): "
         f"{', '.join(COLUMNS)}.")]
SortOption = Annotated[str, typer.Option(
    "--sort", metavar="KEY", help="severity, time, amount, rule or id.")]


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
    limit: LimitOption = None,
    all_: AllOption = False,
    columns: ColumnsOption = None,
    sort: SortOption = "severity",
    tz: TzOption = None,
    db: DbOption = None,
    output: TableFormatOption = TableFormat.table,
) -> None:
    """The findings of the last runs: the failed controls, a summary per rule, then the
    most severe findings with their whole ids (json and csv: every one).

    Before any run, or for a rule that was never run, it says so and exits 2: nothing
    checked is not the same as nothing found."""
    if ctx.invoked_subcommand is not None:
        return
    from auditlog.analysis.findings import PUBLIC_COLUMNS, findings_records

    chosen = parse_columns(columns)
    overview = investigation(db).findings_overview(
        rules=rule or (), severity=severity.value if severity else None, actor=actor,
        change_id=change, status=status, since=since, until=until, sort=sort)
    frame = overview.findings
    if output is not TableFormat.table:
        rows = findings_records(frame.select(PUBLIC_COLUMNS).head(
            frame.height if limit is None or all_ else limit))
        if output is TableFormat.json:
            print_json(rows)
        else:
            write_csv([{c: row.get(c) for c in chosen} for row in rows] if chosen else rows)
        return
    shown = None if all_ else DEFAULT_LIMIT if limit is None else limit
    if chosen:
        rows = frame.to_dicts()
        render_list(rows if shown is None else rows[:shown], chosen, len(rows),
                    Clock.named(tz))
    else:
        render_overview(overview, limit=shown, sort=sort, clock=Clock.named(tz))


def parse_columns(text: str | None) -> list[str]:
    """--columns a,b as a list of known columns; a typo gets the nearest names."""
    if text is None:
        return []
    from auditlog.pack.names import unknown_name

    names = [c.strip() for c in text.split(",") if c.strip()]
    for name in names:
        if name not in COLUMNS:
            raise unknown_name("column", name, COLUMNS)
    return names


@findings_app.command("show")
def findings_show(
    finding_id: Annotated[str, typer.Argument(
        help="The finding's id (F-...), or the start of it if only one id starts so.")],
    all_: Annotated[bool, typer.Option("--all", help="Every evidence row.")] = False,
    tz: TzOption = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Everything about one finding: its rule, why it matters, how to investigate it,
    its evidence rows, the change and account it names, its triage history."""
    from auditlog.values import as_json

    detail = investigation(db).finding(finding_id)
    if output is OutputFormat.json:
        print_json(as_json(detail_document(detail)))
    else:
        render_detail(detail, all_evidence=all_, clock=Clock.named(tz))


def detail_document(detail: FindingDetail) -> dict[str, Any]:
    """`findings show --format json`: the finding as `findings` writes it, with its
    currency, its rule's words, the evidence rows and the triage history."""
    import polars as pl

    from auditlog.analysis.findings import PUBLIC_COLUMNS, findings_records

    finding = detail.finding
    (record,) = findings_records(pl.DataFrame([{c: finding[c] for c in PUBLIC_COLUMNS}]))
    rule = detail.rule
    return {**record, "currency": finding.get("currency"),
            "by_currency": finding.get("by_currency"),
            "rule": None if rule is None else {
                "id": rule.id, "pack": rule.pack, "description": rule.description,
                "rationale": rule.rationale, "investigate": rule.investigate},
            "evidence_rows": [{"kind": r.kind, "id": r.id, **r.fields} for r in detail.evidence],
            "unmatched_evidence": list(detail.unmatched),
            "sigma": detail.sigma, "rule_source": detail.rule_source,
            "triage_history": list(detail.history)}


@findings_app.command("triage")
def findings_triage(
    status: Annotated[
        str, typer.Option("--status", help="open, acknowledged, false_positive or resolved.")],
    finding_id: Annotated[str | None, typer.Argument(
        help="The finding's id (F-...) or a unique start of it; without it, every "
             "finding the filters select.", show_default=False)] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why; kept across runs.")] = None,
    rule: RuleOption = None,
    severity: SeverityOption = None,
    actor: ActorOption = None,
    change: ChangeOption = None,
    from_status: Annotated[str | None, typer.Option(
        "--from-status", help="Only findings of this status now.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only count what would be set; change nothing.")] = False,
    by: Annotated[str | None, typer.Option(
        "--by", envvar="AUDITLOG_USER", help="Who decides (default: your login name).",
        show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Set the status and note of one finding, or of every finding the filters select
    (--rule, --severity, ...); each decision is kept with who made it and when."""
    filters = (rule, severity, actor, change, from_status, since, until)
    inv = investigation(db)
    if finding_id is not None:
        if any(f for f in filters) or dry_run:
            raise UsageError("give a finding id or filters (--rule, --severity, ...), "
                             "not both")
        result = inv.triage(finding_id, status, note, by=by)
    else:
        result = inv.triage_many(status, note, rules=rule or (),
                                 severity=severity.value if severity else None,
                                 actor=actor, change_id=change, from_status=from_status,
                                 since=since, until=until, by=by, dry_run=dry_run)
    count = len(result.finding_ids)
    if finding_id is not None:
        console.print(f"{result.finding_ids[0]}: {status} (by {result.by})")
    elif dry_run:
        console.print(f"would set {count:,} finding(s) to {status}; nothing changed "
                      "(--dry-run)")
        for shown in result.finding_ids[:DRY_RUN_SHOWN]:
            console.print(f"  {shown}")
        if count > DRY_RUN_SHOWN:
            console.print(f"  ... and {count - DRY_RUN_SHOWN:,} more")
    else:
        console.print(f"set {count:,} finding(s) to {status}, by {result.by} at "
                      f"{fmt.when(result.at)}")
