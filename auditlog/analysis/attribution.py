"""Remediation and traces: from an anomalous charge to the action that caused it, the
privilege that allowed that action and the change it ran under; and from a change to
everything it cost customers. The model is docs/attribution.md; its SQL is the shared
views in queries/shared/, the same ones the billing rules use.

Functions take any connection to the database (read-only is enough) and return polars
DataFrames or typed records (traces.py) whose `as_json()` is the documents' JSON.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from auditlog.analysis.sigma_rules import sigma_rules
from auditlog.analysis.traces import (
    ActionStep,
    ChangeStep,
    ChargeStep,
    ChargeTrace,
    PrivilegeStep,
    Responsible,
    Step,
    UnknownChangeStep,
)
from auditlog.engines.sandbox import install_shared_views
from auditlog.errors import UsageError
from auditlog.store.attribution import (
    EVIDENCE_TABLE,
    evidence_is_fresh,
    evidence_rules,
    key_locators,
    stored_name,
)
from auditlog.store.attribution import table_exists as has_table  # not findings.py: polars
from auditlog.values import decimal_text, iso_utc

if TYPE_CHECKING:  # DuckDB's .pl() imports polars when a frame is asked for; a trace of
    import polars as pl  # one charge needs none (start time, issue 14)

    from auditlog.analysis.change_traces import AccountTrace, ChangeTrace
    from auditlog.analysis.undecided import PairingGroup

# A charge's trace imports neither the change and account traces' records
# (change_traces.py), nor the money sums (money.py), nor the look-up of a near id
# (browse.py, only for an unknown id), nor source records unless asked: each function
# imports what it uses (start time, issue 14; tests/test_start_imports.py).

REMEDIATION_COLUMNS = ("charge_id", "account", "product", "amount", "currency", "charged_at",
                       "refunded", "refund_id", "change_id", "actor", "cause_time", "rules")


def charge_rules_sql(con: duckdb.DuckDBPyConnection) -> str:
    """(charge_id, rules): rule ids of stored findings whose evidence names the charge."""
    if not has_table(con, "findings"):
        return "SELECT CAST(NULL AS VARCHAR) AS charge_id, CAST([] AS VARCHAR[]) AS rules LIMIT 0"
    if evidence_is_fresh(con):
        return f"""
        SELECT item AS charge_id, list_sort(list_distinct(list(rule_id))) AS rules
        FROM {EVIDENCE_TABLE} GROUP BY item"""
    return """
        SELECT item AS charge_id, list_sort(list_distinct(list(rule_id))) AS rules
        FROM (SELECT rule_id, unnest(evidence) AS item FROM findings WHERE present) AS f
        GROUP BY item"""


def remediation(con: duckdb.DuckDBPyConnection, change_id: str | None = None) -> pl.DataFrame:
    """Every anomalous charge, one per row, with the contract's remediation columns."""
    install_shared_views(con)
    where = "WHERE a.change_id = ?" if change_id is not None else ""
    sql = f"""
        SELECT a.charge_id, a.account, a.product, a.amount, a.currency,
               a.charged_at, a.refunded, a.refund_id, a.change_id, a.actor, a.cause_time,
               coalesce(r.rules, CAST([] AS VARCHAR[])) AS rules
        FROM anomalous_charges AS a
        LEFT JOIN ({charge_rules_sql(con)}) AS r ON r.charge_id = a.charge_id
        {where}
        ORDER BY a.charged_at, a.charge_id"""
    return con.sql(sql, params=[change_id] if change_id is not None else None).pl()


