"""A mapping applied to one file's staged table, as SQL, after checking it fits the file.

Every path is resolved against the file first: a whole column (a CSV header, a JSON
record's top-level key; matched case-insensitively) or a path into the record (`_raw`:
the JSON record, or for CSV/TSV/Parquet its fields as a JSON object). A step that meets
JSON *text* (a CSV column holding JSON, Azure's `properties.log`) parses it and goes on
inside: which prefix holds text is found once per file, by probing, so each row is
parsed once for all paths, not once per path (mapping_probe.py).

Then, before any row is loaded, the mapping must fit the file: every field, renamed
column and filter names something present in some row (else one sentence per miss,
with the nearest key the file has), and no column of the kind holds an object or an
array (an id must be a value, not `{"id": "00u…", "alternateId": …}`: the file, the
row, the path and the keys to pick from are named).

Filtered-out rows are not dropped: their `_bad` becomes "filtered out by mapping …", so
they are quarantined with their raw text and reason, and loaded + duplicates +
quarantined = rows read still holds. (`--strict` does not count them: see
filtered_rows.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from auditlog.errors import UsageError
from auditlog.ingest import numbers
from auditlog.ingest.staging import CONTRACT_NAMES, MAPPED, Staged
from auditlog.ingest.standard.mapping_file import Mapping, RowFilter
from auditlog.ingest.standard.mapping_paths import optional, pointer, written
from auditlog.ingest.standard.mapping_probe import (
    PathRef,
    Probe,
    Resolver,
    parsed_sql,
    value_sql,
)
from auditlog.kinds import KINDS
from auditlog.sqltext import quote_ident, sql_string

# How a filtered-out row's quarantine reason starts (see filtered_rows).
FILTERED = "filtered out by mapping "

# ISO 4217 currencies whose minor unit is not 1/100 (for minor_units = "currency").
ZERO_DECIMALS = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                 "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF")
THREE_DECIMALS = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")


# Each field with the paths it reads, and each filter with those it tests, as written
# and as resolved.
_Fields = dict[str, list[tuple["_Use", "PathRef | None"]]]
_Filters = list[tuple[RowFilter, list[tuple["_Use", "PathRef | None"]]]]


@dataclass(frozen=True)
class _Use:
    """One path of the mapping file, where it is used (for messages)."""

    key: str  # fields.actor, columns.Zeit, filters.admins
    text: str


def filtered_rows(con: duckdb.DuckDBPyConnection, staged: Staged) -> int:
    """How many rows of a mapped table its filters set aside."""
    ((count,),) = con.execute(
        f"SELECT count(*) FROM {quote_ident(staged.table)} WHERE starts_with(_bad, $p)",
        {"p": FILTERED}).fetchall()
    return int(count)


def apply_mapping(con: duckdb.DuckDBPyConnection, staged: Staged, mapping: Mapping,
                  *, file: str = "") -> Staged:
    """Rewrite `staged.table` in place per `mapping`, after checking that the mapping
    fits the file (UsageError naming the file, the mapping and every path that does
    not); returns the staged table's new shape."""
    table = quote_ident(staged.table)
    present = {name for (name,) in con.execute(
        f"SELECT column_name FROM (DESCRIBE {table})").fetchall()}
    resolver = Resolver(staged, present)

    # What each mapping key reads: renames of whole columns, and paths.
    renames: dict[int, str] = {}
    fields: _Fields = {}
    for source, target in mapping.columns.items():
        column = resolver.column_of(optional(source)[0])
        if column is not None and f"c{column}" in present:
            renames[column] = target
        else:
            fields[target] = [(_Use(f"columns.{source}", source), resolver.ref(source))]
    for target, paths in mapping.fields.items():
        fields[target] = [(_Use(f"fields.{target}", p), resolver.ref(p)) for p in paths]
    filters: _Filters = [
        (f, [(_Use(f"filters.{f.name}", p), resolver.ref(p)) for p in f.paths])
        for f in mapping.filters]

    found = _fit(Probe(con, table, staged), mapping, fields, filters, file)
    uses = [u for listed in fields.values() for u in listed] + [
        use for _, listed in filters for use in listed]

    # The value of every reference, as JSON, absent and empty alike NULL.
    refs: list[PathRef] = []
    for _, ref in uses:
        if ref is not None and found.get(ref, ref) not in refs:
            refs.append(found.get(ref, ref))
    ptrs = _pointers(refs)
    values = [_value(r, ptrs, staged) for r in refs]

    def ref_of(ref: PathRef | None) -> str | None:
        return None if ref is None else f"_r{refs.index(found.get(ref, ref))}"

    params: dict[str, str] = {}
    # A field that is one whole column takes it (a rename); one reading inside a column
    # leaves the column in `extra`, where the rest of it stays visible.
    consumed: set[int | None] = set()
    for listed in fields.values():
        if len(listed) == 1 and listed[0][1] is not None:
            ref = found.get(listed[0][1], listed[0][1])
            if ref.whole_column:
                consumed.add(ref.column if ref.column is not None
                             else resolver.column_of(ref.steps[0]))
    taken = {t.lower() for t in (*fields, *mapping.constants)}
    names: list[str] = []
    selects: list[str] = []
    origins: list[str] = []
    bases: list[str] = []  # the path each column is read from, for suggestions
    for i, source_name in enumerate(staged.columns):
        if f"c{i}" not in present or i in consumed:
            continue
        name = renames.get(i, source_name)
        if i not in renames and name.strip().lower() in taken:
            name = f"source.{name}"  # its name is the mapping's now; kept in extra
        selects.append(_column(f"c{i}", name.strip().lower(), staged, mapping, params))
        names.append(name)
        origins.append(f"columns.{source_name}" if i in renames else f"the column {source_name!r}")
        bases.append(written((source_name,)))
    for target, listed in fields.items():
        chosen = [ref_of(r) for _, r in listed if ref_of(r) is not None]
        selects.append(_field(chosen, target, staged, mapping, params))
        names.append(target)
        bases.append(listed[0][0].text)
        origins.append(f"{listed[0][0].key} = "
                       + (repr(listed[0][0].text) if len(listed) == 1
                          else "[" + ", ".join(repr(u.text) for u, _ in listed) + "]"))
    for target, value in mapping.constants.items():
        text = f"CAST({_bind(params, value)} AS VARCHAR)"
        selects.append(_restyle(_transform(text, target, mapping, params), staged))
        names.append(target)
        origins.append(f"constants.{target}")
        bases.append(target)
    # A default for a column nothing else gives is the value of every row.
    for target, value in mapping.defaults.items():
        if target not in {n.strip().lower() for n in names}:
            selects.append(_restyle(f"CAST({_bind(params, value)} AS VARCHAR)", staged))
            names.append(target)
            origins.append(f"defaults.{target}")
            bases.append(target)
    # Columns of a wide JSON row that were never columns stay in `_raw`, whence
    # validation reads them into `extra`.
    unstaged = [n for i, n in enumerate(staged.columns) if f"c{i}" not in present]

    bad = _filtered(filters, mapping, ref_of, params)
    # A number of a contract column as the file wrote it, not as DuckDB's JSON renders
    # its double (numbers.py): kept top-level columns of the kind's names, and the
    # paths of fields that give such a column.
    kept_written = {int(e.removeprefix("c")): n.strip().lower()
                    for e, n in zip(selects, names, strict=False)
                    if staged.style == "json" and e.startswith("c") and e[1:].isdigit()
                    and n.strip().lower() in CONTRACT_NAMES}
    written_refs: dict[int, tuple[str | None, str]] = {}  # ref index -> where written
    for target, listed in fields.items():
        for _, r in listed if target in CONTRACT_NAMES else ():
            j = ref_of(r)
            where = None if j is None else _written_text(refs[int(j[2:])], ptrs, staged)
            if j is not None and where is not None:
                written_refs[int(j[2:])] = where
    unsure = _unsure(fields, kept_written, written_refs, ref_of, mapping, params)
    if unsure:
        bad = f"coalesce({bad}, {unsure})"
    outputs = "".join(f",\n  {expr} AS c{i}" for i, expr in enumerate(selects))
    inner = f"SELECT * FROM {table}"
    if kept_written:
        found_kept = ", ".join(
            f"{numbers.mapped_candidates(staged.columns[i], f'c{i}', '_raw')} AS _wc{i}"
            for i in kept_written)
        replaced = ", ".join(f"{numbers.mapped_written(f'c{i}', f'_wc{i}')} AS c{i}"
                             for i in kept_written)
        inner = (f"SELECT * REPLACE ({replaced}) FROM (SELECT *, {found_kept} "
                 f"FROM {table})")
    if ptrs:
        listed_ptrs = "[" + ", ".join(sql_string(p) for p in ptrs) + "]"
        inner = (f"SELECT *, CASE WHEN _bad IS NULL THEN json_extract(_raw, {listed_ptrs}) "
                 f"END AS _p FROM ({inner})")
    if values:
        raw_values = ", ".join(f"{v} AS _q{j}" for j, v in enumerate(values))
        present_values = ", ".join(
            f"CASE WHEN json_type(_q{j}) = 'NULL' OR (json_type(_q{j}) = 'VARCHAR' AND "
            f"trim(_q{j} ->> '$') = '') THEN NULL ELSE _q{j} END AS _r{j}"
            for j in range(len(values)))
        inner = f"SELECT *, {present_values} FROM (SELECT *, {raw_values} FROM ({inner}))"
    if written_refs:
        found_refs = ", ".join(f"{numbers.mapped_candidates(key, f'_r{j}', text)} AS _w{j}"
                               for j, (key, text) in written_refs.items())
        replaced = ", ".join(f"{numbers.mapped_written(f'_r{j}', f'_w{j}')} AS _r{j}"
                             for j in written_refs)
        inner = f"SELECT * REPLACE ({replaced}) FROM (SELECT *, {found_refs} FROM ({inner}))"
    select = f"SELECT _row, _loc, _raw, {bad} AS _bad{outputs}\nFROM ({inner})"
    select = _minor_units(_decimal_marks(select, names, staged, mapping), names, staged,
                          mapping)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {MAPPED} AS {select} ORDER BY _row, _loc", params)
    con.execute(f"DROP TABLE {table}")
    con.execute(f"ALTER TABLE {MAPPED} RENAME TO {table}")
    mapped = Staged(columns=names + unstaged, style=staged.style, table=staged.table,
                    kind=staged.kind, source_format=staged.source_format)
    _refuse_objects(con, mapped, mapping, origins, bases, file)
    return mapped


