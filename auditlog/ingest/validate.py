"""From staged source columns to typed canonical rows, each with a verdict.

The whole check is one generated SQL statement per file: every canonical column gets
its text (case-insensitive column match, trimmed, empty = missing), its typed value, and
the reasons it breaks the contract. Python only writes the SQL.
"""

from __future__ import annotations

import json

from auditlog.errors import InputError
from auditlog.ingest import numbers
from auditlog.ingest.foreign import foreign_columns
from auditlog.ingest.other_names import absent_required, likely_names, mapping_hint
from auditlog.ingest.salvage import not_json_sql
from auditlog.ingest.staging import WIDE, Staged
from auditlog.ingest.standard import cloudtrail_lake
from auditlog.kinds import AMOUNT_SQL_TYPE, KINDS, Column, Kind
from auditlog.sqltext import json_path, sql_string

# Timestamps: epoch seconds or milliseconds (magnitude decides: below 1e11 is seconds,
# i.e. up to the year 5138), ISO 8601 with an offset or Z, or ISO 8601 without one, read
# in the zone given by --tz. Nothing else: a reader that guesses at "01/02/2024" loads
# wrong instants silently. An offset is at most 14:00 either way with minutes below 60
# (DuckDB alone reads "+99:99" as 100 hours); anything else is a bad value.
#
# A naive time is read in the zone with the offset in effect just before the nearest
# transition (Python's zoneinfo with fold=0): one in a daylight-saving gap (02:30 on a
# spring-forward night) is shifted forward by the gap, one in an overlap (02:30 on a
# fall-back night, which happens twice) is the earlier of its two instants. Offsets are
# taken one day either side of the wall time (al_offsets_near, computed once per value in
# a layer of its own, see _time_layers), so only a value near a transition pays for more
# than two conversions; al_gap_or_overlap tells which values were resolved that way.
#
# The common spelling, ISO 8601 in UTC with `T` and `Z` (al_utc_z), is told by one
# pattern and cast directly (see _time_layers): al_ts would give it the same instant
# after three patterns, and al_naive would test it once more.
MACROS = r"""
CREATE OR REPLACE TEMP MACRO al_epoch_ts(s) AS (
  CASE WHEN abs(CAST(s AS DECIMAL(38, 6))) >= 1e14 THEN NULL
       WHEN abs(CAST(s AS DECIMAL(38, 6))) >= 1e11
         THEN CAST(make_timestamp(CAST(round(CAST(s AS DECIMAL(38, 6)) * 1000) AS BIGINT)) AS TIMESTAMPTZ)
       ELSE CAST(make_timestamp(CAST(round(CAST(s AS DECIMAL(38, 6)) * 1000000) AS BIGINT)) AS TIMESTAMPTZ)
  END);
CREATE OR REPLACE TEMP MACRO al_has_offset(s) AS (
  regexp_full_match(s, '[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)? ?([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)'));
CREATE OR REPLACE TEMP MACRO al_offset_minutes(s, part) AS (
  CAST(nullif(regexp_extract(s, '[+-]([0-9]{2}):?([0-9]{2})?$', part), '') AS INTEGER));
CREATE OR REPLACE TEMP MACRO al_offset_ok(s) AS (
  regexp_matches(s, '[zZ]$')
  OR (coalesce(al_offset_minutes(s, 2), 0) < 60
      AND al_offset_minutes(s, 1) * 60 + coalesce(al_offset_minutes(s, 2), 0) <= 840));
CREATE OR REPLACE TEMP MACRO al_naive(s) AS (
  CASE WHEN regexp_full_match(s, '[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?')
       THEN try_cast(upper(s) AS TIMESTAMP) END);
CREATE OR REPLACE TEMP MACRO al_offset_at(t, tz, d) AS (
  timezone(tz, timezone('UTC', t + d)) - (t + d));
CREATE OR REPLACE TEMP MACRO al_maps_to(t, tz, o) AS (
  timezone(tz, timezone('UTC', t - o)) = t);
CREATE OR REPLACE TEMP MACRO al_fold0(t, tz, before, after) AS (
  CASE WHEN before = after OR NOT al_maps_to(t, tz, after) OR al_maps_to(t, tz, before)
       THEN timezone('UTC', t - before) ELSE timezone('UTC', t - after) END);
CREATE OR REPLACE TEMP MACRO al_offsets_near(t, tz, d) AS (
  CASE WHEN t IS NULL OR tz = 'UTC' THEN INTERVAL 0 SECOND ELSE al_offset_at(t, tz, d) END);
CREATE OR REPLACE TEMP MACRO al_gap_or_overlap(t, tz, before, after) AS (
  CASE WHEN t IS NOT NULL AND before <> after
       THEN al_maps_to(t, tz, before) = al_maps_to(t, tz, after) ELSE false END);
CREATE OR REPLACE TEMP MACRO al_ts(s, naive, before, after, tz) AS (
  CASE
    WHEN s IS NULL THEN NULL
    WHEN regexp_full_match(s, '[+-]?[0-9]{1,17}(\.[0-9]+)?') THEN al_epoch_ts(s)
    WHEN al_has_offset(s)
      THEN CASE WHEN al_offset_ok(s) THEN try_cast(upper(s) AS TIMESTAMPTZ) END
    WHEN naive IS NOT NULL THEN al_fold0(naive, tz, before, after)
  END);
CREATE OR REPLACE TEMP MACRO al_utc_z(s) AS (
  regexp_full_match(s, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z'));
CREATE OR REPLACE TEMP MACRO al_amount(s) AS (
  CASE WHEN regexp_full_match(s, '\+?([0-9]{1,14}(\.[0-9]{0,4}0*)?|\.[0-9]{1,4}0*)')
       THEN CAST(s AS DECIMAL(18, 4)) END);
"""


