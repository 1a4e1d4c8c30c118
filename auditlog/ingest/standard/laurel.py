"""LAUREL JSON (https://github.com/threathunters-io/laurel, an auditd plug-in) → the
same privileges and actions as the audit.log it was made from.

LAUREL writes each auditd event as one JSON object: `ID` (the event's stamp,
`SECONDS.MILLIS:SERIAL`), `NODE` when auditd names the host, and the event's records by
their type: `SYSCALL`, `EXECVE`, `CWD`, `PROCTITLE` as one object, every other type
(`PATH`, `SOCKADDR`, `USER_ACCT`, `ADD_GROUP`, `LOGIN`, ...) as a list of objects. A
record's fields keep auditd's names and values, decoded (hex-encoded strings as text,
`EXECVE` and `PROCTITLE` arguments as the list `ARGV`, numbers as numbers), and its
enrichments in upper case (`AUID`, `UID`, `SYSCALL`, `ARCH`, ..., as auditd's own
`log_format = ENRICHED` writes them).

Nothing of that is lost by writing each record back as the line auditd wrote (what
LAUREL's own `laurel2audit` does): `[node=N ]type=T msg=audit(ID): k=v ...`, a string
that holds a space, quote or other byte auditd would not write bare hex-encoded as
auditd encodes it, `ARGV` as `a0=... a1=...` (`proctitle` as its arguments joined by NUL),
objects LAUREL added (`PPID`, `SPAWNED_BY`, labels) left out. Those lines are parsed,
grouped and mapped by the auditd mapping (standard/auditd.py), so an event reads the
same from either log: same event id, time, actor (`AUID`/`UID` names), action (the
record type) and object. Each row is then its JSON line again: its location `line N`,
its raw text the object as LAUREL wrote it. A line without a valid `ID` is quarantined
saying so.
"""

from __future__ import annotations

import re

import duckdb

from auditlog.ingest.staging import DOCS, Staged
from auditlog.ingest.standard.auditd import LINES_TABLE, stage_events

NAME = "laurel"

# Record types: upper case, as auditd names them (LAUREL's top-level keys besides ID/NODE).
_TYPE = re.compile(r"[A-Z][A-Z0-9_]*")
# Record types at least one of which a LAUREL event has (what tells it from other JSON
# with an `ID`).
RECORD_TYPES = frozenset({
    "SYSCALL", "EXECVE", "PROCTITLE", "CWD", "PATH", "SOCKADDR", "USER_CMD", "USER_ACCT",
    "USER_AUTH", "USER_START", "USER_END", "USER_LOGIN", "USER_LOGOUT", "LOGIN", "CRED_ACQ",
    "CRED_DISP", "CRED_REFR", "AVC", "USER_AVC", "ADD_USER", "ADD_GROUP", "DEL_USER",
    "DEL_GROUP", "USER_MGMT", "GRP_MGMT", "USER_CHAUTHTOK", "CONFIG_CHANGE", "SERVICE_START",
    "SERVICE_STOP", "USER_ROLE_CHANGE", "ANOM_ABEND", "ANOM_PROMISCUOUS", "DAEMON_START",
    "DAEMON_END", "KERN_MODULE", "NETFILTER_CFG", "BPF", "URINGOP", "TIME_ADJNTPVAL",
    "MAC_POLICY_LOAD", "USER_ERR", "USYS_CONFIG", "ACCT_LOCK", "ACCT_UNLOCK", "OBJ_PID"})
_STAMP = "^[0-9]+\\.[0-9]+:[0-9]+$"
# Lines per JSON line: a record's line number is `_row * _SPAN + its position`, so that
# the records of one event keep LAUREL's order and come back to their row.
_SPAN = 100_000

# A string auditd writes bare: printable ASCII but for space, `"` and `'` (else it is
# hex-encoded, upper case, as the kernel encodes untrusted strings).
_BARE = "^[!#-&(-~]*$"


def _rendered(value: str, field: str) -> str:
    """SQL: one field of a record as auditd writes it (`k=v`, `k="v"`, `k=HEX`); NULL
    for what LAUREL added and auditd did not write (objects, lists)."""
    text = f"({value} ->> '$')"
    return (f"CASE json_type({value}) "
            f"WHEN 'NULL' THEN {field} || '=(null)' "
            f"WHEN 'VARCHAR' THEN {field} || '=' || CASE "
            f"  WHEN {text} = '' THEN '\"\"' "
            f"  WHEN regexp_matches({text}, '{_BARE}') THEN '\"' || {text} || '\"' "
            f"  ELSE upper(hex(encode({text}))) END "
            f"WHEN 'OBJECT' THEN NULL WHEN 'ARRAY' THEN NULL "
            f"ELSE {field} || '=' || {text} END")


def _argv(record: str, kind: str) -> str:
    """SQL: a record's `ARGV` list as auditd writes it: EXECVE's `a0=... a1=...`,
    PROCTITLE's `proctitle=` (the arguments joined by NUL, hex), SYSCALL's registers."""
    args = f"list_transform(json_extract({record}, '$.ARGV[*]'), lambda a: a ->> '$')"
    return (f"CASE WHEN json_type({record}, '$.ARGV') <> 'ARRAY' THEN NULL "
            f"WHEN {kind} = 'PROCTITLE' "
            f"  THEN 'proctitle=' || upper(hex(encode(array_to_string({args}, chr(0))))) "
            f"WHEN {kind} = 'SYSCALL' THEN array_to_string(list_transform("
            f"  generate_series(1, len({args})), lambda i: 'a' || (i - 1) || '=' "
            f"  || regexp_replace({args}[i], '^0x', '')), ' ') "
            f"ELSE array_to_string(list_transform(generate_series(1, len({args})), "
            f"  lambda i: 'a' || (i - 1) || '=' || CASE WHEN regexp_matches({args}[i], "
            f"'{_BARE}') AND {args}[i] <> '' THEN '\"' || {args}[i] || '\"' "
            f"ELSE upper(hex(encode({args}[i]))) END), ' ') END")


