"""Commands over the rule packs and what they find: run, findings, remediation, trace,
rules. Each opens the database, calls the library, renders; errors are the library's."""

from __future__ import annotations

import csv
import enum
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from auditlog import store
from auditlog.analysis.attribution import trace_account, trace_change, trace_charge
from auditlog.analysis.caveats import NEEDS, answer_caveats, charge_caveats
from auditlog.analysis.findings import (
    FindingFilter,
    RuleEngine,
    findings_records,
    list_findings,
    run_packs,
    triage,
)
from auditlog.analysis.refunds import CUSTOMER_COLUMNS, refund_records, refund_report
from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    err_console,
    print_json,
    warn,
)
from auditlog.cli.forget_cmds import warn_stale_findings
from auditlog.engines.bounds import DEFAULT_BOUNDS, RuleBounds
from auditlog.engines.cases import run_all_cases
from auditlog.engines.validate import validate
from auditlog.errors import UsageError
from auditlog.export.manifest import document_time
from auditlog.export.safety import cell_text, safe_cell_text
from auditlog.export.workbook import write_workbook
from auditlog.export.writers import CSV_LINE_END, write_csv_rows
from auditlog.ingest.forget import stale_findings
from auditlog.pack import SEVERITIES, load_rules
from auditlog.pack.loader import select_rules
from auditlog.report import formatting as fmt
from auditlog.textsafe import terminal, visible

findings_app = typer.Typer(help="List stored findings, or triage one.", no_args_is_help=False)
trace_app = typer.Typer(help="Trace a charge, a change or an account.", no_args_is_help=True)
rules_app = typer.Typer(help="List, show, validate and test rule packs.", no_args_is_help=True)
app.add_typer(findings_app, name="findings")
app.add_typer(trace_app, name="trace")
app.add_typer(rules_app, name="rules")


class TableFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


Severity = enum.Enum("Severity", {s: s for s in SEVERITIES}, type=str)  # type: ignore[misc]
TableFormatOption = Annotated[
    TableFormat, typer.Option("--format", "-f", help="table for people; json or csv for programs.")
]
RulesDirOption = Annotated[
    list[Path] | None,
    typer.Option("--rules-dir", help="Extra rule pack directory (repeatable)."),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="ISO 8601 time (UTC if no offset).")]
UntilOption = Annotated[str | None, typer.Option("--until", help="ISO 8601 time, exclusive.")]
PackOption = Annotated[
    list[str] | None, typer.Option("--pack", help="Only this pack (repeatable).")]
RuleOption = Annotated[
    list[str] | None, typer.Option("--rule", help="Only this rule (repeatable).")]
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", help="name=value for a rule parameter.")]
FailOnOption = Annotated[
    Severity | None,
    typer.Option("--fail-on", help="Exit 1 if a finding at or above this severity exists.")]
SeverityOption = Annotated[
    Severity | None, typer.Option("--severity", help="At least this severe.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Only findings about this account.")]
ChangeOption = Annotated[
    str | None, typer.Option("--change", help="Only those naming this change.")]
StatusOption = Annotated[
    str | None, typer.Option("--status", help="open, acknowledged, false_positive, resolved.")]


def parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} '{text}' is not an ISO 8601 time, "
                         "e.g. 2026-03-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_params(items: list[str] | None) -> dict[str, str]:
    params = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param '{item}' must look like name=value")
        params[name.strip()] = value
    return params


def write_csv(rows: list[dict[str, Any]]) -> None:
    """Rows as CSV on stdout; text a spreadsheet would run as a formula is neutralized.
    Piped, the values are exact; on a terminal (like `ls`) control characters are written
    out as \\x1b, so a log field cannot send the terminal an escape sequence."""
    if not rows:
        return
    shown = visible if sys.stdout.isatty() else str
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator=CSV_LINE_END)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: shown(safe_cell_text(v)) for k, v in row.items()})


def render_rows(rows: list[dict[str, Any]], columns: tuple[str, ...], title: str) -> None:
    table = Table(title=f"{title} ({len(rows)})", title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column == "amount" else "left")
    for row in rows:
        table.add_row(*(cell_text(row.get(c)) for c in columns))
    console.print(table)


