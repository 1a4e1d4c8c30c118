"""The accountability report as one self-contained HTML file: inline CSS and SVG, no
script, nothing loaded from the network; every value escaped by Jinja2's autoescape."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from auditlog.analysis.caveats import sentence
from auditlog.report.chart import svg_chart
from auditlog.report.model import Report
from auditlog.report.render import context, environment


def render_html(report: Report, caveats: Sequence[str] = ()) -> str:
    """The report's data (from `accountability`) as one HTML document; `caveats`
    (coverage.answer_caveats) head its summary."""
    template = environment(html=True).get_template("accountability.html")
    # The chart is built from escaped text by chart.py, so it goes in as markup.
    chart = Markup(svg_chart(report.chart)) if report.chart else None
    return template.render(**context(report), chart_svg=chart,
                           caveats=[sentence(c) for c in caveats])