def remediation_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Remediation rows for JSON: ISO times with Z, amounts as exact decimal strings."""
    return [
        {**row, "amount": decimal_text(row["amount"]), "charged_at": iso_utc(row["charged_at"]),
         "cause_time": iso_utc(row["cause_time"]), "rules": list(row["rules"] or [])}
        for row in frame.select(REMEDIATION_COLUMNS).iter_rows(named=True)
    ]


def one_row(con: duckdb.DuckDBPyConnection, sql: str,
            args: list[Any] | dict[str, Any]) -> dict[str, Any] | None:
    """The first row of a query by column name, its values typed as DuckDB gives them."""
    result = con.execute(sql, args)
    row = result.fetchone()
    names = [column[0] for column in result.description or ()]
    result.fetchall()  # a result left unfinished blocks the connection's next query
    return dict(zip(names, row, strict=True)) if row is not None else None


@dataclass(frozen=True)
class Cause:
    """A charge as the model judges it (the shared view charge_causes), with the change
    it is blamed on and whether it is refunded: what a charge's trace is told from."""

    charge_id: str
    ts: datetime
    account: str
    product: str
    amount: Decimal
    currency: str | None
    charge_type: str
    order_id: str | None
    initiated_by: str | None
    cause_event_id: str | None
    cause_ts: datetime | None
    cause_actor: str | None
    cause_action: str | None
    cause_change_id: str | None
    cause_order_id: str | None
    customer_authorized: bool
    anomalous: bool
    actor: str | None
    cause_time: datetime
    blamed_change_id: str | None
    refunded: bool
    refund_id: str | None


CAUSE_SQL = """
    SELECT cc.charge_id, cc.ts, cc.account, cc.product, cc.amount, cc.currency,
           cc.charge_type, cc.order_id, cc.initiated_by, cc.cause_event_id, cc.cause_ts,
           cc.cause_actor, cc.cause_action, cc.cause_change_id, cc.cause_order_id,
           cc.customer_authorized, cc.anomalous, cc.actor, cc.cause_time,
           a.change_id AS blamed_change_id,
           coalesce(r.refunded_amount >= cc.amount, false) AS refunded,
           r.first_refund_id AS refund_id
    FROM charge_causes AS cc
    LEFT JOIN anomalous_charges AS a ON a.charge_id = cc.charge_id
    LEFT JOIN charge_refunds AS r ON r.charge_id = cc.charge_id
    WHERE cc.charge_id = ?"""


def cause_row(con: duckdb.DuckDBPyConnection, charge_id: str,
              stored: Collection[str] | None = None) -> dict[str, Any] | None:
    """CAUSE_SQL's row for `charge_id`. Over the stored charge_causes, which is unsorted
    (store/attribution.py), the charge's ts is read from its key table first and the wide
    row filtered by it too, which the zone maps of ts prune to a row group or two.
    `stored`: the views install_shared_views said read their stored tables (else the
    installed view is looked up in the catalog)."""
    over_stored = reads_stored(con, "charge_causes") if stored is None \
        else "charge_causes" in stored
    located = key_locators(con, "charge_causes", charge_id) if over_stored else None
    if located is None:
        return one_row(con, CAUSE_SQL, [charge_id])
    if not located:
        return None  # not a charge of charge_causes: CAUSE_SQL has no row either
    marks = ", ".join("?" for _ in located)
    return one_row(con, f"{CAUSE_SQL} AND cc.ts IN ({marks})", [charge_id, *located])


def reads_stored(con: duckdb.DuckDBPyConnection, view: str) -> bool:
    """Whether the installed TEMP view `view` reads its stored table (a fresh one:
    install_shared_views installs it so only then)."""
    rows = con.execute("SELECT sql FROM duckdb_views() WHERE temporary AND view_name = ?",
                       [view]).fetchall()
    return len(rows) == 1 and f"FROM {stored_name(view)}" in str(rows[0][0])


# The shared views each trace's SQL reads, in all its branches: the only ones it installs
# (with what they are built from), so that over fresh stored tables a trace binds four
# one-line views, not the whole model (start time, issue 14). tests/test_trace_views.py
# checks them against the SQL the traces run.
CHARGE_VIEWS = ("charge_causes", "anomalous_charges", "charge_refunds", "privilege_grants",
                "model_params", "order_actions", "sale_charges")
