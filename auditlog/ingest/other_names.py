"""Other names exports give the contract's required columns (`created_at` for `ts`,
`customer_id` for `account`), to say which source column may be which when a file lacks
one: auditlog never renames a column by guessing (a guessed `id` may be the wrong id),
it says what a mapping file could rename (docs/mappings.md)."""

from __future__ import annotations

import re

from auditlog.kinds import Kind

# Per required column, names exports commonly give it, compared without case, spaces,
# dots, dashes or underscores. Only required columns: a file lacking one cannot load.
OTHER_NAMES: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp", "time", "when", "datetime", "date", "eventtime", "event_time", "created",
           "created_at", "createdat", "creation_time", "occurred_at", "occurredat",
           "published", "charged_at", "charge_date", "billed_at", "billing_date",
           "transaction_date", "@timestamp", "logged_at", "event_date"),
    "actor": ("user", "username", "user_name", "userid", "user_id", "principal",
              "performed_by", "performedby", "operator", "initiator", "actor_id",
              "actor_name", "who", "caller", "login"),
    "action": ("event", "eventname", "event_name", "event_type", "eventtype", "operation",
               "activity", "verb", "action_type", "method", "command"),
    "system": ("application", "app", "service", "source", "source_system", "eventsource",
               "event_source", "host", "platform", "component"),
    "subject": ("target", "target_user", "targetuser", "member", "grantee", "principal",
                "assignee", "user", "account", "target_account"),
    "privilege": ("role", "role_name", "permission", "group", "group_name", "entitlement",
                  "policy", "scope", "right"),
    "operation": ("action", "change_type", "op", "event_type", "activity"),
    "change_id": ("number", "change_number", "change", "change_request", "cr", "rfc",
                  "ticket_id", "id", "key", "deployment_id", "release"),
    "implementer": ("assignee", "assigned_to", "implemented_by", "deployed_by", "owner",
                    "author", "executor", "engineer", "requested_by"),
    "started_at": ("start", "start_time", "start_date", "started", "deployed_at",
                   "work_start", "actual_start", "implemented_at", "opened_at", "ts",
                   "timestamp"),
    "charge_id": ("id", "transaction_id", "invoice_id", "invoice_line_id", "line_id",
                  "charge", "payment_id", "billing_id", "txn_id", "record_id"),
    "account": ("customer", "customer_id", "customerid", "subscriber", "subscriber_id",
                "msisdn", "account_id", "accountid", "client_id", "user_id", "member_id",
                "billing_account"),
    "product": ("sku", "plan", "plan_id", "package", "package_code", "item", "item_id",
                "product_id", "product_code", "offer", "offering", "service_code",
                "description"),
    "amount": ("price", "total", "value", "amount_due", "charge_amount", "net_amount",
               "gross_amount", "sum", "cost", "fee"),
}


def normalized(name: str) -> str:
    """A column name as OTHER_NAMES compares it: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z@]", "", name.strip().lower())


_BY_NORMAL = {column: {normalized(n) for n in names} for column, names in OTHER_NAMES.items()}


def absent_required(kind: Kind, columns: list[str]) -> list[str]:
    """The required columns of `kind` the file has no column for (names match without
    case, as the contract says)."""
    present = {c.strip().lower() for c in columns}
    return [c.name for c in kind.columns if c.required and c.name not in present]


def likely_names(kind: Kind, columns: list[str]) -> dict[str, str]:
    """For each required column of `kind` the file lacks, the first of its columns that
    exports commonly name so (OTHER_NAMES), each source column offered once."""
    offered: dict[str, str] = {}
    taken: set[str] = set()
    for wanted in absent_required(kind, columns):
        for column in columns:
            if column not in taken and normalized(column) in _BY_NORMAL.get(wanted, set()):
                offered[wanted] = column
                taken.add(column)
                break
    return offered


def mapping_hint(offered: dict[str, str]) -> str:
    """The [columns] lines of a mapping file that would rename `offered`."""
    return ", ".join(f'"{source}" = "{wanted}"' for wanted, source in offered.items())
