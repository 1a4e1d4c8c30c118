"""The access review as a document: Markdown and a standalone HTML page, one section per
reviewer, one row per privilege held, its flags with their reasons.

Every value from the logs goes through textsafe (markdown / html), so an account or a
privilege name can never become markup or a link: the documents' syntax lives here, in
literal text, never in a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditlog.analysis.access_review import FLAGS, AccessReview
from auditlog.report import formatting as fmt
from auditlog.textsafe import html, markdown

NO_REVIEWER = "(no reviewer)"
HEADERS = ("account", "privilege", "system", "held", "used", "flags")


def held_text(row: dict[str, Any]) -> str:
    end = fmt.when(row["held_until"]) if row["held_until"] is not None else "still held"
    return f"{fmt.when(row['held_from'])} to {end}"


def used_text(row: dict[str, Any]) -> str:
    if not row["uses"]:
        return "unused"
    noun = "action" if row["uses"] == 1 else "actions"
    return f"{row['uses']:,} {noun}, last {fmt.when(row['last_use'])}"


def flag_lines(row: dict[str, Any]) -> list[str]:
    """'flag: reason' for each flag raised, in FLAGS order."""
    return [f"{flag}: {row[flag]}" for flag in FLAGS if row.get(flag)]


def by_reviewer(review: AccessReview) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in review.rows.iter_rows(named=True):
        groups.setdefault(row["reviewer"] or NO_REVIEWER, []).append(row)
    yield from sorted(groups.items(), key=lambda g: (g[0] == NO_REVIEWER, g[0]))


def cells(row: dict[str, Any]) -> list[str]:
    return [row["account"], row["privilege"], row["system"] or "any", held_text(row),
            used_text(row), "; ".join(flag_lines(row)) or "none"]


def summary(review: AccessReview) -> str:
    rows = review.rows
    flagged = sum(1 for r in rows.iter_rows(named=True) if r["flags"])
    return (f"{rows.height:,} privileges held from {fmt.when(review.since)} to "
            f"{fmt.when(review.until)}; {flagged:,} flagged, "
            f"{sum(1 for u in rows['uses'].to_list() if not u):,} unused.")


def review_markdown(review: AccessReview) -> str:
    lines = ["# Access review", "", markdown(summary(review)), ""]
    for reviewer, rows in by_reviewer(review):
        lines += [f"## Reviewer: {markdown(reviewer)}", "",
                  "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(markdown(c) for c in cells(r)) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
         "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;"
         "padding:.3em .5em;text-align:left;vertical-align:top}th{background:#eee}")


def review_html(review: AccessReview) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>Access review</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>Access review</h1>", f"<p>{html(summary(review))}</p>"]
    for reviewer, rows in by_reviewer(review):
        parts += [f"<h2>Reviewer: {html(reviewer)}</h2>", "<table><thead><tr>",
                  "".join(f"<th>{h}</th>" for h in HEADERS), "</tr></thead><tbody>"]
        parts += ["<tr>" + "".join(f"<td>{html(c)}</td>" for c in cells(r)) + "</tr>"
                  for r in rows]
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