def _written_text(ref: PathRef, ptrs: list[str], staged: Staged
                  ) -> tuple[str | None, str] | None:
    """Where a number at `ref` is written, for numbers.mapped_candidates: the last key
    of its path (None for an array index) and the SQL of the JSON text that holds it:
    the record's text, or the JSON text a path reads inside; None where a number has
    no written digits to look up (a CSV field is text; a Parquet double has none)."""
    if ref.split:
        outer = f"_p[{ptrs.index(pointer(ref.steps[:ref.split])) + 1}]"
        text = f"CASE WHEN json_type({outer}) = 'VARCHAR' THEN {outer} ->> '$' END"
        last = ref.steps[-1] if len(ref.steps) > ref.split else None
        return (last if isinstance(last, str) else None), text
    if staged.style != "json":
        return None
    if ref.column is not None:
        return staged.columns[ref.column], "_raw"
    last = ref.steps[-1]
    return (last if isinstance(last, str) else None), "_raw"


def _unsure(fields: _Fields, kept: dict[int, str], refs: dict[int, tuple[str | None, str]],
            ref_of: Callable[[PathRef | None], str | None], mapping: Mapping,
            params: dict[str, str]) -> str | None:
    """SQL for the reason a row is quarantined when the written digits of a number a
    contract column takes cannot be told (numbers.mapped_candidates): of a field, the
    path it takes in that row (the first present)."""
    reasons = [(numbers.mapped_unsure(f"_wc{i}"), name) for i, name in kept.items()]
    for target, listed in fields.items():
        chosen = [j for j in (ref_of(r) for _, r in listed) if j is not None]
        if not any(int(j[2:]) in refs for j in chosen):
            continue
        # As _field chooses: among several paths, an object or array is no value.
        skip = "" if len(chosen) == 1 else " AND json_type({}) NOT IN ('OBJECT', 'ARRAY')"
        whens = " ".join(
            f"WHEN {j} IS NOT NULL{skip.format(j)} THEN "
            + (numbers.mapped_unsure(f"_w{j[2:]}") if int(j[2:]) in refs else "false")
            for j in chosen)
        reasons.append((f"coalesce(CASE {whens} END, false)", target))
    if not reasons:
        return None
    why = ("cannot tell which digits were written, the same number is repeated "
           f"elsewhere in the record (mapping {mapping.name}; write the value as a JSON "
           "string)")
    named = ", ".join(f"CASE WHEN {test} THEN {_bind(params, name)} END"
                      for test, name in reasons)
    return f"nullif(concat_ws(', ', {named}), '') || {_bind(params, ': ' + why)}"


