"""A JSON number read as written: its text in the file, not DuckDB's rendering of it.

DuckDB's JSON functions read a number with a fraction or an exponent as a DOUBLE and
give back the shortest text of that double: `1e2` comes back as `100.0`,
`9.990000000000001` as `9.99`, `12345678901234.12345678` as `12345678901234.123`.
(Integers keep every digit, beyond int64 too: DuckDB keeps an integer too large for
64 bits as its text.) Read that way, an amount with five fractional digits would load
rounded instead of being quarantined, `1e2` would load as 100 where the same text in a
CSV cell is quarantined, and `1.50` and `1.5` written as ids would become one id. So a
value of a contract column that DuckDB gave back as such a rendering is read again
from the row's own text: the number written after its key.

The cost stays off the common row: one test of the line (`MEMBER`, a regular
expression DuckDB runs at about the speed of a memchr over the line: ~0.2 CPU s per
million lines) tells whether any member of it is such a number at all; only then is a
rendered-looking value (`RENDERED`) looked up, with one `regexp_extract_all` for its key.

The key is found in the text in every spelling JSON allows for it (`\\u0061mount` is
`amount`), so the matches are every member of that name at any depth. One of them is
the top-level value DuckDB rendered; the others are members of nested objects. The
written number is the match whose value is the rendered double; when the key repeats
in a nested object with a number of the same value, or with a string, which match is
the top-level one cannot be told by a regular expression, and the row is quarantined
(`unsure_reason`) rather than read with digits it may not have had.

A mapping file's value (`[fields] amount = "data.object.amount"`, a kept or renamed
top-level column) is a JSON value DuckDB extracted, so a number at its path comes back
rendered the same way. It is read again the same way (`mapped_candidates`), from the
record's text, or from the JSON text a path reads inside: the members named like the
path's last key are looked up, and of those that are numbers, the one of the rendered
double is the written text. The value at the path is a number, so strings elsewhere are
no candidates. A number that is an element of an array (`amounts[0]`) has no key: it
is looked up among the array elements of the text (`ELEMENT`). When two candidates have
the rendered double (a key repeated with the same value, `[9.5, 9.50]`), which was
written cannot be told: the row is quarantined (`mapped_unsure`) rather than read with
digits it may not have had.
"""

from __future__ import annotations

from auditlog.sqltext import sql_string

# A member whose value is a number with a fraction or an exponent, or `-0` (which DuckDB
# gives back as `0`). A colon inside a string (`"10:00:00.5Z"`) is not followed by such a
# number and the end of the member; a false match costs only the lookup.
MEMBER = r":[ \t\n\r]*(-?[0-9]+[.eE][0-9eE+-]*|-0)[ \t\n\r]*[,}]"

# A number that is an element of an array: after `[` or `,` a number can only be one
# (a member's key is a string); a match inside a string is one more candidate at most.
ELEMENT = r"[\[,][ \t\n\r]*(-?[0-9][0-9.eE+-]*)"

# Of the members named like the column (`m`: each one's number, quoted string, or NULL
# for another value), those that may be the top-level value DuckDB gave back as `t`: a
# number of the same double, or a string whose text is `t` (one with an escape is
# taken as possible, not decoded). When the key occurs once, that is the top-level
# member. One number among them is the written text (al_written); more than one
# possible member is a value that cannot be told (al_written_unsure).
MACROS = r"""
CREATE OR REPLACE TEMP MACRO al_rendered(t) AS (
  regexp_full_match(t, '-?[0-9]+(\.[0-9]+(e-?[0-9]+)?|e-?[0-9]+)|0'));
CREATE OR REPLACE TEMP MACRO al_written_candidates(m, t) AS (
  CASE WHEN len(m) = 1 THEN m ELSE list_distinct(list_filter(m, lambda x: CASE
    WHEN starts_with(x, '"') THEN x = '"' || t || '"' OR contains(x, '\')
    ELSE x = t OR try_cast(x AS DOUBLE) = try_cast(t AS DOUBLE) END)) END);
CREATE OR REPLACE TEMP MACRO al_written(c, t) AS (
  CASE WHEN len(c) = 1 AND NOT starts_with(c[1], '"') THEN coalesce(c[1], t) ELSE t END);
CREATE OR REPLACE TEMP MACRO al_written_unsure(c) AS (len(c) > 1);
"""