CHANGE_VIEWS = ("anomalous_charges", "change_controls")
ACCOUNT_VIEWS = ("anomalous_charges", "privilege_grants")

# The kind of the row each step of a charge's chain is.
STEP_KINDS = {"charge": "charges", "action": "actions", "privilege": "privileges",
              "change": "changes"}


def not_a_charge(con: duckdb.DuckDBPyConnection, charge_id: str) -> str:
    """Why `charge_id` has no trace, in one sentence: a refund names the charge to trace
    instead (never itself as the nearest id); anything else gets the nearest ids."""
    from auditlog.analysis.browse import did_you_mean, nearest

    refund = con.execute("SELECT refund_of FROM charges WHERE charge_id = $id "
                         "AND type = 'refund' LIMIT 1", {"id": charge_id}).fetchone()
    if refund is not None:
        target = ("it names no charge (refund_of is empty)" if refund[0] is None
                  else f"trace the charge it refunds: auditlog trace charge {refund[0]}")
        return f"{charge_id} is a refund, not a charge; refunds are not traced: {target}"
    return (f"no charge '{charge_id}'"
            f"{did_you_mean(nearest(con, 'charges', 'charge_id', charge_id))}; "
            "refunds are not traced: trace the charge they refund")


def trace_charge(con: duckdb.DuckDBPyConnection, charge_id: str, *,
                 records: bool = False) -> ChargeTrace:
    """charge → causal action → privilege that allowed it → change; and the rules.
    `records`: with the source record of each row of the chain (source_records.py)."""
    stored = install_shared_views(con, reads=CHARGE_VIEWS)
    row = cause_row(con, charge_id, stored)
    if row is None:
        raise UsageError(not_a_charge(con, charge_id))
    cause = Cause(**row)
    anomalous = bool(cause.anomalous)
    change_id = cause.blamed_change_id if anomalous else cause.cause_change_id
    chain: list[Step] = [charge_step(cause)]
    action = action_step(con, cause.cause_event_id, cause.cause_ts)
    if action is not None:
        chain.append(action)
        grant = privilege_step(con, action)
        if grant is not None:
            chain.append(grant)
    if change_id is not None:
        chain.append(change_step(con, change_id))
    rules = rules_for(con, charge_id)
    group = pairing(con, cause)
    if records:
        from auditlog.analysis.source_records import source_records
    return ChargeTrace(
        charge_id=charge_id, anomalous=anomalous,
        responsible=Responsible(change_id, cause.actor, cause.cause_time),
        reason=verdict_reason(cause, group),
        undecided=group.undecided(cause.account, cause.product) if group else None,
        chain=tuple(chain),
        rules=tuple(rules), sigma=sigma_rules(con, rules),
        source_records=source_records(con, [(STEP_KINDS[s.step], s.id) for s in chain])
        if records else None,
    )


def verdict_reason(cause: Cause, group: PairingGroup | None = None) -> str:
    """Why the charge is judged as it is, in one sentence (docs/attribution.md); `group`,
    the charges and orders it could pair with (pairing)."""
    if cause.charge_type != "one_time":
        return "a recurring fee bills an existing plan and needs no order"
    account, product = cause.account, cause.product
    if cause.cause_event_id is None and group is not None and group.orders:
        return (f"each order of {account} for {product} within its reach is billed by "
                "another charge, paired in time order before it, so nobody can show this "
                "one was ordered")
    if cause.cause_event_id is None:
        return (f"no order of {account} for {product} names this charge's order or lies "
                "within reach before it, so nobody can show it was ordered")
    named = cause.order_id is not None and cause.order_id == cause.cause_order_id
    how = ("its order_id" if named else
           f"account, product and time (the charge's order_id {cause.order_id} is on no "
           "action)" if cause.order_id is not None else "account, product and time")
    early = cause.cause_ts is not None and cause.cause_ts > cause.ts
    skew = " (billing's clock is taken to run behind: the charge is written before it)" \
        if early else ""
    if cause.customer_authorized:
        return (f"paired by {how} with {cause.cause_action} {cause.cause_event_id}"
                f"{skew}, on an order {account} itself acted on")
    return (f"paired by {how} with {cause.cause_action} {cause.cause_event_id} by "
            f"{cause.cause_actor}{skew}; {account} itself never acted on that order")


