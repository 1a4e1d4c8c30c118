"""Writing values into SQL text, for the statements that cannot bind them as parameters.

DuckDB binds parameters for values, but not for identifiers, not inside a view's
definition (the view must hold the literal), and not for the JSON paths or lists that
one generated statement spells out per column. These helpers are the one way auditlog
writes such text, so that a column name or a key taken from a log file is always data.
"""

from __future__ import annotations


def escape_ident(name: str) -> str:
    """`name` for use between double quotes (a quote inside is doubled)."""
    return name.replace('"', '""')


def quote_ident(name: str) -> str:
    """`name` as a quoted SQL identifier: any text, keeping its case."""
    return f'"{escape_ident(name)}"'


def sql_string(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def json_path(key: str) -> str:
    """The JSON path of a top-level `key`. A JSON pointer, not a `$."key"` path: it can
    name every key, the empty one too (`$.""` is a binder error), and needs no quoting
    beyond ~ and /."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def sql_list(texts: list[str] | tuple[str, ...]) -> str:
    """`texts` as an SQL list literal of strings: `['a', 'b']`."""
    return "[" + ", ".join(sql_string(t) for t in texts) + "]"