def _fit(probe: Probe, mapping: Mapping, fields: _Fields, filters: _Filters,
         file: str) -> dict[PathRef, PathRef]:
    """Each path of the mapping resolved in this file (see Probe.resolve), or a
    UsageError naming every one that matches nothing, with the nearest key the file has.
    Filter paths must match some row of the file; the other paths some row the filters
    keep (a file of logins filtered out whole has no privilege to read)."""
    filter_found = probe.resolve([r for _, uses in filters for _, r in uses if r is not None])
    misses = [use for _, uses in filters
              if not any(r is not None and r in filter_found for _, r in uses) for use in uses]
    if not misses and filters:
        params: dict[str, str] = {}
        keep = _keeps(filters, mapping, lambda r: None if r is None else value_sql(
            filter_found.get(r, r)), params)
        probe = probe.keeping(keep, params)
    found = {**probe.resolve([r for listed in fields.values() for _, r in listed
                              if r is not None]), **filter_found}
    misses += _misses(fields, found)
    if misses and probe.rows:
        kept = " the rows its filters keep of" if filters else ""
        raise UsageError(
            f"the mapping {mapping.source} does not fit this file: "
            + "; ".join(f"{use.key} = {use.text!r} matches nothing in{kept} it"
                        f"{probe.suggestion(use.text, ref)}" for use, ref in misses),
            source=file)
    return found


