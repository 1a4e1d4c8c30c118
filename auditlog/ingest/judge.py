"""Judging: the verdict on every typed row whose id is not simply new (repeated in the
file, or already stored), by one identity rule for every source."""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import SPECIAL, TYPED, VERDICT, Staged, drop
from auditlog.kinds import KINDS, Kind
from auditlog.sqltext import sql_string

# What one event is, whatever format describes it: the columns two formats of the same
# event must agree on to be a duplicate (see judge). The rest (object, channel, session,
# source_ip, actor_type, extra) is how a format describes it: CloudTrail's object is the
# first resource's ARN, OCSF's its uid; CloudTrail's session the access key, OCSF's the
# session uid.
SAME_EVENT: dict[str, tuple[str, ...]] = {
    "privileges": ("ts", "actor", "subject", "privilege", "operation", "system"),
    "actions": ("ts", "actor", "action", "system", "target_account", "result"),
}


def _agree(kind: Kind, column: str) -> str:
    """SQL: stored row `s` and new row `t` agree on `column`. An unknown result (a
    Kubernetes request logged only when received, Staged.no_default) agrees with a
    success, as before it was stored unknown: another stage of the same request that
    succeeded is the same event, one that failed tells what the first could not."""
    default = kind.column(column).default
    if default is None:
        return f"s.{column} IS NOT DISTINCT FROM t.{column}"
    d = sql_string(default)
    return f"coalesce(s.{column}, {d}) IS NOT DISTINCT FROM coalesce(t.{column}, {d})"


def _extra_text(extra: str) -> str:
    """SQL: a lambda's text of member `k` of JSON object `extra`, as the digest reads
    an extra value (validate._text_expr): trimmed text, a string unquoted, absent, null
    and empty alike; so a CSV export's "5" and a JSON export's 5 agree."""
    return (f"nullif(trim(json_extract_string(CAST({extra} AS MAP(VARCHAR, JSON))[k], '$')), "
            "'')")


def _alike_but_extras(kind: Kind) -> str:
    """SQL: stored row `s` and new row `t` (of TYPED) are the same record told by two
    exports with other sets of extra columns: every contract column agrees, and every
    extra column both give has the same value in both. A differing value both give is
    a conflict; one only one side gives is not (the stored row, the first, is kept)."""
    contract = " AND ".join(_agree(kind, c) for c in kind.column_names if c != kind.id_column)
    shared_differ = (f"len(list_filter(json_keys(t.extra), lambda k: {_extra_text('s.extra')} "
                     f"IS NOT NULL AND {_extra_text('t.extra')} IS NOT NULL AND "
                     f"{_extra_text('s.extra')} <> {_extra_text('t.extra')})) = 0")

    def given(extra: str) -> str:  # the extra columns a row gives a value in
        return (f"list_sort(list_filter(coalesce(json_keys({extra}), []), "
                f"lambda k: {_extra_text(extra)} IS NOT NULL))")

    # Only rows that give other extra columns: with the same ones, the digests differ in
    # the contract's columns, some of it (digits below the microsecond) not stored.
    return (f"{contract} AND {given('s.extra')} <> {given('t.extra')} AND t._sub = 0 "
            f"AND (s.extra IS NULL OR t.extra IS NULL OR {shared_differ})")


def position_word(format_: str) -> str:
    """SQL: how a row of a stored file of `format_` (ingested_files.format) is placed,
    as the quarantine places rows of that format: `line` of JSON Lines (and auditd),
    `element` of JSON, `record` of CSV/TSV (and EVTX), `row` of Parquet and of rows
    handed over as data."""
    return (f"CASE WHEN regexp_matches({format_}, '^(csv|tsv|evtx)') THEN 'record' "
            f"WHEN regexp_matches({format_}, '^(jsonl|auditd)') THEN 'line' "
            f"WHEN starts_with({format_}, 'json') THEN 'element' ELSE 'row' END")


def siblings(staged: Staged, kind: Kind) -> tuple[str, ...]:
    """The kinds sharing `kind`'s ids for this staged table (see judge)."""
    if staged.source_format is None or kind.id_column != "event_id":
        return ()
    return tuple(k.name for k in KINDS.values()
                 if k.id_column == "event_id" and k.name != kind.name)


