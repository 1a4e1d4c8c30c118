"""The Jinja2 environment both document formats share: templates shipped as package data,
and the filters that write values for people (see formatting.py).

Every `{{ value }}` goes through the output kind's function of `auditlog.textsafe` as
Jinja2's `finalize`, so a template cannot print a log field unescaped by forgetting a
filter: HTML gets `html` (then autoescape leaves its Markup alone), Markdown gets
`markdown`. Markdown syntax therefore lives in the template's text, never in a value."""

from __future__ import annotations

from typing import Any

import jinja2

from auditlog.report import formatting as fmt
from auditlog.report.model import Report
from auditlog.textsafe import html as html_text
from auditlog.textsafe import markdown

TEMPLATE_PACKAGE = "auditlog.report"


def cell(value: Any) -> Any:
    """A table cell's value, '—' when there is none (escaped by `finalize` like any)."""
    return "—" if value is None or value == "" else value


def environment(*, html: bool) -> jinja2.Environment:
    """HTML escapes every value (autoescape); Markdown escapes every value too."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, "templates"),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=html_text if html else markdown,
    )
    env.filters.update({
        "count": fmt.count, "money": fmt.money, "moneys": fmt.moneys, "when": fmt.when, "day": fmt.day,
        "duration": fmt.duration, "cell": cell, "and_join": fmt.and_join,
    })
    return env


# A headline names this many people (or incidents) at most; the rest are counted.
HEADLINE_PEOPLE = 4


def headline_names(names: list[str]) -> list[str]:
    """The names a headline can hold: all of up to HEADLINE_PEOPLE, else the first ones
    and how many others (a degenerate incident can blame a hundred accounts)."""
    if len(names) <= HEADLINE_PEOPLE:
        return names
    return [*names[:HEADLINE_PEOPLE - 1], f"{len(names) - HEADLINE_PEOPLE + 1:,} others"]


def context(report: Report) -> dict[str, Any]:
    """What every template gets: the report, `who` to name a person with their account,
    `name` to name them only, and `accountable`: everyone accountable for an incident,
    in the incidents' order."""
    people = report.people
    accountable = list(dict.fromkeys(p for i in report.incidents for p in i.accountable))
    return {"r": report, "s": report.summary, "accountable": accountable,
            "accountable_names": headline_names([fmt.name(a, people) for a in accountable]),
            "lead": HEADLINE_PEOPLE,
            "who": lambda account: fmt.person(account, people),
            "name": lambda account: fmt.name(account, people)}
