"""`auditlog findings` for a person at an 80-column terminal: the failed controls, a
summary per rule, the most severe findings with whole ids; and one finding in full.

Ids are never cut (a finding id read off the screen must work in `findings triage`):
id columns do not wrap, and when a table is too wide Rich folds the text columns
instead. Money is `EUR 3,223.22` (report.formatting, as every command writes it);
times are UTC to the minute (or in the zone of --tz). Severity is coloured, which Rich leaves out when stdout is
not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import console
from auditlog.cli.display import Clock
from auditlog.export.safety import cell_text
from auditlog.report import formatting as fmt
from auditlog.textsafe import terminal

if TYPE_CHECKING:
    from auditlog.analysis.finding_views import (
        EvidenceRow,
        FindingDetail,
        FindingsOverview,
        RuleSummary,
    )

SEVERITY_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow",
                   "low": "cyan", "info": "dim"}
# What each column of a --columns list is called in its header.
HEADERS = {"finding_id": "finding", "rule_id": "rule", "ts": "time",
           "change_id": "change", "first_seen": "first seen", "last_seen": "last seen"}
# Times as the library gives them: UTC (--tz names another zone for display only).
UTC_CLOCK = Clock()
# Columns that may be asked for with --columns (about: the account, else the change,
# else the actor: who or what the finding is about).
COLUMNS = ("finding_id", "severity", "rule_id", "title", "ts", "about", "actor", "account",
           "change_id", "amount", "status", "note", "evidence", "first_seen", "last_seen")
# Never folded nor cut: ids, and the short values beside them.
FIXED_COLUMNS = ("finding_id", "rule_id", "severity", "ts", "change_id", "amount", "status",
                 "first_seen", "last_seen")
# Evidence rows `findings show` lists without --all.
EVIDENCE_SHOWN = 10


def severity_text(severity: str) -> Text:
    return terminal((severity, SEVERITY_STYLES.get(severity, "")))


def when(instant: datetime | None, clock: Clock = UTC_CLOCK) -> str:
    """A time in a table, to the minute; the table's header names the zone."""
    moment = clock.instant(instant)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def stamp(instant: datetime | None, clock: Clock = UTC_CLOCK) -> str:
    """A time on its own, to the minute, with its zone: '2026-09-22 19:45 CEST'."""
    moment = clock.instant(instant)
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} {clock.label(moment)}"


def header(column: str, clock: Clock) -> str:
    name = HEADERS.get(column, column)
    return f"{name} ({clock.name})" if column == "ts" else name


def amount_text(row: dict[str, Any]) -> str:
    """A finding's amount with the currency of the charges it names; one that adds
    several currencies is not a sum anyone can refund, so it says so."""
    if row.get("amount") is None:
        return ""
    if row.get("by_currency"):  # the amount's exact split (finding_views.with_currency)
        return "\n".join(fmt.money(p["amount"], p["currency"]) for p in row["by_currency"])
    if row.get("mixed_currency"):
        return "mixed currencies"
    return fmt.money(row["amount"], row.get("currency"))


def about(row: dict[str, Any]) -> str:
    return str(row.get("account") or row.get("change_id") or row.get("actor") or "")


def cell(row: dict[str, Any], column: str, clock: Clock = UTC_CLOCK) -> Text:
    """One cell of the findings list, as a person reads it."""
    value = row.get(column)
    if column == "severity":
        return severity_text(str(value))
    if column == "amount":
        return lines_text(amount_text(row).split("\n"))
    if column == "about":
        return terminal(about(row))
    if column in ("ts", "first_seen", "last_seen"):
        return terminal(when(value, clock))
    if column == "evidence":
        return terminal(f"{len(value or [])} ids")
    return terminal(cell_text(value))