def _misses(
    fields: dict[str, list[tuple[_Use, PathRef | None]]], found: dict[PathRef, PathRef]
) -> list[tuple[_Use, PathRef | None]]:
    """Fields that match nothing: one none of whose paths does (the others are
    alternatives for other rows), a renamed column that is not there."""
    misses: list[tuple[_Use, PathRef | None]] = []
    for listed in fields.values():
        if any(optional(u.text)[1] for u, _ in listed):
            continue  # a field not every export carries
        if not any(r is not None and r in found for _, r in listed):
            misses.extend(listed)
    return misses


def _pointers(refs: list[PathRef]) -> list[str]:
    """The JSON pointers read from `_raw`, once each, in one json_extract per row."""
    ptrs: list[str] = []
    for ref in refs:
        if ref.column is None:
            p = pointer(ref.steps[:ref.split] if ref.split else ref.steps)
            if p not in ptrs:
                ptrs.append(p)
    return ptrs


def _value(ref: PathRef, ptrs: list[str], staged: Staged) -> str:
    """SQL for the reference's value as JSON (over the layer that has `_p`)."""
    if ref.column is not None:
        column = f"c{ref.column}"
        return column if staged.style == "json" else f"to_json({column})"
    if not ref.split:
        return f"_p[{ptrs.index(pointer(ref.steps)) + 1}]"
    outer = f"_p[{ptrs.index(pointer(ref.steps[:ref.split])) + 1}]"
    return parsed_sql(outer, ref.steps[ref.split:])


def _text_of_json(value: str) -> str:
    # JSON strings lose their quotes; numbers, objects and arrays keep their text.
    return f"nullif(trim({value} ->> '$'), '')"


