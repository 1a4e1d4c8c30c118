"""The report's incidents and what is left to do about them.

An incident is one responsible (change, account) pair of the incident summary, across
its currencies: the change's implementer and approver are accountable for what the
account billed under it; an account acting with no change to blame is accountable
itself (a service account through its owner). They head the report, so a manager reads
names and money before change ids; the chart gives each its own colour and pattern.

The refunds still to do are the remediation lines with an outstanding amount, the same
rows `auditlog remediation` lists (analysis/refunds.py)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from auditlog.analysis.refunds import refund_lines
from auditlog.analysis.summary import Party
from auditlog.report.model import Directory, Incident, RefundDue
from auditlog.report.sections import money_of, unique

SERVICE = "service"


def incidents(parties: Sequence[Party], people: dict[str, Directory],
              frame: pl.DataFrame) -> list[Incident]:
    """One incident per (change, account), in the parties' order (largest first);
    customers counted once across currencies from the remediation `frame`."""
    groups: dict[tuple[str | None, str | None], list[Party]] = {}
    for p in parties:
        groups.setdefault((p.change_id, p.actor), []).append(p)
    found = []
    for (change_id, actor), group in groups.items():
        first = group[0]
        owner = owner_of(actor, people) if change_id is None else None
        if change_id is not None:
            accountable = unique(x for x in (first.implementer, first.approver) if x)
        else:
            accountable = [x for x in (owner or actor,) if x]
        found.append(Incident(
            change_id=change_id, actor=actor, implementer=first.implementer,
            approver=first.approver, owner=owner, accountable=tuple(accountable),
            charges=sum(p.charges for p in group),
            customers=customers_of(frame, change_id, actor),
            by_currency=tuple(money_of(group)),
            outstanding_charges=sum(p.outstanding_charges for p in group),
            first_cause_time=min((t for p in group if (t := p.first_cause_time)),
                                 default=None),
            last_cause_time=max((t for p in group if (t := p.last_cause_time)),
                                default=None),
        ))
    return found


def customers_of(frame: pl.DataFrame, change_id: str | None, actor: str | None) -> int:
    change = (pl.col("change_id").is_null() if change_id is None
              else pl.col("change_id") == change_id)
    who = pl.col("actor").is_null() if actor is None else pl.col("actor") == actor
    return frame.filter(change & who)["account"].n_unique() if frame.height else 0


def owner_of(account: str | None, people: dict[str, Directory]) -> str | None:
    """The person who owns a service account, when the directory names one."""
    entry = people.get(account or "") or {}
    owner = entry.get("owner")
    return str(owner) if entry.get("account_type") == SERVICE and owner else None


def refunds_due(con: duckdb.DuckDBPyConnection, change_id: str | None) -> list[RefundDue]:
    """Every anomalous charge in scope with an amount still to refund, oldest first."""
    lines = refund_lines(con, change_id)
    return [RefundDue(r["charge_id"], r["account"], r["product"], r["amount"], r["currency"],
                      r["outstanding"], r["charged_at"], r["change_id"], r["actor"])
            for r in lines.iter_rows(named=True) if r["outstanding"] and r["outstanding"] > 0]