def judge(con: duckdb.DuckDBPyConnection, kind: Kind, siblings: tuple[str, ...] = ()) -> None:
    """`VERDICT`: duplicate | quarantine | load, with a reason, for every valid row of
    `TYPED` whose id is not simply new: repeated in the file, or already stored. Every
    other valid row loads; keeping them out of the verdict spares a join of the file.

    One identity rule for every source: the same id with the same content is a
    duplicate, with other content a conflict (quarantined, the stored version kept).
    `siblings` are the other kinds whose ids are the same ids (the kinds a standard
    source maps its records onto: one CloudTrail eventID or Kubernetes auditID is one
    event, whichever kind it became); an id stored there is a conflict, since a record
    mapped onto another kind has other content.

    A standard source's row (`siblings` given) whose id is already stored with another
    digest is still a duplicate when both agree on SAME_EVENT's columns: the same event
    in another format (CloudTrail and its OCSF translation by Security Lake share the
    eventID) differs in how it is described (extra, channel, object), not in who did
    what to whom and when; a difference there is a conflict.

    A row whose digest differs from the stored row's only because the two exports carry
    other extra (non-contract) columns is a duplicate too (`variant`), judged on the
    contract's columns and the extra values both give (_alike_but_extras): the stored
    row is kept as it is, and `forget` of the file that stored it is refused alone
    (shared_rows verdict 'variant'), since the other file would have stored its own."""
    key = kind.id_column
    same_event = " AND ".join(
        _agree(kind, c) for c in SAME_EVENT.get(kind.name, ())
    ) if siblings else ""
    described_alike = (
        f"(s._digest = i._digest OR EXISTS (SELECT 1 FROM {TYPED} t WHERE t._row = i._row "
        f"AND t._loc = i._loc AND {same_event}))" if same_event else "s._digest = i._digest"
    )
    others = "".join(
        f"\n        UNION SELECT DISTINCT {key} FROM {TYPED} t WHERE _reason IS NULL AND "
        f"EXISTS (SELECT 1 FROM {sibling} o WHERE o.{key} = t.{key})"
        for sibling in siblings
    )
    drop(con, SPECIAL)
    con.execute(
        f"""
        CREATE TEMP TABLE {SPECIAL} AS
        SELECT {key} AS id FROM {TYPED} WHERE _reason IS NULL GROUP BY {key} HAVING count(*) > 1
        UNION
        SELECT DISTINCT {key} FROM {TYPED} t
        WHERE _reason IS NULL AND EXISTS (SELECT 1 FROM {kind.name} s WHERE s.{key} = t.{key})
        {others}
        """
    )
    # The first stored row of each special id in a sibling kind.
    sibling_rows = " UNION ALL ".join(
        f"SELECT {key} AS id, {sql_string(sibling)} AS kind, _file, _row FROM {sibling} "
        f"WHERE {key} IN (SELECT id FROM {SPECIAL})"
        for sibling in siblings
    ) or ("SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS kind, "
          "CAST(NULL AS VARCHAR) AS _file, CAST(NULL AS BIGINT) AS _row WHERE false")
    drop(con, VERDICT)
    con.execute(
        f"""
        CREATE TEMP TABLE {VERDICT} AS
        WITH valid AS (
          SELECT _row, _loc, {key} AS id, _digest FROM {TYPED}
          WHERE _reason IS NULL AND {key} IN (SELECT id FROM {SPECIAL})),
        firsts AS (
          SELECT id, min(_row) AS first_row, arg_min(_digest, (_row, _loc)) AS first_digest,
                 arg_min(_loc, (_row, _loc)) AS first_loc
          FROM valid GROUP BY id),
        in_file AS (
          SELECT v._row, v._loc, v.id, v._digest,
                 CASE WHEN v._row = f.first_row AND v._loc = f.first_loc THEN 'candidate'
                      WHEN v._digest = f.first_digest THEN 'duplicate'
                      ELSE 'quarantine' END AS verdict,
                 CASE WHEN NOT (v._row = f.first_row AND v._loc = f.first_loc)
                       AND v._digest <> f.first_digest THEN
                   'conflict: {key} ' || v.id || ' appears at ' || f.first_loc ||
                   ' of this file with different content' END AS reason
          FROM valid v JOIN firsts f USING (id))
        SELECT i._row, i._loc, i.id, s._file AS stored_file,
               i.verdict = 'candidate' AND s._digest IS NOT NULL AS shared,
               false AS variant,
               CASE WHEN i.verdict <> 'candidate' THEN i.verdict
                    WHEN s._digest IS NULL AND o.id IS NOT NULL THEN 'quarantine'
                    WHEN s._digest IS NULL THEN 'load'
                    WHEN {described_alike} THEN 'duplicate'
                    ELSE 'quarantine' END AS verdict,
               CASE WHEN i.verdict <> 'candidate' THEN i.reason
                    WHEN s._digest IS NULL AND o.id IS NOT NULL THEN
                      'conflict: {key} ' || i.id || ' is already loaded as a ' || o.kind ||
                      ' row from ' || coalesce(fo.path, o._file) || ' ' ||
                      {position_word("coalesce(fo.format, '')")} || ' ' || o._row ||
                      ' (same id, other content)'
                    WHEN s._digest IS NOT NULL AND NOT {described_alike} THEN
                      'conflict: {key} ' || i.id || ' is already loaded from ' ||
                      coalesce(f.path, s._file) || ' ' ||
                      {position_word("coalesce(f.format, '')")} || ' ' || s._row ||
                      ' with different content' END AS reason
        FROM in_file i
        LEFT JOIN {kind.name} s ON s.{key} = i.id
        LEFT JOIN (SELECT sha256, min(path) AS path, min(format) AS format
                   FROM ingested_files GROUP BY sha256) f
          ON f.sha256 = s._file
        LEFT JOIN (SELECT id, arg_min(kind, (_file, _row)) AS kind,
                          arg_min(_file, (_file, _row)) AS _file,
                          arg_min(_row, (_file, _row)) AS _row
                   FROM ({sibling_rows}) GROUP BY id) o ON o.id = i.id
        LEFT JOIN (SELECT sha256, min(path) AS path, min(format) AS format
                   FROM ingested_files GROUP BY sha256) fo
          ON fo.sha256 = o._file
        """
    )
    con.execute(f"DROP TABLE {SPECIAL}")
    # Of the rows quarantined as conflicts with a stored row (few), those that differ
    # from it only in extra columns one export has and the other lacks: duplicates.
    con.execute(
        f"""
        UPDATE {VERDICT} AS v SET verdict = 'duplicate', reason = NULL, variant = true
        FROM {kind.name} s, {TYPED} t
        WHERE v.verdict = 'quarantine' AND v.shared AND s.{key} = v.id
          AND t._row = v._row AND t._loc = v._loc AND {_alike_but_extras(kind)}
        """
    )
    # The same within one file (exports joined into one, JSON Lines rows that leave out
    # a key): a later row of an id that differs from its first row only so.
    con.execute(
        f"""
        UPDATE {VERDICT} AS v SET verdict = 'duplicate', reason = NULL, variant = true
        FROM (SELECT {key} AS id, arg_min(_row, (_row, _loc)) AS first_row,
                     arg_min(_loc, (_row, _loc)) AS first_loc
              FROM {TYPED} WHERE _reason IS NULL
                AND {key} IN (SELECT id FROM {VERDICT} WHERE verdict = 'quarantine'
                              AND NOT shared)
              GROUP BY {key}) AS f,
             {TYPED} s, {TYPED} t
        WHERE v.verdict = 'quarantine' AND NOT v.shared AND f.id = v.id
          AND NOT (v._row = f.first_row AND v._loc = f.first_loc)
          AND s._row = f.first_row AND s._loc = f.first_loc AND s._sub = 0
          AND t._row = v._row AND t._loc = v._loc AND {_alike_but_extras(kind)}
        """
    )
