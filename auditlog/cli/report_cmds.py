"""`auditlog report accountability`: the report for managers, as Markdown, one
self-contained HTML file, a terminal rendering, or its data as JSON."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from auditlog.cli.common import DbOption, app, console, err_console, investigation, print_json
from auditlog.errors import UsageError

report_app = typer.Typer(help="Reports for people.", no_args_is_help=True)
app.add_typer(report_app, name="report")


class ReportFormat(str, enum.Enum):
    table = "table"
    md = "md"
    html = "html"
    json = "json"


@report_app.command("accountability")
def accountability_cmd(
    output: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="table (terminal), md, html (one self-contained file), json."
    )] = ReportFormat.table,
    change: Annotated[str | None, typer.Option(
        "--change", help="Only what this change is responsible for.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="File to write md or html to (md goes to stdout without it).")] = None,
    db: DbOption = None,
) -> None:
    """For managers: who is responsible for the anomalous charges, what they cost.

    Each responsible change and account, the controls that failed, the timeline, a chart
    of the charges around the change, and the open findings.
    """
    if out is not None and output in (ReportFormat.table, ReportFormat.json):
        raise UsageError(f"--out is for md and html; --format {output.value} prints to stdout")
    if out is None and output is ReportFormat.html:
        raise UsageError("--format html needs --out FILE (one self-contained file)")
    report = investigation(db).report(change)
    if output is ReportFormat.json:
        print_json(report.document)
    elif output is ReportFormat.table:
        from auditlog.report.terminal import render_terminal

        console.print(render_terminal(report.model, report.caveats))
    else:
        text = report.html() if output is ReportFormat.html else report.markdown()
        if out is None:
            typer.echo(text, nl=False)
            return
        out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {out} ({len(text.encode('utf-8')):,} bytes)")