def _column(column: str, key: str, staged: Staged, mapping: Mapping,
            params: dict[str, str]) -> str:
    """A source column kept (renamed or not), its values mapped if the mapping says."""
    if _transformed(key, mapping):
        return _restyle(_transform(_text(column, staged), key, mapping, params), staged)
    return column


def _field(refs: list[str | None], target: str, staged: Staged, mapping: Mapping,
           params: dict[str, str]) -> str:
    """The first present of the field's paths, in the staged table's value style."""
    present = [r for r in refs if r is not None]
    if not present:  # optional paths the file does not have
        return _restyle(_transform("CAST(NULL AS VARCHAR)", target, mapping, params), staged)
    if len(present) > 1 and target in CONTRACT_NAMES:
        # Choosing among paths, an object or array is no value of a column: the next
        # path is tried (`number.value`, else `number` itself, in another export).
        present = [f"CASE WHEN json_type({r}) IN ('OBJECT', 'ARRAY') THEN NULL ELSE {r} END"
                   for r in present]
    if staged.style == "json" and not _transformed(target, mapping):
        return present[0] if len(present) == 1 else f"coalesce({', '.join(present)})"
    texts = [_text_of_json(r) for r in present]
    text = texts[0] if len(texts) == 1 else f"coalesce({', '.join(texts)})"
    return _restyle(_transform(text, target, mapping, params), staged)


def _transformed(key: str, mapping: Mapping) -> bool:
    return key in mapping.values or key in mapping.timestamps or key in mapping.defaults


def _keeps(filters: _Filters, mapping: Mapping,
           value_of: Callable[[PathRef | None], str | None], params: dict[str, str]) -> str:
    """SQL true for a row every filter keeps."""
    return " AND ".join(_keep(f, [value_of(r) for _, r in uses], params)
                        for f, uses in filters) or "true"


def _keep(row_filter: RowFilter, values: list[str | None], params: dict[str, str]) -> str:
    texts = [_text_of_json(v) for v in values if v is not None]
    text = ("CAST(NULL AS VARCHAR)" if not texts else texts[0] if len(texts) == 1
            else f"coalesce({', '.join(texts)})")
    listed = ", ".join(_bind(params, v) for v in row_filter.values)
    test = {"equals": f"{text} = {listed}", "in": f"{text} IN ({listed})",
            "matches": f"regexp_matches({text}, {listed})"}[row_filter.test.removeprefix("not_")]
    # A row without the value passes no test, so it is kept only by a not_ test.
    return (f"NOT coalesce({test}, false)" if row_filter.test.startswith("not_")
            else f"coalesce({test}, false)")


def _filtered(filters: _Filters, mapping: Mapping,
              ref_of: Callable[[PathRef | None], str | None], params: dict[str, str]) -> str:
    """`_bad` with every filtered-out row given its reason (a row unreadable already
    keeps its own)."""
    if not filters:
        return "_bad"
    whens = " ".join(
        f"WHEN NOT ({_keep(row_filter, [ref_of(r) for _, r in uses], params)}) "
        f"THEN {_bind(params, _reason(mapping, row_filter))}"
        for row_filter, uses in filters)
    return f"CASE WHEN _bad IS NOT NULL THEN _bad {whens} END"


def _reason(mapping: Mapping, row_filter: RowFilter) -> str:
    shown = ", ".join(row_filter.values[:4]) + (
        f", … ({len(row_filter.values)} values)" if len(row_filter.values) > 4 else "")
    test = {"equals": "is", "in": "is one of", "matches": "matches",
            "not_equals": "is not", "not_in": "is none of", "not_matches": "does not match"}
    return (f"{FILTERED}{mapping.name}: filter {row_filter.name} keeps only rows whose "
            f"{' / '.join(row_filter.paths)} {test[row_filter.test]} {shown}")


# Characters that group an amount's thousands besides the other mark: a space, a
# no-break space, a narrow no-break space (French), an apostrophe (Swiss).
GROUPING = " \u00a0\u202f'"


