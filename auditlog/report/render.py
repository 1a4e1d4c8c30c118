"""The Jinja2 environment both document formats share: templates shipped as package data,
and the filters that write values for people (see formatting.py)."""

from __future__ import annotations

from typing import Any

import jinja2

from auditlog.report import formatting as fmt

TEMPLATE_PACKAGE = "auditlog.report"


def md_cell(value: Any) -> str:
    """Text safe inside a GitHub-flavoured table cell: no pipes or line breaks."""
    text = "—" if value is None or value == "" else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def environment(*, html: bool) -> jinja2.Environment:
    """HTML escapes every value (autoescape); Markdown escapes table cells with `cell`."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, "templates"),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update({
        "count": fmt.count, "money": fmt.money, "when": fmt.when, "day": fmt.day,
        "duration": fmt.duration, "cell": md_cell,
    })
    return env


def context(report: dict[str, Any]) -> dict[str, Any]:
    """What every template gets: the report, and `who` to name a person."""
    people = report["people"]
    return {"r": report, "s": report["summary"],
            "who": lambda account: fmt.person(account, people)}
