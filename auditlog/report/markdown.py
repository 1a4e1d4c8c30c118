"""The accountability report as GitHub-flavoured Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from auditlog.analysis.caveats import sentence
from auditlog.report.model import Report
from auditlog.report.render import context, environment
from auditlog.report.timeline import by_day


def render_markdown(report: Report, caveats: Sequence[str] = ()) -> str:
    """The report's data (from `accountability`) as one Markdown document; `caveats`
    (coverage.answer_caveats) head its summary."""
    template = environment(html=False).get_template("accountability.md")
    days = by_day(report.chart.bars) if report.chart else []
    text = template.render(**context(report), days=days,
                           caveats=[sentence(c) for c in caveats])
    # Blocks that render nothing leave runs of blank lines; one is enough in Markdown.
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"