def _decimal_marks(select: str, names: list[str], staged: Staged, mapping: Mapping) -> str:
    """Amounts written with a decimal comma or grouped thousands ("1.234,56",
    "1 234,56", "1,234.56") as plain decimals: the grouping taken out and the mark made
    a point, a text operation. Only a number that groups by threes, or not at all, is
    rewritten; anything else is quarantined as an invalid amount, saying the mark."""
    folded = [n.strip().lower() for n in names]
    replaced = []
    for column, mark in mapping.decimal_mark.items():
        if column not in folded:
            continue
        text = _text(f"c{folded.index(column)}", staged)
        group = ("[" + ("." if mark == "," else ",") + GROUPING + "]")
        escaped = "\\" + mark
        shape = f"-?([0-9]+|[0-9]{{1,3}}({group}[0-9]{{3}})+)({escaped}[0-9]+)?"
        plain = (f"replace(regexp_replace({text}, {sql_string(group)}, '', 'g'), "
                 f"{sql_string(mark)}, '.')")
        # Else the text as it was, told apart so that validation quarantines it: with
        # a decimal comma, "4.99" is no amount (nor 4.99), "4.990" would be 4990.
        expr = (f"CASE WHEN {text} IS NULL THEN NULL "
                f"WHEN regexp_full_match({text}, {sql_string(shape)}) THEN {plain} "
                f"ELSE {sql_string(f'not written with the decimal mark {mark!r}: ')} "
                f"|| {text} END")
        replaced.append(f"{_restyle(expr, staged)} AS c{folded.index(column)}")
    if not replaced:
        return select
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM ({select})"


def _minor_units(select: str, names: list[str], staged: Staged, mapping: Mapping) -> str:
    """Amounts given in minor units (cents) written as decimals, exactly: a text
    operation, not a division, so no binary float ever enters."""
    folded = [n.strip().lower() for n in names]
    replaced = []
    for column, units in mapping.minor_units.items():
        if column not in folded:
            continue
        text = _text(f"c{folded.index(column)}", staged)
        if units == "currency":
            if "currency" not in folded:
                raise UsageError(
                    f"mapping key 'minor_units.{column}' is \"currency\" but the mapping "
                    "gives no currency column", source=mapping.source)
            currency = f"c{folded.index('currency')}"
            code = f"upper({_text(currency, staged)})"
            zero = ", ".join(sql_string(c) for c in ZERO_DECIMALS)
            three = ", ".join(sql_string(c) for c in THREE_DECIMALS)
            exponent = f"(CASE WHEN {code} IN ({zero}) THEN 0 WHEN {code} IN ({three}) " \
                       "THEN 3 ELSE 2 END)"
        else:
            exponent = str(units)
        # At least one digit before the point (lpad would cut a longer text).
        bare = f"ltrim({text}, '-')"
        digits = f"(repeat('0', greatest({exponent} + 1 - length({bare}), 0)) || {bare})"
        decimal = (f"(CASE WHEN starts_with({text}, '-') THEN '-' ELSE '' END || "
                   f"left({digits}, length({digits}) - {exponent}) || "
                   f"CASE WHEN {exponent} > 0 THEN '.' || right({digits}, {exponent}) "
                   "ELSE '' END)")
        expr = (f"CASE WHEN {text} IS NULL THEN NULL "
                f"WHEN regexp_full_match({text}, '-?[0-9]+') THEN {decimal} "
                f"ELSE 'not a whole number of minor units: ' || {text} END")
        replaced.append(f"{_restyle(expr, staged)} AS c{folded.index(column)}")
    if not replaced:
        return select
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM ({select})"