def _fields(record: str, kind: str) -> str:
    """SQL: a record's fields as the text after auditd's `msg=audit(...): `; a
    user-space message LAUREL kept as an object written back inside `msg='...'`."""
    def own(obj: str) -> str:
        value = f"json_extract({obj}, '$.\"' || f || '\"')"
        return (f"array_to_string(list_filter(list_transform(json_keys({obj}), "
                f"lambda f: CASE WHEN f IN ('ARGV', 'ARGV_STR') THEN NULL "
                f"WHEN f = 'msg' AND json_type({obj} -> '$.msg') = 'OBJECT' THEN NULL "
                f"WHEN f = 'msg' AND json_type({obj} -> '$.msg') = 'VARCHAR' "
                f"  THEN 'msg=''' || ({obj} ->> '$.msg') || '''' "
                f"ELSE {_rendered(value, 'f')} END), "
                f"lambda t: t IS NOT NULL), ' ')")
    message = (f"CASE WHEN json_type({record} -> '$.msg') = 'OBJECT' "
               f"THEN 'msg=''' || {own(f'({record} -> ' + chr(39) + '$.msg' + chr(39) + ')')}"
               f" || '''' END")
    argv = (f"CASE WHEN json_type({record}, '$.ARGV_STR') = 'VARCHAR' AND {kind} = 'EXECVE' "
            f"THEN 'a0=' || upper(hex(encode({record} ->> '$.ARGV_STR'))) "
            f"ELSE {_argv(record, kind)} END")
    return f"concat_ws(' ', nullif({own(record)}, ''), {argv}, {message})"


# Every JSON line → its records as auditd lines (or, for a line that is not a LAUREL
# event, one line saying why, quarantined by the auditd mapping).
LINES_SQL = f"""
WITH events AS (
  SELECT _row, _raw, _bad,
         CASE WHEN _bad IS NULL THEN CAST(_raw AS JSON) END AS j
  FROM {DOCS}),
stamped AS (
  SELECT *, j ->> '$.ID' AS id, j ->> '$.NODE' AS node,
         list_filter(json_keys(j), lambda k: regexp_full_match(k, '[A-Z][A-Z0-9_]*')
                     AND k NOT IN ('ID', 'NODE')
                     AND json_type(json_extract(j, '$."' || k || '"')) IN ('OBJECT', 'ARRAY'))
           AS types
  FROM events),
records AS (
  SELECT _row, id, node, type, record,
         row_number() OVER (PARTITION BY _row ORDER BY position, item) AS n
  FROM (
    SELECT _row, id, node, type, position,
           unnest(CASE json_type(value) WHEN 'OBJECT' THEN [value]
                       ELSE list_filter(CAST(json_extract(value, '$[*]') AS JSON[]),
                                        lambda r: json_type(r) = 'OBJECT') END) AS record,
           generate_subscripts(CASE json_type(value) WHEN 'OBJECT' THEN [value]
                       ELSE list_filter(CAST(json_extract(value, '$[*]') AS JSON[]),
                                        lambda r: json_type(r) = 'OBJECT') END, 1) AS item
    FROM (SELECT _row, id, node, unnest(types) AS type,
                 generate_subscripts(types, 1) AS position,
                 unnest(list_transform(types, lambda k: json_extract(j, '$."' || k || '"'))) AS value
          FROM stamped
          WHERE _bad IS NULL AND regexp_matches(coalesce(id, ''), '{_STAMP}'))))
SELECT _row * {_SPAN} + n AS line,
       CASE WHEN regexp_full_match(coalesce(node, ''), '[^ ]+') THEN 'node=' || node || ' '
            ELSE '' END
         || 'type=' || type || ' msg=audit(' || id || '): ' || {_fields('record', 'type')}
         AS raw,
       CAST(NULL AS VARCHAR) AS bad
FROM records
UNION ALL
SELECT _row * {_SPAN}, _raw,
       coalesce(_bad, CASE
         WHEN NOT regexp_matches(coalesce(id, ''), '{_STAMP}')
           THEN 'LAUREL event without a valid ID (the stamp "SECONDS.MILLIS:SERIAL")'
         ELSE 'LAUREL event without an audit record' END)
FROM stamped
WHERE _bad IS NOT NULL OR NOT regexp_matches(coalesce(id, ''), '{_STAMP}') OR len(types) = 0
"""


class Laurel:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        types = keys - {"ID", "NODE"}
        return ("ID" in keys and bool(types & RECORD_TYPES)
                and all(_TYPE.fullmatch(k) for k in types))

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {LINES_TABLE} AS {LINES_SQL}")
        staged = stage_events(con, NAME)
        for table in staged:
            # Each row is its JSON line again (see the module docstring).
            con.execute(
                f"""
                UPDATE {table.table} t SET _row = d._row, _loc = d._loc, _raw = d._raw
                FROM {DOCS} d WHERE d._row = t._row // {_SPAN}
                """
            )
        return staged
