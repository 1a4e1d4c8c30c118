"""The Investigation's answers made of several parts: the accountability report, the
demo's results, the rule checks. Apart from investigation.py so that the commands that
return none of them do not define them (start time, issue 14); `auditlog.investigation`
still offers each name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from auditlog.analysis.findings import RunReport
    from auditlog.errors import RuleError
    from auditlog.pack.model import Rule
    from auditlog.report import model as report_model


@dataclass(frozen=True)
class Report:
    """The accountability report: its typed data (`model`, auditlog.report.model) and the
    caveats its summary opens with; `document` is its JSON (`report --format json`),
    `markdown()` and `html()` render it."""

    model: report_model.Report
    caveats: list[str]

    @property
    def document(self) -> dict[str, Any]:
        return self.model.as_json()

    def markdown(self) -> str:
        from auditlog.report.markdown import render_markdown

        return render_markdown(self.model, self.caveats)

    def html(self) -> str:
        from auditlog.report.html import render_html

        return render_html(self.model, self.caveats)


@dataclass(frozen=True)
class Demo:
    """What `auditlog demo` shows: the files loaded, the run, the incident's summary, the
    trace of each responsible change and of one example charge."""

    loaded: pl.DataFrame
    run: RunReport
    summary: dict[str, Any]
    changes: dict[str, Any]
    example_trace: Any

    def as_dict(self) -> dict[str, Any]:
        return {"loaded": self.loaded.to_dicts(), "run": self.run.as_dict(),
                "summary": self.summary, "changes": self.changes,
                "example_trace": self.example_trace}


@dataclass(frozen=True)
class RuleChecks:
    """`rules validate`: the rules that are valid, and every problem found."""

    valid: list[Rule]
    errors: list[RuleError] = field(default_factory=list)
