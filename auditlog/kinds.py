"""The five kinds of log auditlog loads, as data: one place that says which columns
each kind has, which are required, how each is typed and checked.

Everything else derives from this module: the DuckDB tables (store/database.py), kind
detection and row validation (ingest/), the rule cases' rows (engines/cases.py), the
columns the world generator writes (world/records.py), and the column reference in the
README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# How a column is parsed and stored.
#   text    VARCHAR, kept as given (trimmed; an empty string is a missing value)
#   ts      TIMESTAMPTZ, from ISO 8601 (with or without offset) or epoch s/ms
#   amount  DECIMAL(18,4), exact, at most 4 fractional digits
#   enum    VARCHAR, lower-cased and checked against `choices`
ColumnType = Literal["text", "ts", "amount", "enum"]

AMOUNT_SQL_TYPE = "DECIMAL(18,4)"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None
    doc: str = ""
    # (column, value): when the row gives this column no value but gives `column` one,
    # the default is `value` instead (a charge row naming refund_of is a refund).
    default_given: tuple[str, str] | None = None

    @property
    def sql_type(self) -> str:
        return {"ts": "TIMESTAMPTZ", "amount": AMOUNT_SQL_TYPE}.get(self.type, "VARCHAR")


@dataclass(frozen=True)
class Kind:
    name: str
    id_column: str  # the column that identifies a row; duplicates/conflicts are judged on it
    columns: tuple[Column, ...]
    doc: str = ""
    # Columns derived from others when missing (event_id from the row's content).
    generated_id: bool = field(default=False)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.required)

    @property
    def time_column(self) -> str:
        """The column that places a row in time (for status and time filters)."""
        return "started_at" if self.name == "changes" else (
            "created_at" if self.name == "accounts" else "ts"
        )

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


ACTOR_TYPES = ("human", "service", "customer", "system")

ACTIONS = Kind(
    name="actions",
    id_column="event_id",
    generated_id=True,
    doc="What accounts did: operators, service accounts, customers.",
    columns=(
        Column("event_id", doc="unique id; when missing, a stable hash of the row's content"),
        Column("ts", "ts", required=True, doc="when it happened"),
        Column("actor", required=True, doc="account that acted"),
        Column("actor_type", "enum", choices=ACTOR_TYPES, doc="human, service, customer or system"),
        Column("action", required=True, doc="verb: subscribe, confirm_order, login, ..."),
        Column("system", required=True, doc="system it happened in"),
        Column("target_account", doc="customer account acted upon"),
        Column("object", doc="product/package code or other resource"),
        Column("order_id", doc="order the action belongs to"),
        Column("change_id", doc="change the action was performed under"),
        Column("channel", doc="app, counter, batch, api, sms, third_party, console, ..."),
        Column("result", "enum", choices=("success", "failure"), default="success"),
        Column("source_ip"),
        Column("session_id"),
    ),
)

PRIVILEGES = Kind(
    name="privileges",
    id_column="event_id",
    generated_id=True,
    doc="Grants and revocations of roles and permissions.",
    columns=(
        Column("event_id", doc="unique id; when missing, a stable hash of the row's content"),
        Column("ts", "ts", required=True, doc="when the privilege changed"),
        Column("actor", required=True, doc="account that made the change (the granter)"),
        Column("subject", required=True, doc="account whose privileges changed"),
        Column("privilege", required=True, doc="role or permission name"),
        Column("operation", "enum", required=True, choices=("grant", "revoke")),
        Column("system", doc="system the privilege applies to"),
        Column("ticket", doc="approval ticket or change id authorizing it"),
        Column("approver", doc="account that approved it"),
        Column("expires_at", "ts", doc="end of a temporary grant"),
    ),
)

CHANGES = Kind(
    name="changes",
    id_column="change_id",
    doc="Change and deployment records.",
    columns=(
        Column("change_id", required=True, doc="unique id"),
        Column("system", required=True, doc="system changed"),
        Column("kind", "enum", choices=("upgrade", "config", "hotfix", "rollback", "other")),
        Column("summary"),
        Column("implementer", required=True, doc="account that carried it out"),
        Column("approver", doc="account that approved it; missing means unapproved"),
        Column("ticket"),
        Column("window_start", "ts", doc="approved maintenance window start"),
        Column("window_end", "ts", doc="approved maintenance window end"),
        Column("started_at", "ts", required=True, doc="when it took effect"),
        Column("finished_at", "ts"),
        Column("status", "enum", choices=("success", "failed", "rolled_back")),
    ),
)

CHARGES = Kind(
    name="charges",
    id_column="charge_id",
    doc="Billing records: charges and refunds.",
    columns=(
        Column("charge_id", required=True, doc="unique id"),
        Column("ts", "ts", required=True, doc="when charged"),
        Column("account", required=True, doc="customer account charged"),
        Column("product", required=True, doc="product/package code"),
        Column("amount", "amount", required=True, doc="positive decimal"),
        Column("currency", doc="ISO 4217; default from configuration"),
        Column("type", "enum", choices=("one_time", "recurring", "refund"), default="one_time",
               default_given=("refund_of", "refund"),
               doc="one_time, recurring or refund; missing: refund when refund_of is given, "
                   "else one_time"),
        Column("refund_of", doc="for a refund: the charge_id it refunds"),
        Column("order_id"),
        Column("initiated_by", doc="account that triggered the charge"),
        Column("system"),
        Column("channel"),
    ),
)

ACCOUNTS = Kind(
    name="accounts",
    id_column="account",
    doc="Directory of operator and service accounts (optional).",
    columns=(
        Column("account", required=True, doc="account id as used in actor, subject, ..."),
        Column("display_name"),
        Column("team"),
        Column("manager"),
        Column("account_type", "enum", choices=("human", "service", "system")),
        Column("owner", doc="for a service account: the human or team accountable"),
        Column("status"),
        Column("created_at", "ts"),
        Column("disabled_at", "ts"),
    ),
)

KINDS: dict[str, Kind] = {k.name: k for k in (ACTIONS, PRIVILEGES, CHANGES, CHARGES, ACCOUNTS)}

# Bookkeeping columns every stored row carries: where it came from, and a digest of its
# content used to tell a duplicate (same id, same content) from a conflict.
SOURCE_COLUMNS = (
    ("extra", "JSON"),  # columns beyond the contract's, never dropped
    ("_file", "VARCHAR"),  # SHA-256 of the source file
    ("_row", "BIGINT"),  # line (JSON Lines), element, record or Parquet row number, from 1
    ("_digest", "UBIGINT"),  # MD5 of the row's normalized content: its upper 64 bits
)