def _refuse_objects(con: duckdb.DuckDBPyConnection, mapped: Staged, mapping: Mapping,
                    origins: list[str], bases: list[str], file: str) -> None:
    """An object or array where a value of the kind's columns is expected is refused:
    loaded as its JSON text it would make an id no other row shares."""
    kind = mapping.kind
    expected = set(KINDS[kind].column_names) if kind in KINDS else {
        c for k in KINDS.values() for c in k.column_names}
    checked = [i for i, n in enumerate(mapped.columns[:len(origins)])
               if n.strip().lower() in expected]
    if not checked:
        return
    table = quote_ident(mapped.table)

    def structured(i: int) -> str:
        if mapped.style == "json":
            return f"json_type(c{i}) IN ('OBJECT', 'ARRAY')"
        text = f"trim(CAST(c{i} AS VARCHAR))"
        return (f"(regexp_matches({text}, '^[\\[{{]') AND json_valid({text}) "
                f"AND json_type({text}) IN ('OBJECT', 'ARRAY'))")

    firsts = ", ".join(f"min(CASE WHEN {structured(i)} THEN _row END)" for i in checked)
    row = con.execute(f"SELECT {firsts} FROM {table} WHERE _bad IS NULL").fetchone()
    hits = [(r, i) for r, i in zip(row or (), checked, strict=True) if r is not None]
    if not hits:
        return
    first, i = min(hits)
    value = f"c{i}" if mapped.style == "json" else f"CAST(trim(CAST(c{i} AS VARCHAR)) AS JSON)"
    loc, kind_of, keys = con.execute(
        f"SELECT _loc, json_type({value}), CASE WHEN json_type({value}) = 'OBJECT' "
        f"THEN json_keys({value}) END FROM {table} WHERE _row = $row AND _bad IS NULL "
        "LIMIT 1", {"row": first}).fetchone() or ("", "", None)
    name = mapped.columns[i]
    hint = (f"; pick one of its keys ({', '.join(keys[:6])}) with a path such as "
            f"'{bases[i]}.{keys[0]}'" if keys else "; pick one element with a path such as "
            f"'{bases[i]}[0]'")
    raise UsageError(
        f"{loc}: {origins[i]} gives a JSON {str(kind_of).lower()} for {name}, where a "
        f"single value is expected (mapping {mapping.source}){hint}", source=file)


def _bind(params: dict[str, str], value: str) -> str:
    name = f"m{len(params)}"
    params[name] = value
    return f"${name}"


def _text(column: str, staged: Staged) -> str:
    if staged.style == "json":
        return f"nullif(trim(json_extract_string({column}, '$')), '')"
    if staged.style == "native":
        return f"nullif(trim(CAST({column} AS VARCHAR)), '')"
    return f"nullif(trim({column}), '')"


def _restyle(text: str, staged: Staged) -> str:
    """A VARCHAR expression in the staged table's value style."""
    return f"to_json({text})" if staged.style == "json" else text


def _transform(text: str, key: str, mapping: Mapping, params: dict[str, str]) -> str:
    """SQL for the column's text after its value map, then its timestamp format."""
    expr = text
    if key in mapping.values:
        whens = " ".join(
            f"WHEN {_bind(params, source)} THEN {_bind(params, target)}"
            for source, target in mapping.values[key].items()
        )
        otherwise = (f"CASE WHEN {expr} IS NULL THEN NULL ELSE "
                     f"{_bind(params, mapping.unmatched[key])} END"
                     if key in mapping.unmatched else expr)
        expr = f"CASE {expr} {whens} ELSE {otherwise} END" if whens else otherwise
    if key in mapping.timestamps:
        formats = mapping.timestamps[key]
        # Each format on its own, in order: DuckDB's try_strptime of a list stops at a
        # format with %Z that fails ("%Y-%m-%d %H:%M:%S %Z" before "... %z" leaves
        # "2024-03-01 10:00:00 +0100" unread, as Rails-made billing exports write it).
        tries = [f"try_strptime({expr}, {_bind(params, f)})" for f in formats]
        parsed = tries[0] if len(tries) == 1 else f"coalesce({', '.join(tries)})"
        # Zoned formats give an instant: written as UTC with Z. Others give a wall-clock
        # time, written without offset so validation reads it in --tz.
        if any("%z" in f or "%Z" in f for f in formats):
            iso = (f"strftime(timezone('UTC', CAST({parsed} AS TIMESTAMPTZ)), "
                   f"'%Y-%m-%dT%H:%M:%S.%fZ')")
        else:
            iso = f"strftime(CAST({parsed} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%f')"
        expr = f"coalesce({iso}, {expr})"
    if key in mapping.defaults:
        expr = f"coalesce({expr}, {_bind(params, mapping.defaults[key])})"
    return expr