def pairing(con: duckdb.DuckDBPyConnection, cause: Cause) -> PairingGroup | None:
    """The group of charges and orders a charge paired by account, product and time can
    pair with (undecided.py), which says what the logs cannot decide of it: more orders
    than charges of which the customer acted on some and not others, or more charges
    than orders (PairingGroup.undecided; the verdict stays the model's, time order).
    None for a charge its order_id pairs, or a recurring one: nothing is open there."""
    named = cause.order_id is not None and cause.order_id == cause.cause_order_id
    if cause.charge_type != "one_time" or named:
        return None
    from auditlog.analysis.undecided import pairing_group  # a charge paired by id needs none

    return pairing_group(con, cause.charge_id, cause.ts, cause.account, cause.product)


def charge_step(cause: Cause) -> ChargeStep:
    return ChargeStep(
        id=cause.charge_id, time=cause.ts, account=cause.account,
        product=cause.product, amount=cause.amount, currency=cause.currency,
        type=cause.charge_type, order_id=cause.order_id,
        initiated_by=cause.initiated_by,
        customer_authorized=bool(cause.customer_authorized),
        refunded=bool(cause.refunded), refund_id=cause.refund_id,
    )


def action_step(con: duckdb.DuckDBPyConnection, event_id: str | None,
                at: datetime | None = None) -> ActionStep | None:
    """The action `event_id`; `at`, its time when known (the cause's, taken from that
    row): logs mostly arrive in time order, so the time's zone maps leave the scan one
    row group to read instead of every event id (a third of a second at 10M, issue 14)."""
    if event_id is None:
        return None
    when = "" if at is None else "AND ts = CAST(? AS TIMESTAMPTZ)"
    row = one_row(con, f"""
        SELECT event_id AS id, ts AS time, actor, actor_type, action, system, target_account,
               object, order_id, change_id, channel, result
        FROM actions WHERE event_id = ? {when} ORDER BY ts LIMIT 1""",
                  [event_id] if at is None else [event_id, at])
    return ActionStep(**row) if row is not None else None


def privilege_step(con: duckdb.DuckDBPyConnection, action: ActionStep) -> PrivilegeStep | None:
    """The latest grant to the actor not revoked at the action's time: one unexpired then
    first (a temporary grant that lapsed before the action did not let it act, though
    it is shown when nothing else was granted: the expiry says how it got there), for
    the action's system (or for no particular system) first, else one on any system."""
    row = one_row(con, """
        SELECT grant_event_id AS id, granted_at AS time, subject, privilege, system, granter,
               ticket, approver, expires_at, revoked_at
        FROM privilege_grants
        WHERE subject = $actor AND granted_at <= CAST($at AS TIMESTAMPTZ)
          AND (revoked_at IS NULL OR revoked_at > CAST($at AS TIMESTAMPTZ))
        ORDER BY CASE WHEN expires_at IS NULL OR expires_at > CAST($at AS TIMESTAMPTZ)
                      THEN 0 ELSE 1 END,
                 CASE WHEN system IS NULL OR system = $system THEN 0 ELSE 1 END,
                 granted_at DESC, grant_event_id DESC
        LIMIT 1""", {"actor": action.actor, "at": action.time, "system": action.system})
    return PrivilegeStep(**row) if row is not None else None