_SHORT_ESCAPES = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}


def _hex(code: int) -> str:
    """The four hex digits of a `\\u` escape, either case."""
    digits = f"{code:04x}"
    return "".join(d if d.isdigit() else f"[{d}{d.upper()}]" for d in digits)


def _spelled(char: str) -> str:
    """A regular expression for every way JSON may write `char` inside a string."""
    ways = [f"\\\\u{_hex(ord(char))}"]
    if char in _SHORT_ESCAPES:
        ways.append(f"\\\\{_SHORT_ESCAPES[char]}")
    elif char in '"\\/':
        ways.append(f"\\\\\\{char}")
    if char not in '"\\' and ord(char) >= 0x20:
        ways.append(char if char.isalnum() or char == "_"
                    else f"\\{char}" if char in "]^-" else f"[{char}]")
    return "(?:" + "|".join(ways) + ")"


def member_pattern(key: str) -> str:
    """A regular expression matching every member named `key` (at any depth), its
    group 1 the member's value when that is a number or a string (quoted), else none."""
    spelled = "".join(_spelled(c) for c in key)
    return (f'[{{,][ \\t\\n\\r]*"{spelled}"[ \\t\\n\\r]*:[ \\t\\n\\r]*'
            '(-?[0-9][0-9.eE+-]*|"(?:[^"\\\\]|\\\\.)*")?')


def member_numbers(key: str, text: str) -> str:
    """SQL for the written values of every member named `key` in the row's text, when
    `text`, its value as DuckDB gave it back, may be a rendered number; else NULL.
    (Nested CASE, not AND: DuckDB evaluates every operand of an AND in a select list.)"""
    return (f"CASE WHEN _num THEN CASE WHEN {text} >= '-' AND {text} < ':' THEN "
            f"CASE WHEN al_rendered({text}) THEN "
            f"regexp_extract_all(_raw, {sql_string(member_pattern(key))}, 1) END END END")


def mapped_candidates(key: str | None, value: str, text: str) -> str:
    """SQL for the numbers that may be the written text of `value`, a JSON value DuckDB
    extracted from the JSON text `text` at a path whose last key is `key` (None: the
    path ends in an array index, and every number that is an array element is looked
    at): NULL when `value` is no rendered number (most values: one json_type), else the
    candidates, exactly one when the written text is told."""
    rendered = f"CAST({value} AS VARCHAR)"
    pattern = ELEMENT if key is None else member_pattern(key)
    members = (f"list_filter(regexp_extract_all({text}, {sql_string(pattern)}, 1), "
               "lambda x: NOT starts_with(x, '\"'))")
    # An integer keeps its digits; only `0` may be a rendered `-0`.
    return (f"CASE WHEN json_type({value}) IN ('DOUBLE', 'UBIGINT', 'BIGINT') THEN "
            f"CASE WHEN al_rendered({rendered}) THEN "
            f"al_written_candidates({members}, {rendered}) END END")


def mapped_written(value: str, candidates: str) -> str:
    """SQL for `value` with a rendered number replaced by its written text (a JSON
    string of it, which typing reads as that text) when `candidates` tell it."""
    return (f"CASE WHEN {candidates} IS NULL OR len({candidates}) <> 1 THEN {value} "
            f"ELSE to_json({candidates}[1]) END")


def mapped_unsure(candidates: str) -> str:
    """SQL true when the written text of a rendered number cannot be told."""
    return f"coalesce(len({candidates}) <> 1, false)"


def unsure_reason(names: list[tuple[str, str]]) -> str:
    """SQL for the reason a row is quarantined when a number's written text cannot be
    told (see the module docstring); `names` (column, candidates) per keyed value."""
    unsure = ", ".join(f"CASE WHEN al_written_unsure({c}) THEN {sql_string(n)} END"
                       for n, c in names)
    return (f"CASE WHEN _num THEN nullif(concat_ws(', ', {unsure}), '') || "
            "': cannot tell which digits were written, the key is repeated in a nested "
            "object (write the value as a JSON string)' END")