class Engine(str, enum.Enum):
    duckdb = "duckdb"
    spark = "spark"


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


def engine_runner(engine: Engine, db_path: Path, lake: Path | None,
                  master: str | None, bounds: RuleBounds) -> RuleEngine | None:
    """None for DuckDB (run_packs' default), else the Spark engine."""
    if engine is Engine.duckdb:
        if lake is not None or master is not None:
            raise UsageError("--lake and --master go with --engine spark")
        return None
    from auditlog.engines.spark import DEFAULT_MASTER, SparkRunner

    return SparkRunner(db_path, lake, master or DEFAULT_MASTER, timeout=bounds.timeout)


@app.command()
def run(
    pack: PackOption = None,
    rule: RuleOption = None,
    param: ParamOption = None,
    fail_on: FailOnOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    rules_dir: RulesDirOption = None,
    engine: EngineOption = Engine.duckdb,
    lake: LakeOption = None,
    master: MasterOption = None,
    rule_timeout: RuleTimeoutOption = None,
    rule_memory: RuleMemoryOption = None,
    rule_spill: RuleSpillOption = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Run rule packs on the loaded logs and store their findings."""
    if engine is Engine.spark and (rule_memory or rule_spill):
        raise UsageError("--rule-memory and --rule-spill bound DuckDB; Spark's memory is the "
                         "cluster's (spark.executor.memory)")
    bounds = RuleBounds.of(rule_timeout, rule_memory, rule_spill)
    rules = select_rules(rules_dir or [], pack, rule)
    db_path = db or store.default_db_path()
    report = run_packs(db_path, rules, parse_params(param), parse_time(since, "--since"),
                       parse_time(until, "--until"),
                       engine_runner(engine, db_path, lake, master, bounds), bounds=bounds)
    warn_run(db_path, {kind for r in rules for kind in r.requires},
             parse_time(since, "--since"), parse_time(until, "--until"))
    if output is OutputFormat.json:
        print_json(report.as_dict())
    else:
        counts = ", ".join(f"{n} {s}" for s, n in report.by_severity.items() if n) or "none"
        console.print(f"run {report.run_id}: {len(rules)} rules, {report.findings} findings "
                      f"({counts}); {len(report.new)} new, {len(report.disappeared)} disappeared")
    if fail_on is not None and report.worst_at_least(fail_on.value):
        raise typer.Exit(1)


def warn_run(db_path: Path, needs: set[str], since: datetime | None,
             until: datetime | None) -> None:
    """The run's caveats: what its rules require that is missing or has a gap."""
    con = store.connect(db_path, read_only=True)
    try:
        warn(answer_caveats(con, needs, since=since, until=until))
    finally:
        con.close()


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
    flt = FindingFilter(tuple(rule or ()), severity.value if severity else None, actor, change,
                        status, parse_time(since, "--since"), parse_time(until, "--until"))
    con = store.connect(db, read_only=True)
    rows = findings_records(list_findings(con, flt))
    stale = stale_findings(con)
    con.close()
    warn_stale_findings(stale)
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
    triage(db or store.default_db_path(), finding_id, status, note)
    console.print(f"{finding_id}: {status}")


class RemediationFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class RefundList(str, enum.Enum):
    charges = "charges"
    customers = "customers"
    refund_issues = "refund-issues"


REFUND_COLUMNS = {
    "charges": ("charge_id", "account", "product", "amount", "charged_at", "refunded",
                "outstanding", "change_id", "actor", "cause_time"),
    "customers": CUSTOMER_COLUMNS,
    "refund_issues": ("issue", "refund_id", "refund_of", "account", "amount", "detail"),
}


@app.command()
def remediation(
    change: ChangeOption = None,
    show: Annotated[RefundList, typer.Option(
        "--list", help="charges: every anomalous charge; customers: totals per customer; "
        "refund-issues: refunds that match no charge needing them.")] = RefundList.charges,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Workbook to write with --format xlsx (all three lists).")] = None,
    db: DbOption = None,
    output: Annotated[RemediationFormat, typer.Option(
        "--format", "-f", help="table for people; json or csv for programs; xlsx for billing.")
    ] = RemediationFormat.table,
) -> None:
    """Every anomalous charge with the change, account and time responsible, what is
    refunded and outstanding; totals per customer; and a check of every refund."""
    if (output is RemediationFormat.xlsx) != (out is not None):
        raise UsageError("--out FILE goes with --format xlsx, and xlsx needs it")
    con = store.connect(db, read_only=True)
    lists, created = refund_report(con, change), document_time(con)
    warn(answer_caveats(con, NEEDS["remediation"],
                        charges=lists["charges"].select("charge_id", "charged_at").iter_rows()))
    con.close()
    name = show.name
    if output is RemediationFormat.xlsx and out is not None:
        write_workbook(out, lists, created)
        console.print(f"wrote {out}: " + ", ".join(f"{f.height} {n}" for n, f in lists.items()))
    elif output is RemediationFormat.json:
        print_json(refund_records(lists[name]))
    elif output is RemediationFormat.csv:
        write_csv_rows(sys.stdout, lists[name])
    else:
        render_rows(refund_records(lists[name]), REFUND_COLUMNS[name], name.replace("_", " "))
        if name != "refund_issues" and lists["refund_issues"].height:
            err_console.print(f"{lists['refund_issues'].height} refund problems; "
                              "see --list refund-issues")


@trace_app.command("charge")
def trace_charge_cmd(
    charge_id: Annotated[str, typer.Argument(help="The charge's id.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Charge → causal action → privilege that allowed it → change."""
    con = store.connect(db, read_only=True)
    doc = trace_charge(con, charge_id)
    warn(charge_caveats(con, NEEDS["trace charge"], charge_id, doc["anomalous"]))
    con.close()
    if output is OutputFormat.json:
        print_json(doc)
        return
    who = doc["responsible"]
    tree = Tree(terminal((f"charge {charge_id}", "bold"), " ",
                         ("anomalous", "red") if doc["anomalous"] else ("authorized", "green"),
                         f": {who['actor']} at {who['time']}, change {who['change_id'] or '-'}"))
    for step in doc["chain"]:
        tree.add(step_text(step))
    tree.add(f"rules: {', '.join(doc['rules']) or '-'}")
    console.print(tree)


def step_text(step: dict[str, Any]) -> Text:
    details = ", ".join(f"{k}={v}" for k, v in step.items()
                        if k not in ("step", "id", "time") and v not in (None, [], ""))
    return terminal((str(step["step"]), "bold"),
                    f" {step.get('id')} at {step.get('time')}: {details}")


@trace_app.command("change")
def trace_change_cmd(
    change_id: Annotated[str, typer.Argument(help="The change's id.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The change, its approval and window, and what it cost customers."""
    con = store.connect(db, read_only=True)
    doc = trace_change(con, change_id)
    warn(answer_caveats(con, NEEDS["trace change"], change_id=change_id))
    con.close()
    if output is OutputFormat.json:
        print_json(doc)
        return
    tree = Tree(terminal((f"change {change_id}", "bold"), f" on {doc['system']} by "
                         f"{doc['implementer']} at {doc['started_at']}"))
    tree.add(f"approval: {doc['approval']}")
    tree.add(f"window: {doc['window']}")
    impact = tree.add("impact")
    for key, value in doc["impact"].items():
        if key not in MONEY_KEYS:
            impact.add(f"{key}: {cell_text(value)}")
    add_money(impact, doc["impact"]["by_currency"], ("amount", "refunded_amount",
                                                     "outstanding_amount"))
    tree.add(f"rules: {', '.join(doc['rules']) or '-'}")
    console.print(tree)


# A trace's money is shown per currency: its plain sums are null across currencies.
MONEY_KEYS = ("amount", "refunded_amount", "outstanding_amount", "currency", "by_currency")


def add_money(branch: Tree, money: list[dict[str, Any]], fields: tuple[str, ...]) -> None:
    """One line per money field, 'EUR 697.50 + USD 173.25': never a cross-currency sum."""
    for field in fields:
        branch.add(terminal(f"{field}: {fmt.moneys(money, field)}"))


@trace_app.command("account")
def trace_account_cmd(
    account: Annotated[str, typer.Argument(help="An operator or service account.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """What an account did, with which privileges, and whom it affected."""
    con = store.connect(db, read_only=True)
    doc = trace_account(con, account)
    warn(answer_caveats(con, NEEDS["trace account"]))
    con.close()
    if output is OutputFormat.json:
        print_json(doc)
        return
    tree = Tree(terminal((f"account {account}", "bold")))
    if doc["directory"]:
        tree.add("directory: " + ", ".join(f"{k}={v}" for k, v in doc["directory"].items()
                                           if v is not None))
    for group, items in (("activity", doc["activity"]), ("privileges", doc["privileges"])):
        branch = tree.add(f"{group} ({len(items)})")
        for item in items:
            branch.add(", ".join(f"{k}={v}" for k, v in item.items() if v is not None))
    anomalous = doc["anomalous"]
    branch = tree.add(terminal(f"anomalous charges: {anomalous['charges']:,} on "
                               f"{anomalous['customers']:,} customers, "
                               f"{anomalous['unrefunded_charges']:,} unrefunded; changes: "
                               f"{', '.join(anomalous['changes']) or '-'}"))
    add_money(branch, anomalous["by_currency"], ("amount", "outstanding_amount"))
    tree.add(f"rules: {', '.join(doc['rules']) or '-'}")
    console.print(tree)


@rules_app.command("list")
def rules_list(rules_dir: RulesDirOption = None, output: FormatOption = OutputFormat.table) -> None:
    """Every rule with its pack, severity and title."""
    rows = [{"id": r.id, "pack": r.pack, "severity": r.severity, "title": r.title,
             "requires": list(r.requires), "tags": list(r.tags)}
            for r in load_rules(rules_dir or [])]
    if output is OutputFormat.json:
        print_json(rows)
    else:
        render_rows(rows, ("pack", "id", "severity", "title"), "Rules")


@rules_app.command("show")
def rules_show(rule_id: Annotated[str, typer.Argument(help="The rule's id.")],
               rules_dir: RulesDirOption = None,
               engine: Annotated[Engine, typer.Option(
                   "--engine", help="spark: print the rule's Spark SQL translation.")
               ] = Engine.duckdb) -> None:
    """A rule's metadata, parameters and SQL."""
    (rule,) = select_rules(rules_dir or [], None, [rule_id])
    if engine is Engine.spark:
        from auditlog.engines.translate import to_spark

        console.print(to_spark(rule.sql, rule.source, pretty=True), soft_wrap=True)
        return
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
    console.print()
    console.print(rule.sql)


@rules_app.command("validate")
def rules_validate(rules_dir: RulesDirOption = None) -> None:
    """Check every rule's metadata and SQL; report all broken rules at once."""
    valid, errors = validate(rules_dir or [])
    for error in errors:
        console.print(terminal(("broken", "red"), f" {error}"))
    console.print(f"{len(valid)} rules valid, {len(errors)} problems")
    if errors:
        raise typer.Exit(2)


@rules_app.command("test")
def rules_test(
    rule: RuleOption = None,
    rules_dir: RulesDirOption = None,
    builtin: Annotated[bool, typer.Option(help="Include the built-in packs.")] = True,
) -> None:
    """Run every rule's fire and quiet cases."""
    rules = load_rules(rules_dir or [], builtin=builtin)
    rules = [r for r in rules if not rule or r.id in rule]
    results = run_all_cases(rules)
    for res in results:
        mark = ("pass", "green") if res.passed else ("FAIL", "red")
        console.print(terminal(mark, f" {res.case.label}"
                               + (f": {res.message}" if res.message else "")))
    failed = sum(not r.passed for r in results)
    console.print(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
