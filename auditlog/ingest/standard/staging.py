"""What every standard-format adapter shares.

An adapter writes one SQL statement that turns `_docs` into a *mapped* table: the
columns `_row, _loc, _raw, _bad`, a `_kind` saying which kind each row maps onto, and
value columns named as auditlog names them (canonical names become typed columns, all
others are kept in `extra`). `split_by_kind` then cuts it into one staging table per
kind, in the shape readers.Staged describes.

Why one mapped table: every `_docs` row must land in exactly one staging table (so that
loaded + duplicates + quarantined = rows read holds), and that is easiest to see when
one statement produces them all and the split is a partition by `_kind`.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.readers import Staged, _json_path, _quote_ident, _sql_string


def extract(paths: dict[str, str], source: str = "_docs") -> str:
    """SELECT over `source` adding one JSON column per `name: path`.

    `json_extract` with a list of paths parses each record once for all of them, which
    is what keeps million-record files fast; per-field `->` would parse once per field.
    """
    listed = "[" + ", ".join(_sql_string(p) for p in paths.values()) + "]"
    fields = ",\n  ".join(f"_v[{i + 1}] AS {name}" for i, name in enumerate(paths))
    return (
        f"SELECT _row, _loc, _raw, _bad,\n  {fields}\n"
        f"FROM (SELECT *, CASE WHEN _bad IS NULL THEN json_extract(_raw, {listed}) END AS _v "
        f"FROM {source})"
    )


def key(name: str) -> str:
    """JSON path of a top-level key, quoted (keys such as `@timestamp` need it)."""
    return _json_path(name)


def text(column: str) -> str:
    """SQL for a JSON column's value as trimmed text; NULL for null, missing or ''."""
    return f"nullif(trim({column} ->> '$'), '')"


def split_by_kind(
    con: duckdb.DuckDBPyConnection,
    mapped: str,
    source_format: str,
    columns: dict[str, list[str]],
    default_kind: str,
) -> list[Staged]:
    """Cut `mapped` into `_stage_<format>_<kind>` tables, one per kind in `columns`
    (kind → the value columns it takes, in order). A kind with no rows gets no table,
    except `default_kind`, so an adapter always stages something. Rows whose `_kind` is
    not in `columns` go to `default_kind`: nothing is lost."""
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {mapped})").fetchall())
    listed = ", ".join(_sql_string(k) for k in columns)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _split AS
        SELECT *, CASE WHEN _kind IN ({listed}) THEN _kind ELSE $default END AS _target
        FROM {mapped}
        """,
        {"default": default_kind},
    )
    counts = dict(con.execute("SELECT _target, count(*) FROM _split GROUP BY ALL").fetchall())
    staged: list[Staged] = []
    for kind, names in columns.items():
        if not counts.get(kind) and kind != default_kind:
            continue
        table = f"_stage_{source_format}_{kind}"
        values = "".join(
            f",\n  {_as_json(n, types[n])} AS c{i}" for i, n in enumerate(names)
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT _row, _loc, _raw, _bad{values}
            FROM _split WHERE _target = $kind ORDER BY _row, _loc
            """,
            {"kind": kind},
        )
        staged.append(Staged(columns=names, style="json", table=table, kind=kind,
                             source_format=source_format))
    con.execute("DROP TABLE _split")
    con.execute(f"DROP TABLE {mapped}")
    return staged


def _as_json(name: str, sql_type: str) -> str:
    column = _quote_ident(name)
    # Text stays text; numbers and booleans stay JSON numbers and booleans in `extra`.
    return column if sql_type == "JSON" else f"to_json({column})"
