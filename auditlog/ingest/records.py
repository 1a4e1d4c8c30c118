"""JSON records (`DOCS`, one object per row) staged by their own keys: one column a key.

The readers of JSON Lines, JSON documents and wide CSV files, the salvage reader and
`ingest_rows` (rows given as data, e.g. a rule case's) all leave their records in `DOCS`;
records of a standard format go to its adapter instead (sources.stage_records), the
others come here.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest import numbers
from auditlog.ingest.staging import CONTRACT_NAMES, DOCS, STAGE, WIDE, Staged
from auditlog.kinds import KINDS
from auditlog.sqltext import json_path, sql_list


def mark_repeated_keys(con: duckdb.DuckDBPyConnection) -> None:
    """An object that repeats a key is quarantined: which value it means is unknowable
    (DuckDB reads the first, jq and Python the last), and keeping one would silently
    drop the other."""
    con.execute(
        f"""
        UPDATE {DOCS} SET _bad = 'the object repeats the key(s) ' || array_to_string(
            list_distinct(list_filter(k, lambda x: len(list_filter(k, lambda y: y = x)) > 1)),
            ', ') || ' (which value is meant cannot be told)'
        FROM (SELECT _row AS r, _loc AS l, json_keys(_raw) AS k FROM {DOCS} WHERE _bad IS NULL)
        WHERE _row = r AND _loc = l AND len(k) <> len(list_distinct(k))
        """
    )


def is_native(keys: set[str]) -> bool:
    """Whether records with these keys hold the required columns of some kind (as
    validate.detect_kind reads column names: trimmed, any case)."""
    present = {k.strip().lower() for k in keys}
    return any(kind.required <= present for kind in KINDS.values())


def record_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every top-level key of the readable records, sorted."""
    return [
        k
        for (k,) in con.execute(
            f"""
            SELECT DISTINCT unnest(json_keys(_raw)) AS k FROM {DOCS} WHERE _bad IS NULL
            ORDER BY k
            """
        ).fetchall()
    ]


# More distinct key sets than this and a file's records are not told apart by them (see
# record_shapes): records whose every key set differs are not records of a few formats.
MAX_SHAPES = 10_000


def record_shapes(con: duckdb.DuckDBPyConnection) -> list[tuple[str, ...]] | None:
    """The distinct key sets (each sorted) of the readable records, sorted: what an
    adapter is chosen by, per record (sources.stage_records). One pass over `DOCS`, as
    record_keys; a file of one format has a handful. None when there are more than
    MAX_SHAPES (then record_keys says what the file holds). (The keys are sorted here,
    not in SQL: sorting each record's list costs more than the pass itself.)"""
    listed = con.execute(
        f"SELECT DISTINCT json_keys(_raw) FROM {DOCS} WHERE _bad IS NULL LIMIT $limit",
        {"limit": MAX_SHAPES + 1},
    ).fetchall()
    if len(listed) > MAX_SHAPES:
        return None
    return sorted({tuple(sorted(keys)) for (keys,) in listed})


def mark_strangers(con: duckdb.DuckDBPyConnection, shapes: list[tuple[str, ...]],
                   fmt: str) -> None:
    """Quarantine the records of `shapes` (key sets no format claims) in a file of the
    one format `fmt`, saying so. A record that shares no key at all with that format's
    records (an Office 365 record among Okta events) is no damaged event of that format,
    so the format's own reason ("Okta event without eventType") would misname it; one
    that shares some (a Kubernetes event without verb) stays the format's to judge."""
    for shape in shapes:
        listed = ", ".join(shape[:6]) + (", ..." if len(shape) > 6 else "")
        reason = (f"a record of no format auditlog reads (its keys: {listed}): it shares "
                  f"no key with this file's {fmt} records and holds no kind's columns")
        con.execute(
            f"UPDATE {DOCS} SET _bad = $reason "
            "WHERE _bad IS NULL AND list_sort(json_keys(_raw)) = $shape",
            {"reason": reason, "shape": list(shape)},
        )


def stage_by_keys(con: duckdb.DuckDBPyConnection, keys: list[str]) -> Staged:
    """`DOCS` → `STAGE` with one column per key (`keys`, from record_keys)."""
    if keys:
        # One parse per row: json_extract with a list of paths returns every value at
        # once. Paths quote the key, so `TS` and `ts` stay two columns. A wide row's
        # other keys are not made columns: validation reads them from `_raw`
        # (validate.WIDE), and thousands of columns would take minutes to plan.
        columns = [
            i for i, k in enumerate(keys)
            if len(keys) <= WIDE or k.strip().lower() in CONTRACT_NAMES
        ]
        paths = sql_list([json_path(keys[i]) for i in columns])
        fields = ", ".join(f"_v[{j + 1}] AS c{i}" for j, i in enumerate(columns))
        con.execute(
            f"""
            CREATE TEMP TABLE {STAGE} AS
            SELECT _row, _loc, _raw, _bad, {fields}
            FROM (SELECT *, CASE WHEN _bad IS NULL THEN json_extract(_raw, {paths})
                                 END AS _v FROM {DOCS})
            ORDER BY _row
            """
        )
    else:
        con.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT _row, _loc, _raw, _bad FROM {DOCS}")
    (written,) = con.execute(
        f"SELECT coalesce(bool_or(regexp_matches(_raw, $member)), false) FROM {DOCS} "
        "WHERE _bad IS NULL", {"member": numbers.MEMBER}).fetchone() or (False,)
    return Staged(columns=keys, style="json", written_numbers=bool(written))
