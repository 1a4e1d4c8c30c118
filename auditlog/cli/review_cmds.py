"""`auditlog review access | import | status`: the access review managers certify
(docs/access-review.md). access lists every privilege held in a period with its reviewer,
use and flags (table, md, html, json, or the XLSX certification campaign); import reads
the filled-in campaign back; status says what is decided, what is open and which
privileges to revoke."""

from __future__ import annotations

import csv
import enum
import io
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import (
    DbOption,
    SinceOption,
    TableFormat,
    TableFormatOption,
    UntilOption,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.errors import UsageError
from auditlog.report import formatting as fmt
from auditlog.textsafe import terminal

if TYPE_CHECKING:
    from auditlog.analysis.access_review import AccessReview
    from auditlog.analysis.review_decisions import ReviewStatus

review_app = typer.Typer(help="The access review managers certify: who held what, used "
                              "or not, flagged; decisions read back from the campaign.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")

NO_REVIEWER = "(no reviewer)"
ID_ROOM = 26  # columns an account or privilege may take before it folds


class ReviewFormat(str, enum.Enum):
    table = "table"
    md = "md"
    html = "html"
    json = "json"
    xlsx = "xlsx"


ParamOption = Annotated[list[str] | None, typer.Option(
    "--param", help="name=value for a model parameter (privilege_actions, "
                    "deploy_privileges).")]


def model_params(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param '{item}' must look like name=value")
        params[name.strip()] = value
    return params


@review_app.command("access")
def access_cmd(
    since: SinceOption = None,
    until: UntilOption = None,
    reviewer: Annotated[str | None, typer.Option(
        "--reviewer", help="Only the privileges this account reviews.")] = None,
    output: Annotated[ReviewFormat, typer.Option(
        "--format", "-f", help="table, md or html for people, json for programs, xlsx "
                               "for the certification campaign (needs --out).")
    ] = ReviewFormat.table,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the document to this file.")] = None,
    param: ParamOption = None,
    db: DbOption = None,
) -> None:
    """Every privilege held in the period (default: what the logs cover), one row per
    account and privilege: reviewer, held from/until, used or not, flags."""
    inv = investigation(db)
    params = model_params(param)
    if output is ReviewFormat.table and out is not None:
        raise UsageError("--out takes md, html, json or xlsx; the table is for the terminal")
    if output is ReviewFormat.xlsx:
        if out is None:
            raise UsageError("--format xlsx writes a workbook: give --out FILE.xlsx")
        counts = inv.review_workbook(out, since=since, until=until, reviewer=reviewer,
                                     params=params)
        console.print(terminal(f"wrote {out}: {sum(counts.values()):,} rows on "
                               f"{len(counts):,} reviewer sheets"))
        return
    review = inv.review_access(since=since, until=until, reviewer=reviewer, params=params)
    if output is ReviewFormat.table:
        render_review(review)
        return
    text = document_text(review, output)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(terminal(f"wrote {out}"))


def document_text(review: AccessReview, output: ReviewFormat) -> str:
    from auditlog.report.access_review import review_html, review_markdown
    from auditlog.textsafe import json_document

    if output is ReviewFormat.md:
        return review_markdown(review)
    if output is ReviewFormat.html:
        return review_html(review)
    return json_document(review.as_json()) + "\n"


def render_review(review: AccessReview) -> None:
    rows = list(review.rows.iter_rows(named=True))
    console.print(terminal(
        f"Access review {fmt.when(review.since)} to {fmt.when(review.until)}: "
        f"{len(rows):,} privileges held"))
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["reviewer"] or NO_REVIEWER, []).append(row)
    for reviewer in sorted(groups, key=lambda r: (r == NO_REVIEWER, r)):
        table = Table(title=Text(f"reviewer {reviewer}"), title_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False)
        # Ids are never cut: their columns are as wide as their longest (an id beyond
        # ID_ROOM folds, whole, over lines); the flags take what is left.
        for name, key in (("account", "account"), ("privilege / system", "privilege")):
            longest = max(len(r[key]) for r in groups[reviewer])
            table.add_column(name, overflow="fold", min_width=min(longest, ID_ROOM))
        table.add_column("held (UTC)", no_wrap=True)
        table.add_column("last use", no_wrap=True)
        table.add_column("flags", overflow="fold")
        for row in groups[reviewer]:
            end = row["held_until"].strftime("%Y-%m-%d") if row["held_until"] else "now"
            table.add_row(
                Text(row["account"]),
                Text(f"{row['privilege']}\non {row['system'] or 'any system'}"),
                Text(f"{row['held_from']:%Y-%m-%d}\n{end}"),
                Text(f"{row['last_use']:%Y-%m-%d}" if row["last_use"] else "unused"),
                Text("\n".join(row["flags"]) or "-"))
        console.print(table)


@review_app.command("import")
def import_cmd(
    workbook: Annotated[Path, typer.Argument(help="The filled-in campaign workbook.")],
    db: DbOption = None,
    output: TableFormatOption = TableFormat.table,
) -> None:
    """Record the decisions of a filled-in campaign workbook (all of them, or none when
    a decision is not keep, revoke or reduce)."""
    recorded = investigation(db).review_import(workbook)
    if output is TableFormat.json:
        print_json(recorded.as_json())
        return
    counts = ", ".join(f"{n:,} {name}" for name, n in recorded.by_decision.items())
    console.print(terminal(f"recorded {recorded.decisions:,} decisions ({counts}) for the "
                           f"review {fmt.when(recorded.since)} to "
                           f"{fmt.when(recorded.until)}, by {recorded.recorded_by}"))


@review_app.command("status")
def status_cmd(
    since: SinceOption = None,
    until: UntilOption = None,
    param: ParamOption = None,
    db: DbOption = None,
    output: TableFormatOption = TableFormat.table,
) -> None:
    """What is decided and still open in the review of the latest imported campaign (or
    of --since/--until), and the revocations to carry out, by system."""
    status = investigation(db).review_status(since=since, until=until,
                                             params=model_params(param))
    if output is TableFormat.json:
        print_json(status.as_json())
        return
    if output is TableFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = status.revocations.columns
        writer.writerow(columns)
        for row in status.revocations.iter_rows():
            writer.writerow([csv_cell(v) for v in row])
        typer.echo(buffer.getvalue(), nl=False)
        return
    render_status(status)


def csv_cell(value: Any) -> str:
    from auditlog.export.safety import safe_cell_text

    return safe_cell_text(value)


def render_status(status: ReviewStatus) -> None:
    console.print(terminal(
        f"Access review {fmt.when(status.since)} to {fmt.when(status.until)}: "
        f"{status.decided:,} decided, {status.open:,} open"))
    from auditlog.analysis.review_decisions import by_reviewer

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("reviewer", overflow="fold")
    for name in ("rows", "decided", "open"):
        table.add_column(name, justify="right")
    for row in by_reviewer(status.rows).iter_rows(named=True):
        table.add_row(Text(row["reviewer"] or NO_REVIEWER), f"{row['rows']:,}",
                      f"{row['decided']:,}", f"{row['open']:,}")
    console.print(table)
    if status.unmatched.height:
        console.print(terminal(
            f"{status.unmatched.height:,} decisions name a row this review does not have "
            "(an edited account or privilege, or logs forgotten since): see --format json"))
    if status.revocations.height == 0:
        console.print(terminal("no revocations to carry out"))
        return
    todo = Table(title=Text("to carry out"), title_justify="left", box=box.SIMPLE_HEAD,
                 pad_edge=False)
    todo.add_column("system", overflow="fold")
    todo.add_column("account", overflow="fold")
    todo.add_column("privilege", overflow="fold")
    todo.add_column("decision")
    todo.add_column("by / comment", overflow="fold")
    for row in status.revocations.iter_rows(named=True):
        held = "" if row["still_held"] else " (no longer held)"
        todo.add_row(Text(row["system"] or "any"), Text(row["account"]),
                     Text(row["privilege"]), Text(row["decision"] + held),
                     Text(f"{row['decided_by']}: {row['comment'] or '-'}"))
    console.print(todo)
