"""Refunds that name their charge but not its customer: the account (and the product)
taken from the charge they refund.

A billing API's refund is often its own object that names the charge it refunds and
nothing about whom that charge billed (a Stripe Refund: `charge`, `amount`, `currency`,
`created`, no customer, no description). The contract's charge row needs an account and
a product, and a refund's are its charge's, so a mapped refund without them takes them
from that charge: one of the same file, else one already loaded (by an earlier file of
the same call, or before). A refund whose charge is in neither, or names no account
itself, is quarantined with one sentence saying so and what to do, never dropped.

Only mapped tables of JSON and CSV/TSV files are filled (a mapping that reads a
refund's charge says `refund_of`); a native file gives its refunds' accounts itself.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import Staged
from auditlog.sqltext import quote_ident

REFUNDED = "_refunded_charges"


def _text_of(column: str, style: str) -> str:
    """SQL: a mapped column's value as trimmed text, empty and null alike NULL (a JSON
    value of a JSON file's table, the text of a CSV/TSV file's)."""
    if style == "json":
        return f"nullif(trim(json_extract_string({column}, '$')), '')"
    return f"nullif(trim({column}), '')"


def fill_from_charges(con: duckdb.DuckDBPyConnection, staged: Staged, mapping: str) -> None:
    """Give each refund of mapped table `staged` that names its charge (`refund_of`)
    but no account or product those of that charge; quarantine (`_bad`) the refunds
    whose charge cannot be found with an account."""
    names = staged.columns
    if staged.style not in ("json", "text") or not (
            {"charge_id", "account", "product", "refund_of"} <= set(names)):
        return
    style = staged.style

    def text(column: str) -> str:
        return _text_of(column, style)

    def value(text: str) -> str:  # a text as this table holds values
        return f"to_json({text})" if style == "json" else text

    cid, acc, prod, ref = (f"c{names.index(n)}"
                           for n in ("charge_id", "account", "product", "refund_of"))
    table = quote_ident(staged.table)

    def needy(t: str = "") -> str:
        return (f"{t}_bad IS NULL AND {text(t + ref)} IS NOT NULL AND "
                f"({text(t + acc)} IS NULL OR {text(t + prod)} IS NULL)")

    ((count,),) = con.execute(f"SELECT count(*) FROM {table} WHERE {needy()}").fetchall()
    if not count:
        return
    # The charges refunded: of this file first (its charge rows, not its refunds), then
    # those stored; one account and product each (a charge told twice alike).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {REFUNDED} AS
        WITH wanted AS (SELECT DISTINCT {text(ref)} AS id FROM {table} WHERE {needy()}),
        known AS (
          SELECT {text(cid)} AS id, {text(acc)} AS account, {text(prod)} AS product,
                 0 AS rank, _row
          FROM {table}
          WHERE _bad IS NULL AND {text(ref)} IS NULL AND {text(acc)} IS NOT NULL
            AND {text(cid)} IN (SELECT id FROM wanted)
          UNION ALL
          SELECT charge_id, account, product, 1, _row FROM charges
          WHERE refund_of IS NULL AND charge_id IN (SELECT id FROM wanted))
        SELECT id, arg_min(account, (rank, _row)) AS account,
               arg_min(product, (rank, _row)) AS product
        FROM known GROUP BY id
        """
    )

    def kept(column: str) -> str:  # the refund's own value where it gives one
        return f"CASE WHEN {text('t.' + column)} IS NOT NULL THEN t.{column} END"

    con.execute(
        f"""
        UPDATE {table} AS t
        SET {acc} = coalesce({kept(acc)}, {value('r.account')}),
            {prod} = coalesce({kept(prod)}, {value('r.product')})
        FROM {REFUNDED} AS r
        WHERE {needy('t.')} AND r.id = {text('t.' + ref)}
        """
    )
    con.execute(f"DROP TABLE {REFUNDED}")
    con.execute(
        f"""
        UPDATE {table} SET _bad =
          'refund ' || coalesce({text(cid)}, '(no id)') || ' names no account, and the charge '
          || 'it refunds, ' || {text(ref)} || ', is not in this file nor loaded with an '
          || 'account, so whom it refunded is unknown (mapping ' || $mapping || '): load the '
          || 'file holding that charge first (before this one in the same call, or earlier), '
          || 'then forget this file and load it again'
        WHERE _bad IS NULL AND {text(ref)} IS NOT NULL AND {text(acc)} IS NULL
        """,
        {"mapping": mapping},
    )