def change_step(con: duckdb.DuckDBPyConnection, change_id: str) -> ChangeStep | UnknownChangeStep:
    """The change's record, or its id alone when no change record holds it (an action may
    name a change the change log does not)."""
    row = one_row(con, """
        SELECT change_id AS id, started_at AS time, system, kind, summary, implementer,
               approver, ticket, window_start, window_end, finished_at, status
        FROM changes WHERE change_id = ? LIMIT 1""", [change_id])
    return ChangeStep(**row) if row is not None else UnknownChangeStep(change_id)


def rules_for(con: duckdb.DuckDBPyConnection, item_id: str) -> list[str]:
    if not has_table(con, "findings"):
        return []
    if evidence_is_fresh(con):  # the run's index: a point look-up
        return evidence_rules(con, item_id)
    rows = con.execute("SELECT DISTINCT rule_id FROM findings WHERE present "
                       "AND list_contains(evidence, ?) ORDER BY rule_id", [item_id]).fetchall()
    return [r[0] for r in rows]


def change_columns() -> str:
    """The change record's columns, in the order of its record (and of the trace's JSON)."""
    from auditlog.analysis.change_traces import ChangeRecord

    return ", ".join(f.name for f in fields(ChangeRecord))


def trace_change(con: duckdb.DuckDBPyConnection, change_id: str, *,
                 records: bool = False) -> ChangeTrace:
    """The change, its approval and window (as the control views judge them), and its
    impact on customers; `records`: with the change record's source record."""
    from auditlog.analysis.change_traces import (
        Approval,
        ChangeImpact,
        ChangeRecord,
        ChangeTrace,
        Window,
    )
    from auditlog.analysis.money import currency_money, one_currency, one_sum
    from auditlog.analysis.source_records import source_records

    install_shared_views(con, reads=CHANGE_VIEWS)
    change = one_row(con, f"SELECT {change_columns()} FROM changes WHERE change_id = ? "
                     "LIMIT 1", [change_id])
    if change is None:
        from auditlog.analysis.browse import did_you_mean, nearest

        raise UsageError(f"no change '{change_id}'"
                         f"{did_you_mean(nearest(con, 'changes', 'change_id', change_id))}; "
                         "'auditlog changes' lists the changes")
    impact = one_row(con, """
        SELECT count(*) AS charges, count(DISTINCT account) AS accounts,
               count(*) - count(CASE WHEN refunded THEN 1 END) AS unrefunded_charges,
               list_sort(list_distinct(list(actor))) AS actors,
               min(cause_time) AS first_cause_time, max(cause_time) AS last_cause_time
        FROM anomalous_charges WHERE change_id = ?""", [change_id]) or {}
    money = currency_money(con, "change_id = ?", [change_id])
    failed = failed_change_checks(con, change_id)
    start, end = change["window_start"], change["window_end"]
    rules = rules_for(con, change_id)  # once: its rules and their Sigma metadata
    return ChangeTrace(
        change=ChangeRecord(**change),
        approval=Approval(change["approver"], change["ticket"],
                          approved="no_approval" not in failed,
                          self_approved="self_approval" in failed),
        window=Window(start, end, None if start is None and end is None else
                      "outside_window" not in failed),
        impact=ChangeImpact(
            charges=int(impact["charges"]), accounts=int(impact["accounts"]),
            amount=one_sum(money, "amount"), refunded_amount=one_sum(money, "refunded_amount"),
            currency=one_currency(money), unrefunded_charges=int(impact["unrefunded_charges"]),
            actors=tuple(a for a in impact["actors"] or [] if a is not None),
            first_cause_time=impact["first_cause_time"],
            last_cause_time=impact["last_cause_time"], by_currency=tuple(money)),
        rules=tuple(rules), sigma=sigma_rules(con, rules),
        source_records=source_records(con, [("changes", change_id)]) if records else None,
    )