def findings_table(rows: Sequence[dict[str, Any]], columns: Sequence[str],
                   clock: Clock = UTC_CLOCK) -> Table:
    """Whole ids: each id, severity, time and amount column is as wide as its longest
    value; the text columns (about, title, note) share what is left of the console's
    width, folding their text onto more lines when it is not enough."""
    cells = {c: [cell(row, c, clock) for row in rows] for c in columns}
    widths = {c: max([len(header(c, clock)), *(t.cell_len for t in cells[c])])
              for c in columns}
    fixed = [c for c in columns if c in FIXED_COLUMNS]
    flexible = [c for c in columns if c not in FIXED_COLUMNS]
    room = console.width - sum(widths[c] for c in fixed) - 2 * (len(columns) - 1)
    share = max(room // len(flexible), 8) if flexible else 0
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    for column in columns:
        width = widths[column] if column in FIXED_COLUMNS else min(widths[column], share)
        table.add_column(header(column, clock),
                         justify="right" if column == "amount" else "left",
                         width=width, no_wrap=column in FIXED_COLUMNS, overflow="fold")
    for index in range(len(rows)):
        table.add_row(*(cells[c][index] for c in columns))
    return table


def overview_table(rows: Sequence[dict[str, Any]], clock: Clock = UTC_CLOCK) -> Table:
    """The default list, two lines a finding so that nothing is cut at 80 columns:
    the id, severity, rule and amount; under the rule, what the finding is about (its
    account, else change, else actor) and its time."""
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("finding", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column(f"rule: about, time ({clock.name})", overflow="fold",
                     min_width=max((len(r["rule_id"]) for r in rows), default=0))
    money = any(amount_text(row) for row in rows)  # no column of blanks
    if money:
        table.add_column("amount", justify="right", overflow="fold")
    for row in rows:
        rule = terminal(row["rule_id"])
        rule.append("\n")
        rule.append_text(terminal((", ".join(x for x in (about(row), when(row["ts"], clock)) if x),
                                   "dim")))
        cells = [terminal(row["finding_id"]), severity_text(row["severity"]), rule]
        table.add_row(*cells, *([lines_text(amount_text(row).split("\n"))] if money else []))
    return table


def rule_money(summary: RuleSummary) -> str:
    """One line per currency (never a sum across them), beside the rule's two lines."""
    parts = [fmt.money(m.amount, m.currency) for m in summary.money]
    if summary.mixed_currency:
        parts.append(f"{summary.mixed_currency:,} mixed")
    return "\n".join(parts)


def rules_table(rules: Sequence[RuleSummary], clock: Clock = UTC_CLOCK) -> Table:
    """Per rule: severity; the rule, and under it the time of its first and last
    finding; the number of findings; the money."""
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    rows = []
    for rule in rules:
        first, last = when(rule.first, clock), when(rule.last, clock)
        name = Text(rule.rule_id)
        name.append("\n")
        name.append(first if first == last else f"{first} - {last}", style="dim")
        rows.append((severity_text(rule.severity), name, f"{rule.findings:,}",
                     lines_text(rule_money(rule).split("\n"))))
    table.add_column("severity", no_wrap=True)
    table.add_column(f"rule: first - last ({clock.name})", no_wrap=True)
    table.add_column("findings", justify="right", no_wrap=True)
    money = any(rule.money or rule.mixed_currency for rule in rules)
    if money:
        table.add_column("amount", justify="right", overflow="fold")
    for row in rows:
        table.add_row(*(row if money else row[:3]))
    return table


def heading(text: str, *rest: str) -> Text:
    return terminal((text, "bold"), *rest)


# How the list is ordered, in its heading (finding_views.SORTS).
ORDER_WORDS = {"severity": "most severe first", "time": "earliest first",
               "amount": "largest amount first", "rule": "by rule", "id": "by id"}


def render_overview(overview: FindingsOverview, *, limit: int | None,
                    sort: str = "severity", clock: Clock = UTC_CLOCK) -> None:
    """The default screen: the run, failed controls, per rule, the most severe rest."""
    frame = overview.findings
    latest = overview.latest
    rules = len(overview.rules)
    console.print(heading(f"Findings: {frame.height:,}",
                          f" from {rules:,} rule{'' if rules == 1 else 's'}, run "
                          f"{latest.run_id} at {stamp(latest.started_at, clock)}"))
    if frame.is_empty():
        console.print("No stored finding matches these filters.")
        return
    controls = overview.controls.to_dicts()
    control_ids = {r["finding_id"] for r in controls}
    if controls:
        console.print()
        console.print(heading(f"Failed controls ({len(controls):,})"))
        shown = controls if limit is None else controls[:limit]
        console.print(overview_table(shown, clock))
        more(len(controls) - len(shown), "failed controls")
    console.print()
    console.print(heading("By rule"))
    console.print(rules_table(overview.rules, clock))
    rest = [r for r in frame.iter_rows(named=True) if r["finding_id"] not in control_ids]
    if not rest:
        return
    listed = rest if limit is None else rest[:limit]
    console.print()
    label = "Other findings" if controls else "Findings"
    order = ORDER_WORDS.get(sort, sort)
    console.print(heading(f"{label}, {order}" if len(listed) < len(rest) else label,
                          f" ({len(listed):,} of {len(rest):,})"))
    console.print(overview_table(listed, clock))
    more(len(rest) - len(listed), "findings")
    console.print()
    console.print("One in full: auditlog findings show ID")
    console.print("Triage: auditlog findings triage ID --status STATUS [--note TEXT]")


def more(hidden: int, what: str) -> None:
    """Said at the end of the list it concerns, so it is not scrolled away."""
    if hidden > 0:
        console.print(f"... {hidden:,} more {what} (--all, --limit N; narrow with --rule, "
                      "--severity)")


def render_list(rows: Sequence[dict[str, Any]], columns: Sequence[str], total: int,
                clock: Clock = UTC_CLOCK) -> None:
    """Just the findings, as --columns asked (no summary around them): a table when the
    columns fit the console's width, else one block of `column  value` lines per
    finding, so that no id is ever cut to make a table fit."""
    if fits(rows, columns, clock):
        console.print(findings_table(rows, columns, clock))
    else:
        for index, row in enumerate(rows):
            if index:
                console.print()
            table = Table(box=None, show_header=False, pad_edge=False, show_edge=False)
            table.add_column(style="bold", no_wrap=True)
            table.add_column(overflow="fold")
            for column in columns:
                table.add_row(header(column, clock), cell(row, column, clock))
            console.print(table)
    more(total - len(rows), "findings")


def fits(rows: Sequence[dict[str, Any]], columns: Sequence[str],
         clock: Clock = UTC_CLOCK) -> bool:
    """The fixed columns at their full width, and 8 for each other one, fit."""
    need = sum(max([len(header(c, clock)), *(cell(r, c, clock).cell_len for r in rows)])
               if c in FIXED_COLUMNS else 8 for c in columns)
    return need + 2 * (len(columns) - 1) <= console.width


def render_detail(detail: FindingDetail, *, all_evidence: bool,
                  clock: Clock = UTC_CLOCK) -> None:
    f = detail.finding
    console.print(terminal((f["finding_id"], "bold"), "  ", severity_text(f["severity"]),
                           "  ", f["rule_id"]))
    console.print(terminal(f["title"]))
    console.print()
    facts = [("time", stamp(f["ts"], clock)), ("amount", amount_text(f) or "—"),
             ("change", f["change_id"] or "—"), ("actor", f["actor"] or "—"),
             ("account", f["account"] or "—"), ("status", f["status"]),
             ("note", f["note"] or "—"),
             ("seen", f"first {stamp(f['first_seen'], clock)}, last {stamp(f['last_seen'], clock)}")]
    console.print(key_values(facts))
    rule = detail.rule
    if rule is not None:
        for label, text in (("What it checks", rule.description),
                            ("Why it matters", rule.rationale),
                            ("How to investigate", rule.investigate)):
            if text:
                console.print()
                console.print(heading(label))
                console.print(Padding(terminal(text), (0, 0, 0, 2)))
    if detail.sigma:
        render_sigma(detail.sigma)
    if rule is None:
        console.print()
        console.print(terminal(("Rule file: ", "bold"), detail.rule_source or "not known"))
    console.print()
    console.print(heading("Traces to"))
    console.print(Padding(traces_to(detail), (0, 0, 0, 2)))
    render_evidence(detail, all_evidence=all_evidence, clock=clock)
    console.print()
    console.print(heading(f"Triage history ({len(detail.history)})"))
    if not detail.history:
        console.print("  none: open since it was found")
    for entry in detail.history:
        console.print(Padding(terminal(f"{stamp(entry.at, clock)}  {entry.by}  ",
                                       (entry.status, "bold"),
                                       f": {entry.note}" if entry.note else ""), (0, 0, 0, 2)))


# What `findings show` prints of a Sigma rule's own metadata, in this order.
SIGMA_FIELDS = ("id", "title", "level", "status", "author", "tags", "logsource",
                "falsepositives", "references", "file")


def render_sigma(sigma: dict[str, Any]) -> None:
    """What the Sigma rule says of itself: lists joined, a logsource as key=value."""
    pairs = []
    for key in SIGMA_FIELDS:
        value = sigma.get(key)
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        pairs.append((key, str(value)))
    console.print()
    console.print(heading("Sigma rule"))
    console.print(Padding(key_values(pairs), (0, 0, 0, 2)))


def key_values(pairs: Sequence[tuple[str, str]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, show_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(key, lines_text(value.split("\n")))
    return table


def traces_to(detail: FindingDetail) -> Text:
    """The change, account and charge the finding names, with the commands that follow
    each (a charge only when it names one: a per-charge finding)."""
    f = detail.finding
    lines = []
    if f["change_id"]:
        lines.append(f"change {f['change_id']}: auditlog trace change {f['change_id']}")
    charges = [row.id for row in detail.evidence if row.kind == "charges"]
    # A per-charge finding's account is the customer; otherwise it is an account acted
    # on (a grant's subject, a key's owner) that can be traced like the actor.
    accounts = [f["actor"], None if charges else f["account"]]
    for name in dict.fromkeys(a for a in accounts if a):
        lines.append(f"account {name}: auditlog trace account {name}")
    if len(charges) == 1:
        lines.append(f"charge {charges[0]}: auditlog trace charge {charges[0]}")
    return lines_text(lines or ["nothing: the finding names no change or account"])


def lines_text(lines: Sequence[str | Text]) -> Text:
    """Lines as one Text (each piece from `terminal`, so log text stays literal)."""
    out = Text()
    for index, line in enumerate(lines):
        if index:
            out.append("\n")
        out.append_text(line if isinstance(line, Text) else terminal(line))
    return out


def render_evidence(detail: FindingDetail, *, all_evidence: bool,
                    clock: Clock = UTC_CLOCK) -> None:
    rows = detail.evidence
    shown = rows if all_evidence else rows[:EVIDENCE_SHOWN]
    console.print()
    ids = len(rows) + len(detail.unmatched)
    console.print(heading(f"Evidence ({ids:,} id{'' if ids == 1 else 's'})"))
    for row in shown:
        title, values = evidence_text(row, clock)
        console.print(Padding(title, (0, 0, 0, 2)))
        console.print(Padding(values, (0, 0, 0, 4)))
    if len(shown) < len(rows):
        console.print(f"  ... {len(rows) - len(shown):,} more rows: --all shows every one")
    if detail.unmatched:
        console.print(Padding(terminal("not a stored row: ", ", ".join(detail.unmatched)),
                              (0, 0, 0, 2)))


def evidence_text(row: EvidenceRow, clock: Clock = UTC_CLOCK) -> tuple[Text, Text]:
    """A stored row: its kind, id and time; then its other non-empty columns, exact
    (times ISO 8601 UTC to the second), amounts with their currency."""
    skip = {"charge_id", "event_id", "change_id", "currency"}
    values = [f"{k}={fmt.money(v, row.fields.get('currency')) if k == 'amount' else cell_text(v)}"
              for k, v in row.fields.items()
              if k not in skip and v not in (None, "")
              and not (isinstance(v, datetime) and v == row.time)]
    return (terminal((f"{row.kind.removesuffix('s')} {row.id}", "bold"),
                     f"  {stamp(row.time, clock)}"), terminal(", ".join(values)))
