"""The traces as trees for people: one node per link of a charge's chain or part of a
change or an account, each a few `name  value` lines (cli/display.py), never a Python
structure; shared by `auditlog trace` and the demo."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from auditlog.cli.display import Clock, field_lines, fields_grid, value_text
from auditlog.report import formatting as fmt
from auditlog.textsafe import terminal, visible

# A step's own fields that its node's first line already says.
SHOWN_IN_HEADING = ("step", "id", "time", "source_record")


def node(title: RenderableType, lines: list[tuple[str, str]]) -> RenderableType:
    """A heading with its lines under it (just the heading when there are none)."""
    return Group(title, fields_grid(lines)) if lines else title


def charge_tree(doc: dict[str, Any], clock: Clock) -> Tree:
    who = doc["responsible"]
    verdict = ("anomalous", "bold red") if doc["anomalous"] else ("authorized", "bold green")
    lines = [("caused by", f"{who['actor'] or '-'} at {clock.time(who['time'])}"),
             ("change", who["change_id"] or "none"), ("reason", doc["reason"] or "-")]
    if doc.get("undecided"):
        lines.append(("undecided", doc["undecided"]))
    tree = Tree(node(terminal((f"charge {doc['charge_id']}", "bold"), ": ", verdict), lines))
    for step in doc["chain"]:
        title = terminal((str(step["step"]), "bold"), f" {step['id']}",
                         f" at {clock.time(step['time'])}" if step.get("time") else
                         " (not in the change records)")
        keep = ("ticket", "approver") if step["step"] == "privilege" else ()
        tree.add(node(title, field_lines(step, clock, skip=SHOWN_IN_HEADING, keep_empty=keep)))
    tree.add(rules_node(doc["rules"], doc.get("sigma", [])))
    return tree


def change_tree(doc: dict[str, Any], clock: Clock) -> Tree:
    parts = ("approval", "window", "impact", "rules", "change_id", "system", "source_records")
    title = terminal((f"change {doc['change_id']}", "bold"), f" on {doc['system']}")
    tree = Tree(node(title, field_lines(doc, clock, skip=parts)))
    approval = doc["approval"]
    tree.add(node(terminal(("approval", "bold"), ": ", verdict_of_approval(approval)),
                  field_lines(approval, clock, keep_empty=("approver", "ticket"))))
    window = doc["window"]
    tree.add(node(terminal(("window", "bold"), ": ", verdict_of_window(window)),
                  field_lines(window, clock)))
    impact = doc["impact"]
    lines = field_lines(impact, clock, skip=("charges", "amount", "refunded_amount",
                                              "currency", "by_currency"))
    lines += money_lines(impact["by_currency"], ("amount", "refunded_amount",
                                                 "outstanding_amount"))
    tree.add(node(terminal(("impact", "bold"), f": {impact['charges']:,} anomalous "
                           "charge(s)"), lines))
    tree.add(rules_node(doc["rules"], doc.get("sigma", [])))
    return tree


def account_tree(doc: dict[str, Any], clock: Clock) -> Tree:
    directory = doc["directory"]
    lines = (field_lines(directory, clock, skip=("account",)) if directory
             else [("directory", "not in the accounts records")])
    tree = Tree(node(terminal((f"account {doc['account']}", "bold")), lines))
    activity = tree.add(terminal(("activity", "bold"), f" ({len(doc['activity'])})"))
    for item in doc["activity"]:
        activity.add(Group(
            terminal((str(item["action"]), "bold"), f" on {item['system']}: "
                     f"{item['actions']:,} action(s), {item['customers']:,} customer(s)"),
            Text(f"{clock.time(item['first'])} to {clock.time(item['last'])}")))
    privileges = tree.add(terminal(("privileges", "bold"), f" ({len(doc['privileges'])})"))
    for grant in doc["privileges"]:
        on = f" on {grant['system']}" if grant["system"] else ""
        title = terminal((str(grant["privilege"]), "bold"), f"{on} ({grant['id']})")
        privileges.add(node(title, field_lines(
            grant, clock, skip=("id", "privilege", "system"),
            keep_empty=("ticket", "approver"))))
    anomalous = doc["anomalous"]
    lines = [("customers", value_text(anomalous["customers"], clock)),
             ("unrefunded charges", value_text(anomalous["unrefunded_charges"], clock)),
             ("changes", value_text(anomalous["changes"], clock) if anomalous["changes"]
              else "none")]
    lines += money_lines(anomalous["by_currency"], ("amount", "outstanding_amount"))
    tree.add(node(terminal(("anomalous charges", "bold"), f": {anomalous['charges']:,}"),
                  lines))
    tree.add(rules_node(doc["rules"], doc.get("sigma", [])))
    return tree


def money_lines(by_currency: list[dict[str, Any]], fields: tuple[str, ...]
                ) -> list[tuple[str, str]]:
    """'amount  EUR 3,223.22 + USD 12.00': per currency, never one cross-currency sum."""
    if not by_currency:  # no anomalous charge: no money, in no currency
        return [(field.replace("_", " "), "none") for field in fields]
    return [(field.replace("_", " "), fmt.moneys(by_currency, field)) for field in fields]


def verdict_of_approval(approval: dict[str, Any]) -> str:
    if not approval["approved"]:
        return "not approved"
    return "approved by its own implementer" if approval["self_approved"] else "approved"


def verdict_of_window(window: dict[str, Any]) -> str:
    if window["started_within"] is None:
        return "none recorded"
    return "started within it" if window["started_within"] else "started outside it"


def rules_node(rules: list[str], sigma: list[dict[str, Any]]) -> RenderableType:
    """The rules whose findings name the item, wrapped between names, never inside one;
    then, for each rule imported from Sigma, what the Sigma rule says of itself."""
    parts: list[RenderableType] = [terminal(("rules", "bold"), f" ({len(rules)})"),
                                   Text(", ".join(rules) if rules else "none")]
    parts += [sigma_node(rule) for rule in sigma]
    return Group(*parts)


def sigma_node(rule: dict[str, Any]) -> RenderableType:
    """'Sigma: <title>' and its id, level and ATT&CK tags (text from the rule file:
    shown literally)."""
    lines = [("rule", rule["rule"]), ("sigma id", rule["id"] or "-"),
             ("level", rule["level"] or "-"), ("tags", ", ".join(rule["tags"]) or "none")]
    return node(terminal(("Sigma", "bold"), ": ", rule["title"] or rule["rule"]),
                [(name, visible(value)) for name, value in lines])