def install_macros(con) -> None:  # type: ignore[no-untyped-def]
    for statement in (MACROS + numbers.MACROS).split(";"):
        if statement.strip():
            con.execute(statement)


def detect_kind(columns: list[str], source: str) -> Kind:
    """The kind whose required columns the file has; ambiguity is an error."""
    present = {c.strip().lower() for c in columns}
    matched = [k for k in KINDS.values() if k.required <= present]
    # A charges file also has an `account` column; prefer the kind that explains more:
    # drop a match whose required columns are a strict subset of another match's.
    matched = [
        k for k in matched if not any(k.required < other.required for other in matched)
    ]
    if len(matched) == 1:
        if (likelier := _likelier_kind(matched[0], columns)) is not None:
            raise InputError(likelier, source=source, arguments=("kind",))
        return matched[0]
    if not matched and (lake := cloudtrail_lake.result_columns(columns)):
        raise InputError(lake, source=source)
    if not matched and (export := foreign_columns(present)) is not None:
        raise InputError(f"this is {export}", source=source)
    if not matched:
        raise InputError(
            "cannot tell which kind of log this is: its columns ("
            + ", ".join(sorted(present)[:12])
            + ("…" if len(present) > 12 else "")
            + ") hold the required columns of none; "
            + (f"{hint}, or name" if (hint := renamed_kind_hint(columns)) else "name")
            + " it with {kind} " + "|".join(KINDS),
            source=source, arguments=("kind",),  # the CLI words it as --kind
        )
    raise InputError(
        "ambiguous kind: the columns match "
        + " and ".join(k.name for k in matched)
        + "; name it with {kind}",
        source=source, arguments=("kind",),
    )


def _likelier_kind(found: Kind, columns: list[str]) -> str | None:
    """Why the one kind whose required columns a file has is not taken for it: another
    kind has more of the file's columns, but lacks some of its own required ones (a
    charges export without `ts` also matches the accounts directory by its `account`)."""
    present = {c.strip().lower() for c in columns}
    shared = present & set(found.column_names)
    rivals = [(len(present & set(k.column_names)), k) for k in KINDS.values()
              if k is not found and len(present & set(k.column_names)) > len(shared)]
    if not rivals:
        return None
    _, rival = max(rivals, key=lambda entry: entry[0])
    held = sorted(present & set(rival.column_names))
    absent = absent_required(rival, columns)
    needs = absent[0] if len(absent) == 1 else ", ".join(absent[:-1]) + f" and {absent[-1]}"
    offered = likely_names(rival, columns)
    said = (f"its columns hold the required columns of {found.name} "
            f"({', '.join(sorted(found.required))}) but more of those of {rival.name} "
            f"({', '.join(held)}), which needs {needs} too: ")
    if len(offered) == len(absent):
        return said + (f"if it is {rival.name}, a mapping file (--mapping FILE, "
                       f"docs/mappings.md) whose [columns] says {mapping_hint(offered)} "
                       f"reads it; if it is {found.name}, name the kind with {{kind}}")
    return said + (f"name the kind with {{kind}} (if it is {rival.name}, a mapping file, "
                   "--mapping FILE, docs/mappings.md, says which of its columns hold them)")


