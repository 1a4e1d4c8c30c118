"""The accountability report for the terminal: Rich renderables the CLI prints.

Every piece of text is a Text made by `textsafe.terminal` (titles and cells included),
so the report shows log text literally on any console, even one with markup on."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditlog.analysis.caveats import sentence
from auditlog.report import formatting as fmt
from auditlog.report.model import AccountSection, ChangeSection, Control, Report
from auditlog.report.timeline import by_day
from auditlog.textsafe import terminal

SEVERITY_STYLES = {"critical": "bold white on red", "high": "bold red", "medium": "yellow",
                   "low": "cyan", "info": "dim", None: "magenta"}


def render_terminal(report: Report, caveats: Sequence[str] = ()) -> RenderableType:
    """The whole report as one Rich group, sections in the documents' order; `caveats`
    (coverage.answer_caveats) right under the headline."""
    parts: list[RenderableType | None] = [headline(report), caveat_panel(caveats),
                                          parties(report)]
    parts += [change_panel(report, c) for c in report.changes]
    parts += [account_panel(report, a) for a in report.accounts]
    parts += [timeline(report), chart(report), findings(report)]
    return Group(*(p for p in parts if p is not None))


def caveat_panel(caveats: Sequence[str]) -> Panel | None:
    """What the answer cannot see, as plain Text: the sentences quote system names."""
    if not caveats:
        return None
    return Panel(Text("\n").join(terminal(sentence(c)) for c in caveats), title=Text("Caveats"),
                 border_style="yellow", title_align="left")


def headline(report: Report) -> Panel:
    s = report.summary
    if not s.charges:
        return Panel(Text("No anomalous charges in scope: every charge was authorized by its "
                     "customer or is a recurring fee."), title=Text("Accountability report"),
                     border_style="green")
    money = s.by_currency
    refunded = f"{fmt.count(s.refunded_charges)} ({fmt.moneys(money, 'refunded_amount')})"
    outstanding = (f"{fmt.count(s.outstanding_charges)} "
                   f"({fmt.moneys(money, 'outstanding_amount')})")
    # Three lines; the line breaks are the report's own, so they join Text pieces.
    text = Text("\n").join([
        terminal(f"{fmt.when(s.first_cause_time)} to {fmt.when(s.last_cause_time)}"),
        terminal((f"{fmt.count(s.charges)} charges", "bold"), " no customer authorized, on ",
                 (f"{fmt.count(s.customers)} customers", "bold"), ": ",
                 (fmt.moneys(money), "bold")),
        terminal("Refunded ", (refunded, "green"), "; still to refund ", (outstanding, "bold red")),
    ])
    scope = report.scope.change_id
    return Panel(text, title=terminal("Accountability report" + (f": {scope}" if scope else "")),
                 border_style="red", title_align="left")


def table(title: str, *headers: str) -> Table:
    t = Table(title=terminal(title), title_justify="left", title_style="bold", show_edge=False)
    for h in headers:
        t.add_column(h, justify="right" if h in ("charges", "customers", "amount", "actions",
                                                 "findings", "anomalous", "normal",
                                                 "to refund") else "left")
    return t


def parties(report: Report) -> Table:
    who = report.people
    t = table("Who is responsible", "account", "change", "charges", "customers", "amount",
              "to refund")
    # A party is in one currency (the summary splits a party per currency): a row each.
    for p in report.parties:
        cur = " ".join(p.currencies)
        t.add_row(terminal(fmt.person(p.actor, who)),
                  terminal(p.change_id or ("none: own acts", "yellow")),
                  fmt.count(p.charges), fmt.count(p.customers),
                  terminal(fmt.money(p.amount, cur)),
                  terminal(f"{fmt.count(p.outstanding_charges)} "
                           f"({fmt.money(p.outstanding_amount, cur)})"))
    return t


def controls_table(title: str, controls: Sequence[Control]) -> Table:
    t = table(title, "control", "what happened", "rules", "severity")
    for k in controls:
        rules = ", ".join(r.rule_id for r in k.rules) or "from the records"
        style = SEVERITY_STYLES.get(k.severity, "")
        t.add_row(terminal(k.label), terminal(k.text), terminal(rules),
                  terminal((k.severity or "records", style)))
    return t


def change_panel(report: Report, c: ChangeSection) -> Panel:
    who = report.people
    approver = (terminal(("none", "red")) if not c.approver else terminal(
        fmt.person(c.approver, who),
        (" (its own implementer)", "red") if c.approval.self_approved else ""))
    outside = (" (outside its window)", "red") if c.window.started_within is False else ""
    rollback = (f"{c.rollback.change_id} at {fmt.when(c.rollback.started_at)}"
                if c.rollback else "none recorded")
    i = c.impact
    body: list[RenderableType] = [
        terminal(f"implementer {fmt.person(c.implementer, who)}; approver ", approver,
                 f"; ticket {c.ticket or '—'}"),
        terminal(f"window {fmt.when(c.window_start)} to {fmt.when(c.window_end)}; "
                 f"started {fmt.when(c.started_at)}", outside, f"; rolled back: {rollback}"),
        terminal(f"impact: {fmt.count(i.charges)} charges on {fmt.count(i.customers)} "
                 f"customers, {fmt.moneys(i.by_currency)}; "
                 f"{fmt.count(i.unrefunded_charges)} still to refund "
                 f"({fmt.moneys(i.by_currency, 'outstanding_amount')})"),
    ]
    if c.controls:
        body.append(controls_table("Controls that failed", c.controls))
    title = terminal(f"change {c.change_id}: {c.kind or 'change'} of {c.system}")
    return Panel(Group(*body), title=title, title_align="left", border_style="red")


def account_panel(report: Report, a: AccountSection) -> Panel:
    who, d = report.people, a.directory or {}
    i = a.impact
    body: list[RenderableType] = [
        terminal(f"{d.get('account_type') or '—'}; team {d.get('team') or '—'}; owner "
                 f"{fmt.person(d.get('owner'), who)}; manager {fmt.person(d.get('manager'), who)}"),
        terminal("under change: ", ", ".join(a.change_ids) or ("none: acted on its own",
                                                                 "yellow"),
                 f"; {fmt.count(i.charges)} charges on {fmt.count(i.customers)} customers, "
                 f"{fmt.moneys(i.by_currency)}, {fmt.when(i.first_cause_time)} "
                 f"to {fmt.when(i.last_cause_time)}; {fmt.count(i.outstanding_charges)} "
                 f"still to refund ({fmt.moneys(i.by_currency, 'outstanding_amount')})"),
    ]
    grants = table("Privileges held while it acted", "privilege", "granted", "by", "ticket",
                   "approver", "failed controls")
    for g in a.grants:
        grants.add_row(terminal(g.privilege), fmt.when(g.granted_at), terminal(g.granter),
                       terminal(g.ticket or ("none", "red")),
                       terminal(g.approver or ("none", "red")),
                       terminal(", ".join(k.label for k in g.controls) or "—"))
    body.append(grants if a.grants else Text("no recorded grant in force: standing access"))
    if a.controls:
        body.append(controls_table("Controls that failed", a.controls))
    name = f" ({d['display_name']})" if d.get("display_name") else ""
    return Panel(Group(*body), title=terminal(f"account {a.account}{name}"),
                 title_align="left", border_style="yellow" if not a.change_ids else "red")


def timeline(report: Report) -> Table:
    t = table("Timeline (UTC)", "time", "event", "details")
    for e in report.timeline:
        t.add_row(fmt.when(e.time), terminal(e.title), terminal(e.detail))
    return t


def chart(report: Report) -> Table | None:
    """Anomalous charges per day as a bar of blocks, normal ones beside."""
    if not report.chart:
        return None
    days = by_day(report.chart.bars)
    top = max((d.anomalous for d in days), default=0) or 1
    t = table("Charges of " + ", ".join(report.chart.products) + " per day", "day",
              "anomalous", "", "normal")
    for d in days:
        t.add_row(fmt.day(d.start), fmt.count(d.anomalous),
                  Text("█" * round(30 * d.anomalous / top), style="red"),
                  fmt.count(d.normal))
    return t


def findings(report: Report) -> Table:
    f = report.findings
    t = table(f"Open findings: {fmt.count(f.open)}", "severity", "rule", "findings")
    for x in f.by_rule:
        style = SEVERITY_STYLES.get(x.severity, "")
        rule = terminal(x.rule_id)
        if x.sigma is not None:  # the Sigma rule as it names itself, under its file stem
            s = x.sigma
            for line in (f"Sigma: {s.title or '-'}", f"id {s.id or '-'}, level {s.level or '-'}",
                         f"tags {', '.join(s.tags) or 'none'}"):
                rule.append("\n")
                rule.append_text(terminal((line, "dim")))
        t.add_row(terminal((str(x.severity), style)), rule, fmt.count(x.count))
    return t