def failed_change_checks(con: duckdb.DuckDBPyConnection, change_id: str) -> set[str]:
    """The checks the change fails, from controls/change_controls.sql: its approval and
    window are judged there, with the model's grace, as the rules and the report judge
    them."""
    rows = con.execute("SELECT check_name FROM change_controls WHERE change_id = ?",
                       [change_id]).fetchall()
    return {r[0] for r in rows}


def trace_account(con: duckdb.DuckDBPyConnection, account: str, *,
                  records: bool = False) -> AccountTrace:
    """An operator or service account: what it did, with which privileges, and which
    customers and charges it affected; `records`: with the source records of its
    directory row and of each grant."""
    from auditlog.analysis.change_traces import (
        AccountImpact,
        AccountTrace,
        Activity,
        PrivilegeHeld,
    )
    from auditlog.analysis.money import currency_money, one_currency, one_sum
    from auditlog.analysis.source_records import source_records

    install_shared_views(con, reads=ACCOUNT_VIEWS)
    directory = one_row(con, "SELECT * EXCLUDE (extra, _file, _row, _digest) FROM accounts "
                             "WHERE account = ? LIMIT 1", [account])
    activity = con.sql("""
        SELECT action, system, count(*) AS actions, count(DISTINCT target_account) AS customers,
               min(ts) AS first, max(ts) AS last
        FROM actions WHERE actor = ? GROUP BY action, system ORDER BY first, action, system""",
                       params=[account]).pl()
    grants = con.sql("""
        SELECT grant_event_id AS id, granted_at, privilege, system, granter, ticket, approver,
               expires_at, revoked_at
        FROM privilege_grants WHERE subject = ? ORDER BY granted_at, grant_event_id""",
                     params=[account]).pl()
    impact = one_row(con, """
        SELECT count(*) AS charges, count(DISTINCT account) AS customers,
               count(*) - count(CASE WHEN refunded THEN 1 END) AS unrefunded_charges,
               list_sort(list_distinct(list(change_id))) AS changes
        FROM anomalous_charges WHERE actor = ?""", [account]) or {}
    # An account known only as the initiator of anomalous charges (a billing-only load)
    # is still traced: its charges are what there is to say about it.
    if directory is None and activity.is_empty() and grants.is_empty() \
            and not impact.get("charges"):
        from auditlog.analysis.browse import did_you_mean, nearest_account

        raise UsageError(f"no account '{account}' in actions, privileges, accounts or "
                         f"anomalous charges{did_you_mean(nearest_account(con, account))}; "
                         "'auditlog accounts' lists them")
    money = currency_money(con, "actor = ?", [account])
    held = tuple(PrivilegeHeld(**r) for r in grants.iter_rows(named=True))
    rows = [("accounts", account)] if directory is not None else []
    rules = account_rules(con, account)  # once: its rules and their Sigma metadata
    return AccountTrace(
        account=account,
        directory=directory,
        activity=tuple(Activity(**r) for r in activity.iter_rows(named=True)),
        privileges=held,
        anomalous=AccountImpact(
            charges=int(impact["charges"]), customers=int(impact["customers"]),
            amount=one_sum(money, "amount"), currency=one_currency(money),
            unrefunded_charges=int(impact["unrefunded_charges"]),
            changes=tuple(c for c in impact["changes"] or [] if c is not None),
            by_currency=tuple(money)),
        rules=tuple(rules), sigma=sigma_rules(con, rules),
        source_records=source_records(con, rows + [("privileges", g.id) for g in held])
        if records else None,
    )


def account_rules(con: duckdb.DuckDBPyConnection, account: str) -> list[str]:
    """Rules with present findings about the account: as the one who acted, or as the
    account acted upon (a grant's subject, a charged customer)."""
    if not has_table(con, "findings"):
        return []
    rows = con.execute("SELECT DISTINCT rule_id FROM findings WHERE present "
                       "AND (actor = $a OR account = $a) ORDER BY rule_id",
                       {"a": account}).fetchall()
    return [r[0] for r in rows]