def or_list(names: list[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"


def renamed_kind_hint(columns: list[str]) -> str | None:
    """When the columns are one kind's required columns under names exports commonly
    give them (other_names.py), and that kind alone: the mapping that would read them.
    Only said, never done: a guessed rename may be wrong."""
    whole = []
    for kind in KINDS.values():
        offered = likely_names(kind, columns)
        if len(offered) == len(absent_required(kind, columns)):
            whole.append((len(kind.required), kind, offered))
    whole.sort(key=lambda entry: -entry[0])
    if not whole or (len(whole) > 1 and whole[0][0] == whole[1][0]):
        return None
    _, kind, offered = whole[0]
    return (f"they look like {kind.name} under other names: a mapping file (--mapping FILE, "
            f"docs/mappings.md) whose [columns] says {mapping_hint(offered)} reads it")


def _text_expr(index: int, staged: Staged) -> str:
    column = f"c{index}"
    if index in staged.text_columns:
        value = column
    elif staged.style == "json":
        # JSON strings lose their quotes; numbers, objects and arrays keep their text.
        value = f"json_extract_string({column}, '$')"
    elif staged.style == "native":
        value = f"CAST({column} AS VARCHAR)"
    else:
        value = column
    return f"nullif(trim({value}), '')"


def typed_select(kind: Kind, staged: Staged, *, currency: str | None) -> str:
    """SELECT over the staged table giving typed canonical columns, `extra`, `_digest`, `_reason`.

    Bound parameters: $tz (zone for naive timestamps).
    """
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(staged.columns):
        by_name.setdefault(name.strip().lower(), []).append(i)
    known = set(kind.column_names)
    source, direct = _source(staged, known, wide=_wide_enough(staged, known))

    def given(i: int) -> str:  # a column's text as DuckDB gives it
        return f"nullif(trim(s{i}), '')" if i in direct else _text_expr(i, staged)

    # Of JSON rows, a contract column's number as the file wrote it (numbers.py): its
    # text as DuckDB gives it is `_b<i>`, computed below `inner`.
    keyed = [i for i, n in enumerate(staged.columns) if n.strip().lower() in known
             ] if staged.written_numbers and staged.style == "json" else []
    if keyed:
        source = _written_numbers(source, staged, {i: given(i) for i in keyed})

    def text_of(i: int) -> str:
        return f"al_written(_c{i}, _b{i})" if i in keyed else given(i)

    # A timestamp column given as TIMESTAMPTZ values, under one name (Staged.instants).
    instants = {c.name: f"_i_{c.name}" for c in kind.columns
                if c.type == "ts" and len(by_name.get(c.name, [])) == 1
                and by_name[c.name][0] in staged.instants}
    instant_cols = "".join(f", c{by_name[name][0]} AS {alias}"
                           for name, alias in instants.items())

    texts: dict[str, str] = {}
    spellings: list[str] = []  # every spelling of a column named more than once, as text
    for column in kind.columns:
        if column.name in instants:
            continue  # no text column: see _instant_text
        variants = [text_of(i) for i in by_name.get(column.name, [])]
        texts[column.name] = (
            "CAST(NULL AS VARCHAR)" if not variants
            else variants[0] if len(variants) == 1 else f"coalesce({', '.join(variants)})"
        )
        if len(variants) > 1:
            spellings.append(f"list_value({', '.join(variants)}) AS {_k(column)}")

    extras = [(i, n) for i, n in enumerate(staged.columns) if n.strip().lower() not in known]
    # A CSV header may name an extra column more than once: one member of `extra`, its
    # value the one the columns agree on (a conflict otherwise, see _repeat_check).
    named: dict[str, list[int]] = {}
    for i, n in extras:
        named.setdefault(n, []).append(i)
    wide = _wide(staged, extras)
    if wide is not None:
        extra, digest_extra = wide
    elif extras:
        # json_object, not struct_pack: keys are data (empty, or differing only in case).
        members = ", ".join(f"{sql_string(n)}, {_first_value(ix)}" for n, ix in named.items())
        extra = f"CAST(nullif(json_merge_patch('{{}}', json_object({members})), '{{}}') AS JSON)"
    else:
        extra = "CAST(NULL AS JSON)"

    text_cols = ",\n  ".join(f"{texts[c.name]} AS {_t(c)}" for c in kind.columns
                            if c.name in texts)
    extra_texts = "" if wide else "".join(
        f",\n  {_text_expr(i, staged)} AS _e{i}" for i, _ in extras)
    extra_texts += "".join(f",\n  {spelling}" for spelling in spellings)
    if keyed:  # for the reason a written number cannot be told (numbers.unsure_reason)
        extra_texts += ", _num" + "".join(f", _c{i}" for i in keyed)
    repeats = {} if wide else {n: ix for n, ix in named.items() if len(ix) > 1}
    extra_texts += "".join(
        f",\n  list_value({', '.join(_text_expr(i, staged) for i in ix)}) AS _r{ix[0]}"
        for ix in repeats.values())
    # What the raw text is rebuilt from, for the rows that are quarantined.
    raw_from = "_raw" if staged.raw == "_raw" else "".join(
        f"c{i}, " for i in range(len(staged.columns))
    ).removesuffix(", ")
    inner = (
        f"SELECT {_position(staged)}, {raw_from or 'NULL AS _raw'}, _bad,\n  {text_cols},\n"
        f"  {extra} AS extra{extra_texts}{instant_cols}\nFROM {source}"
    )
    # Layer by layer, so each value is computed once: texts, typed values, then the
    # digest and the reasons from those.
    typed = ",\n  ".join(f"{_typed(c, currency, instants.get(c.name), c.name in staged.no_default)} AS {_y(c)}"
                         for c in kind.columns)
    typed += ",\n  " + _naive_counts(kind)
    typed += "".join(f",\n  {_below_us(c, c.name in instants)} AS {_u(c)}"
                     for c in kind.columns if c.type == "ts")
    digest_members = ", ".join(
        _digest_text(c) for c in kind.columns if c.name != kind.id_column
    )
    # The digest compares content, not spelling: extra columns by name in sorted order,
    # as text, absent and null alike, so the same row exported as JSON Lines and as CSV
    # (columns in another order, numbers as text) is a duplicate, not a conflict.
    if wide:
        pass
    elif extras:
        as_text = ", ".join(
            f"{sql_string(n)}, {_first_of('_e', named[n])}" for n in sorted(named)
        )
        digest_extra = f"json_merge_patch('{{}}', json_object({as_text}))"
    else:
        digest_extra = "CAST(NULL AS JSON)"
    # A JSON array of the values as text, in the kind's column order: unambiguous (JSON
    # escapes every separator) and about half the cost of to_json of a struct, which
    # spells every key in every row (SCHEMA_VERSION 3 changed the digest to this). No
    # extras and extras all null digest alike: `{}` and NULL are the same content.
    # Stored as the md5's upper 64 bits (SCHEMA_VERSION 4), not its 32 hex characters:
    # a fixed-width column the INSERT stores for about a third of the cost of
    # incompressible text (BENCHMARKS.md, session 11; md5_number_lower is 3x slower than
    # md5_number and a shift). 64 bits, not 128: digests
    # are only compared between rows of the same event id, where a collision is a 2^-64
    # chance; and a UBIGINT reaches polars and Arrow whole, while a 128-bit number
    # becomes a 38-digit decimal it does not fit (`SELECT * FROM actions` in a notebook).
    content = (
        f"CAST(to_json([{digest_members}, "
        f"nullif(CAST({digest_extra} AS VARCHAR), '{{}}')]) AS VARCHAR)"
    )
    reasons = [r for c in kind.columns for r in _checks(c, kind, instants.get(c.name))]
    reasons += [_spelling_check(c, [staged.columns[i] for i in by_name[c.name]])
                for c in kind.columns if len(by_name.get(c.name, [])) > 1]
    if keyed:
        reasons.append(numbers.unsure_reason(
            [(staged.columns[i].strip().lower(), f"_c{i}") for i in keyed]))
    reasons += [_repeat_check(n, ix) for n, ix in repeats.items()]
    reason = (
        f"CASE WHEN _bad IS NOT NULL THEN _bad ELSE "
        f"nullif(concat_ws('; ', {', '.join(reasons)}), '') END"
    )
    outputs = [f"{_y(c)} AS {c.name}" for c in kind.columns]
    id_col = kind.id_column
    if kind.generated_id:
        # No id given: a stable hash of the row's content, so that reloading the same
        # rows (from any file or format) finds them again.
        # (The md5's hex, as before schema version 4, so generated ids did not change;
        # coalesce computes it only for the rows without an id.)
        outputs[kind.column_names.index(id_col)] = (
            f"coalesce({_t(kind.column(id_col))}, 'auto-' || substr(md5(_content), 1, 24)) "
            f"AS {id_col}"
        )
    # A row's text is kept only when it is quarantined for a reason found here; a
    # conflict found later rebuilds it from the staged table (see loading.store_rows).
    return (
        f"SELECT {_position(staged)}, CASE WHEN _reason IS NOT NULL THEN {staged.raw} END "
        "AS _raw,\n  "
        + ",\n  ".join(outputs)
        + ",\n  extra, _digest, _reason, _naive, _dst, _sub, _day\nFROM (\n"
        + "SELECT *, CAST(md5_number(_content) >> 64 AS UBIGINT) AS _digest,\n"
        + f"  {reason} AS _reason\nFROM (\nSELECT *, {content} AS _content, "
        + f"{_sub_count(kind)} AS _sub, {_day_count(kind, set(instants))} AS _day\nFROM (\n"
        + f"SELECT *,\n  {typed}\nFROM ({_time_layers(kind, inner, set(instants))}))))"
    )


# The digits of a timestamp's text below the microsecond, when one of them is not 0
# (`2026-04-01T10:00:00.123456789Z`, a Parquet TIMESTAMP_NS value's text, epoch seconds
# with nine decimals): the instant is stored at microseconds (DuckDB's TIMESTAMPTZ), so
# those digits are cut; the digest keeps them (see _digest_text) and the ingest counts
# them (`_sub`). Epoch milliseconds with fractional digits are not looked at.
BELOW_US = r"(:[0-9]{2}|^[+-]?[0-9]{1,11})[.,][0-9]{6}([0-9]*[1-9])"


def _u(column: Column) -> str:
    return f"_u_{column.name}"


def _below_us(column: Column, instant: bool) -> str:
    """SQL: the digits of a timestamp column's text below the microsecond (BELOW_US),
    NULL when there are none. The common `...:SS.ffffffZ` (at most 27 characters) is
    told by its length, without a pattern."""
    if instant:  # TIMESTAMP WITH TIME ZONE values: microseconds already
        return "CAST(NULL AS VARCHAR)"
    text, name = _t(column), column.name
    return (f"CASE WHEN {text} IS NULL OR (_z_{name} AND strlen({text}) <= 27) THEN NULL "
            f"ELSE nullif(regexp_extract({text}, {sql_string(BELOW_US)}, 2), '') END")


# A timestamp's text that is a calendar date and nothing more (an invoice date): read as
# midnight, so every event of that day is placed at its start (`_day`, counted so the
# ingest can say so: a charge of that day then comes hours before its order).
DATE_ONLY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _day_count(kind: Kind, instants: set[str]) -> str:
    """`_day`: how many of the row's timestamps were a date without a time of day."""
    return " + ".join(
        # Told by its length first, so the pattern runs on the rare value of 10 characters.
        f"CAST(CASE WHEN strlen({_t(c)}) = 10 THEN regexp_full_match({_t(c)}, "
        f"{sql_string(DATE_ONLY)}) ELSE false END AS INTEGER)"
        for c in kind.columns if c.type == "ts" and c.name not in instants) or "0"


def _sub_count(kind: Kind) -> str:
    """`_sub`: how many of the row's timestamps had digits below the microsecond."""
    return " + ".join(f"CAST({_u(c)} IS NOT NULL AS INTEGER)" for c in kind.columns
                      if c.type == "ts") or "0"


def _digest_text(column: Column) -> str:
    """A typed value as the digest reads it: text that no session setting changes (a
    timestamp as microseconds since the epoch, not in the session's time zone, and the
    digits of its text below the microsecond, which the stored value cannot hold: two
    events apart by nanoseconds are not one duplicate)."""
    if column.type == "ts":
        micro = f"CAST(epoch_us({_y(column)}) AS VARCHAR)"
        return f"CASE WHEN {_u(column)} IS NULL THEN {micro} ELSE {micro} || '.' || {_u(column)} END"
    if column.type == "amount":
        return f"CAST({_y(column)} AS VARCHAR)"
    return _y(column)


def _k(column: Column) -> str:
    return f"_k_{column.name}"


def _spelling_check(column: Column, names: list[str]) -> str:
    """A row whose keys name one column in several spellings (`actor`, `ACTOR`: column
    names match case-insensitively) with different values is a conflict within the row:
    keeping one value would silently drop the other."""
    spelled = sql_string(", ".join(names))
    return (
        f"CASE WHEN list_unique({_k(column)}) > 1 THEN 'conflicting values for {column.name} "
        f"under the keys ' || {spelled} END"
    )


def _first_of(prefix: str, indices: list[int]) -> str:
    """The value of the first of columns `indices` that has one."""
    values = [f"{prefix}{i}" for i in indices]
    return values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"


def _first_value(indices: list[int]) -> str:
    """`extra`'s value of columns `indices` (one name): as JSON when there are several,
    whose types may differ (a Parquet file's two `note` columns)."""
    if len(indices) == 1:
        return f"c{indices[0]}"
    return f"coalesce({', '.join(f'to_json(c{i})' for i in indices)})"


def _repeat_check(name: str, indices: list[int]) -> str:
    """A row whose header names an extra column more than once (a CSV file's may) with
    different values in them is a conflict within the row, as for `_spelling_check`."""
    reason = sql_string(f"conflicting values for {json.dumps(name)}, a column the header "
                        "names more than once (columns "
                        + ", ".join(str(i + 1) for i in indices) + ")")
    return f"CASE WHEN list_unique(_r{indices[0]}) > 1 THEN {reason} END"


def _time_layers(kind: Kind, inner: str, instants: set[str]) -> str:
    """Per timestamp column, over `inner`: whether its text is ISO 8601 in UTC with `Z`
    (`_z_<col>`, the fast path), its naive wall time `_n_<col>` (NULL when the text
    carries an offset or is not ISO 8601) and the zone's offsets a day before and after
    it, `_b_<col>` and `_a_<col>`, each computed once for the typed value and the counts
    alike. A column of `instants` (TIMESTAMPTZ values) is never naive."""
    ts = [c.name for c in kind.columns if c.type == "ts"]
    if not ts:
        return inner
    utc_z = ", ".join(f"{'true' if c in instants else f'al_utc_z(_t_{c})'} AS _z_{c}"
                      for c in ts)
    naive = ", ".join(
        f"CAST(NULL AS TIMESTAMP) AS _n_{c}" if c in instants
        else f"CASE WHEN NOT _z_{c} THEN al_naive(_t_{c}) END AS _n_{c}" for c in ts)
    offsets = ", ".join(
        f"al_offsets_near(_n_{c}, $tz, INTERVAL '-1 day') AS _b_{c}, "
        f"al_offsets_near(_n_{c}, $tz, INTERVAL '1 day') AS _a_{c}" for c in ts)
    return (f"SELECT *, {offsets} FROM (SELECT *, {naive} FROM (SELECT *, {utc_z} FROM "
            f"({inner})))")


def _naive_counts(kind: Kind) -> str:
    """`_naive`, `_dst`: how many of the row's timestamps carry no offset, and how many
    of those fell in a daylight-saving gap or overlap of $tz (see MACROS), so that an
    ingest can say which zone it assumed and what it resolved."""
    ts = [c.name for c in kind.columns if c.type == "ts"]
    naive = " + ".join(f"CAST(_n_{c} IS NOT NULL AS INTEGER)" for c in ts) or "0"
    dst = " + ".join(
        f"CAST(al_gap_or_overlap(_n_{c}, $tz, _b_{c}, _a_{c}) AS INTEGER)" for c in ts) or "0"
    return f"{naive} AS _naive, {dst} AS _dst"


# Beyond WIDE extra keys (readers.WIDE), a JSON row's extras are computed from its text
# in one expression each (see _wide), not column by column: DuckDB plans a query over
# thousands of columns in time that grows faster than the columns (10k keys took minutes).


def _wide_enough(staged: Staged, known: set[str]) -> bool:
    extras = sum(1 for n in staged.columns if n.strip().lower() not in known)
    return staged.style == "json" and staged.raw == "_raw" and extras > WIDE


def _wide(staged: Staged, extras: list[tuple[int, str]]) -> tuple[str, str] | None:
    """For a wide JSON row: `extra` as its object without the contract's keys, and the
    digest's text of the extras as the narrow path computes it (by name in sorted order,
    as trimmed text, null and empty dropped), so a row digests alike either way."""
    if not (staged.style == "json" and staged.raw == "_raw" and len(extras) > WIDE):
        return None
    names = sorted(n for _, n in extras)
    extra_names = set(names)
    contract = {n: None for n in staged.columns if n not in extra_names}
    removal = sql_string(json.dumps(contract))
    extra = (f"CASE WHEN _bad IS NULL THEN CAST(nullif(json_merge_patch('{{}}', "
             f"json_merge_patch(_raw, {removal})), '{{}}') AS JSON) END")
    keys = "[" + ", ".join(sql_string(n) for n in names) + "]"
    paths = "[" + ", ".join(sql_string(json_path(n)) for n in names) + "]"
    texts = (f"list_transform(json_extract_string(_raw, {paths}), "
             "lambda v: nullif(trim(v), ''))")
    digest_extra = (f"CASE WHEN _bad IS NULL THEN json_merge_patch('{{}}', "
                    f"to_json(map({keys}, {texts}))) END")
    return extra, digest_extra


def _source(staged: Staged, known: set[str], *, wide: bool = False) -> tuple[str, set[int]]:
    """What the typed rows are read from, and the columns it gives as text (`s<i>`).

    A lazy JSON Lines view is read from its lines directly: one parse of each line
    gives the text of every contract column (json_extract_string of a path list unquotes
    strings as json_extract_string of each value would), `try` makes a line that is not
    JSON NULL (json_extract_string and json_valid accept the same text), and only the
    other columns, kept in `extra`, are extracted as JSON values, with a second parse.
    """
    canonical = [i for i, n in enumerate(staged.columns) if n.strip().lower() in known]
    table = f"({staged.scan})" if staged.scan is not None else staged.table
    if not (staged.lazy and staged.style == "json" and staged.raw == "_raw" and canonical):
        return table, set()
    # A wide row's extras come from its text (see _wide), not as columns.
    others = [] if wide else [i for i in range(len(staged.columns)) if i not in canonical]

    def paths(indices: list[int]) -> str:
        return "[" + ", ".join(sql_string(json_path(staged.columns[i])) for i in indices) + "]"

    texts = "".join(f", _s[{j + 1}] AS s{i}" for j, i in enumerate(canonical))
    values = "".join(f", _x[{j + 1}] AS c{i}" for j, i in enumerate(others))
    extract = (
        f", CASE WHEN _s IS NOT NULL THEN json_extract(_raw, {paths(others)}) END AS _x"
        if others else ""
    )
    parse = f"json_extract_string(_raw, {paths(canonical)})"
    if not staged.all_json:
        parse = f"try({parse})"
    elif staged.scan is not None:
        parse = f"CASE WHEN NOT _blank THEN {parse} END"  # a blank line is not JSON
    # A line with a contract value is an object; only one without is parsed again.
    source = f"""(
      SELECT {_position(staged)}, _raw,
        CASE WHEN _s IS NULL THEN {not_json_sql('_raw')} WHEN list_count(_s) > 0 THEN NULL
             WHEN json_type(_raw) <> 'OBJECT' THEN 'not a JSON object' END AS _bad{texts}{values}
      FROM (SELECT *{extract} FROM (
        SELECT {_position(staged)}, _raw, {parse} AS _s
        FROM {table})))"""
    return source, set(canonical)


def _written_numbers(source: str, staged: Staged, texts: dict[int, str]) -> str:
    """`source` with, per keyed column i, its text as DuckDB gave it (`_b<i>`) and,
    when that text may be a rendered number, the members of its key that may be its
    written text (`_c<i>`, for numbers.al_written); `_num` says whether the row has any
    number DuckDB may give back otherwise at all."""
    bases = "".join(f", {text} AS _b{i}" for i, text in texts.items())
    found = ", ".join(f"{numbers.member_numbers(staged.columns[i], f'_b{i}')} AS _m{i}"
                      for i in texts)
    candidates = ", ".join(f"al_written_candidates(_m{i}, _b{i}) AS _c{i}" for i in texts)
    return (f"(SELECT *, {candidates} FROM (SELECT *, {found} FROM (SELECT *{bases}, "
            f"regexp_matches(_raw, {sql_string(numbers.MEMBER)}) AS _num FROM {source})))")


def _position(staged: Staged) -> str:
    """The columns that place a row: `_row, _loc`, or for an unnumbered scan `_blank`
    (the position is the row's place in the result, see Staged.scan)."""
    return "_blank" if staged.scan is not None else "_row, _loc"


def _y(column: Column) -> str:
    return f"_y_{column.name}"


def _t(column: Column) -> str:
    return f"_t_{column.name}"


def _typed(column: Column, currency: str | None, instant: str | None = None,
           unsaid: bool = False) -> str:
    text = _t(column)
    if instant is not None:  # TIMESTAMPTZ values (Staged.instants)
        return instant
    if column.type == "ts":
        name = column.name
        return (f"CASE WHEN _z_{name} THEN try_cast({text} AS TIMESTAMPTZ) "
                f"ELSE al_ts({text}, _n_{name}, _b_{name}, _a_{name}, $tz) END")
    if column.type == "amount":
        return f"al_amount({text})"
    if column.type == "enum":
        value = _enum_word(column, text)
        if column.default and not unsaid:  # see Staged.no_default
            default = sql_string(column.default)
            if column.default_given:
                given, instead = column.default_given
                default = (f"CASE WHEN _t_{given} IS NOT NULL THEN {sql_string(instead)} "
                           f"ELSE {default} END")
            value = f"coalesce({value}, {default})"
        return f"CASE WHEN {value} IN ({_choices(column)}) THEN {value} END"
    if column.name == "currency":
        value = f"upper({text})"
        if currency:
            value = f"coalesce({value}, {sql_string(currency.upper())})"
        return value
    return text


def _enum_word(column: Column, text: str) -> str:
    """SQL: an enum's text as the word it spells. Vendors write the same value in their
    own case and separators (Zuora's `OneTime`, `one-time`, `Rolled Back`): the value in
    any case, or with its words split by case, spaces or hyphens, is the choice joined
    by `_`. Only a text that is not a choice already pays for the patterns."""
    lowered = f"lower({text})"
    split = (f"lower(regexp_replace(regexp_replace({text}, '([a-z0-9])([A-Z])', '\\1_\\2', "
             "'g'), '[\\s-]+', '_', 'g'))")
    return f"CASE WHEN {lowered} IN ({_choices(column)}) THEN {lowered} ELSE {split} END"


def _choices(column: Column) -> str:
    return ", ".join(sql_string(c) for c in column.choices)


def _instant_text(instant: str) -> str:
    """The text of a TIMESTAMPTZ value (Staged.instants), as a reason quotes it. Written
    into the reasons themselves, never a column: a CASE computes it only for the rows
    that have the reason (printing every row's instant cost ~0.5 CPU s per 1M rows), and
    a value that is there is never empty, so it is missing exactly when NULL."""
    return f"nullif(trim(CAST({instant} AS VARCHAR)), '')"


# An amount as billing exports in other locales write it: a decimal comma or grouped
# thousands (4,99; 1.234,56; 1,234.56; 1 234,56), or a currency sign or code with it.
_LOCAL_NUMBER = r"[0-9][,\x{a0}\x{202f}' ][0-9]|[0-9]\.[0-9]+\.[0-9]"
_CURRENCY_SIGN = r"\p{Sc}|^[A-Za-z]{3} ?[0-9]|[0-9] ?[A-Za-z]{3}$"


def _amount_hint(text: str) -> str:
    """SQL: what an invalid amount's reason adds when the amount is written as another
    locale writes it (the contract's is 1234.56, a point and no grouping)."""
    # (Not for a mapping's own reason in the value: "not a whole number of minor
    # units: 999.5" has said what is wrong.)
    return (f"CASE WHEN contains({text}, ': ') THEN '' "
            f"WHEN regexp_matches({text}, {sql_string(_CURRENCY_SIGN)}) THEN "
            "'; the currency goes in the currency column, not the amount' "
            f"WHEN regexp_matches({text}, {sql_string(_LOCAL_NUMBER)}) THEN "
            "'; a decimal comma or grouped thousands are read through a mapping''s "
            "[decimal_mark], docs/mappings.md' ELSE '' END")


def _checks(column: Column, kind: Kind, instant: str | None = None) -> list[str]:
    """SQL expressions, each a reason string or NULL. `instant`: the column holding the
    values of a timestamp column given as TIMESTAMPTZ (see _instant_text)."""
    text = _t(column) if instant is None else _instant_text(instant)
    name = column.name
    checks: list[str] = []
    if column.required and not (kind.generated_id and name == kind.id_column):
        missing = text if instant is None else instant
        checks.append(f"CASE WHEN {missing} IS NULL THEN 'missing required field {name}' END")
    if column.type == "ts":
        if instant is None:  # a typed value is never unparseable, only out of range
            checks.append(
                f"CASE WHEN {text} IS NULL OR {_y(column)} IS NOT NULL THEN NULL "
                f"WHEN al_has_offset({text}) "
                f"AND NOT al_offset_ok({text}) THEN "
                f"'offset out of range in {name}: ' || {text} || "
                "' (an offset is at most 14:00 either way, its minutes below 60)' "
                f"ELSE 'unparseable timestamp in {name}: ' || {text} END"
            )
        checks.append(_before_year_one(column, text))
    elif column.type == "amount":
        # A negative amount is how many billing systems write a refund; the contract's
        # refund is a positive amount with type refund, so the reason says how to
        # write it (the row is not read as a refund: which charge it refunds, and
        # whether it is one at all, is the export's to say).
        checks.append(
            f"CASE WHEN {text} IS NULL OR NOT coalesce({_y(column)} <= 0, true) THEN NULL "
            f"WHEN starts_with({text}, '-') AND al_amount(substr({text}, 2)) > 0 THEN "
            f"'negative amount in {name}: ' || {text} || "
            f"' (a refund is written as a positive amount with type refund and refund_of "
            f"naming the charge it refunds)' "
            f"ELSE 'invalid amount in {name}: ' || {text} || "
            f"' (expected a positive decimal with at most 4 fractional digits' || "
            f"{_amount_hint(text)} || ')' END"
        )
    elif column.type == "enum":
        checks.append(
            f"CASE WHEN {text} IS NOT NULL AND {_enum_word(column, text)} NOT IN "
            f"({_choices(column)}) THEN "
            f"'unknown value ' || {text} || ' for {name} (expected "
            + ", ".join(column.choices)
            + ")' END"
        )
    elif name == "currency":
        checks.append(
            f"CASE WHEN {text} IS NOT NULL AND NOT regexp_full_match({text}, '[A-Za-z]{{3}}') "
            f"THEN 'invalid currency ' || {text} || ' (expected an ISO 4217 code)' END"
        )
    return checks


def _before_year_one(column: Column, text: str) -> str:
    # Years before 1 (ISO year 0 is 1 BC, a negative epoch can reach further) are
    # valid for DuckDB but not for the tools an investigator reads them with.
    return (
        f"CASE WHEN {_y(column)} < TIMESTAMPTZ '0001-01-01 00:00:00+00' THEN "
        f"'timestamp out of range in {column.name}: ' || {text} || "
        "' (before the year 1)' END"
    )


__all__ = ["AMOUNT_SQL_TYPE", "detect_kind", "install_macros", "typed_select"]
