"""Linux audit (auditd) events → privileges and actions.

The reader (ingest/auditd.py) leaves the file's physical lines in `LINES_TABLE`
(`line, raw, bad`); this module parses them, groups them into events and maps each
event onto one row. All of it is SQL over the lines, so a file is parsed at DuckDB's
speed, never line by line in Python.

**Records and events.** A line is one record, `[node=N ]type=T msg=audit(S.MS:SERIAL): k=v ...`,
possibly behind the header of the syslog it was forwarded through (cut off before parsing:
syslog_prefix.py).
The kernel writes one event as several records sharing the stamp `(S.MS, SERIAL)` (and
`node`): SYSCALL with its EXECVE, CWD, PATH, PROCTITLE, SOCKADDR ... records. Every
record becomes part of exactly one event row, its lines listed in the row's location
("lines 12, 13, 14") and its text (all its lines) kept as the row's raw text. The event
id is `[node:]S.MS:SERIAL`, stable across reloads. A line that is not a record (no
`msg=audit(...)` stamp, an `ausearch -i` interpreted stamp, invalid UTF-8) is its own
row, quarantined with its line number and the reason; a file of `ausearch -i` output (its
first record interpreted) is refused as a whole (ingest/auditd.py, refuse_interpreted). Blank lines and the `----` /
`time->...` separators `ausearch` writes between events are not rows.

**The event's record.** An event is mapped from its principal record: a user-space or
standalone record (USER_*, ADD_USER, CONFIG_CHANGE, AVC, ...) before SYSCALL, SYSCALL
before the auxiliary records (EXECVE, PATH, CWD, PROCTITLE, ...). A field missing there
is taken from the next record that has it (an AVC's exe from its SYSCALL).

**Values.** `k=v`, `k="quoted"`, and hex-encoded values of the fields the kernel encodes
(acct, cmd, exe, comm, cwd, name, proctitle, data, EXECVE arguments, a long one
whole from the pieces auditd cut it in: `a1_len=N a1[0]=... a1[1]=...`) decoded; user-space
records carry their own fields inside `msg='...'`, read before the process fields outside
it. `?`, `(null)`, `(none)` and an auid/uid of 4294967295 or -1 mean unset. Enriched logs
(`log_format = ENRICHED`) append the names (`AUID="alice" UID="root" ACCT=... GRP=...`),
which are preferred to the numbers.

**Principals.** actor = the login user (`auid`: the person behind a session, kept through
su and sudo), else the process user (`uid`), each written as its name when the log gives
it (enriched `AUID=`/`UID=`, or an interpreted value), `root` for id 0, else the numeric id
as text ("1000"); the raw ids are kept in `extra.auid` / `extra.uid`, the one the actor
stands for, when a name replaced it, also as `extra.actor_raw`. An event naming
neither is `unknown`, actor_type `system`; a process with no login session (auid unset:
daemons, boot) has actor_type `system`. The host is `node` when the log names it: it is
the actions' `system` ("linux" otherwise) and the privileges' system (else empty).

**Mapping.**
* A user added to a group (shadow-utils `op=add-user-to-group` and older wordings such as
  "adding user to group", naming the user, `acct`, and the group, `grp`) is a
  **privilege grant** of the group to that user; removed from it (`delete-user-from-group`,
  "removing user from group", ...) a **revoke**. The gshadow twin of the same change
  (`...-shadow-group`) stays an action: it mirrors the grant, and counting it would grant
  the group twice.
* USER_ROLE_CHANGE (an SELinux role selected at login, or by newrole) is a **grant** of the
  new context's role (`staff_r`, `sysadm_r`) to the login user (`acct`, else the auid);
  its actor is the process user that set it (sshd, login, newrole: the uid), so a user's
  own newrole is a self-grant and a login service's is not.
* Everything else is an **action**, action = the record type: ADD_USER, DEL_USER,
  USER_MGMT, ADD_GROUP, DEL_GROUP, GRP_MGMT, ACCT_LOCK (account lifecycle: actions, since
  the accounts kind is a directory snapshot, not a history), USER_CMD (object = the
  decoded command sudo ran), USER_AUTH / USER_LOGIN / USER_START ... (target_account =
  `acct`, result from `res`), CONFIG_CHANGE (object = its `op`), SYSCALL events (object =
  exe; the syscall, EXECVE command line, path and key in extra).
* A failed record (`res=failed`/`0`, `success=no`) has result `failure`; a failed group
  change granted nothing, so it is an action.
auditd cannot record an approval, so privilege rows carry
`extra.source_carries_approval = false` (the access-approval control skips them).
"""

from __future__ import annotations

import re

import duckdb

from auditlog.ingest.staging import Staged, split_by_kind
from auditlog.ingest.syslog_prefix import SYSLOG_PREFIX
from auditlog.sqltext import sql_list

NAME = "auditd"
LINES_TABLE = "_auditd_lines"  # written by the reader: line BIGINT, raw VARCHAR, bad VARCHAR
DEFAULT_SYSTEM = "linux"

# Records that only complete a kernel event: never the record an event is mapped from
# while the event has another.
AUXILIARY = ("EXECVE", "PATH", "CWD", "PROCTITLE", "SOCKADDR", "BPRM_FCAPS", "OBJ_PID",
             "MMAP", "FD_PAIR", "EOE", "CAPSET", "IPC", "MQ_OPEN", "MQ_SENDRECV",
             "MQ_NOTIFY", "MQ_GETSETATTR", "KERN_MODULE", "SECCOMP", "NETFILTER_PKT",
             "URINGOP", "TIME_INJOFFSET", "TIME_ADJNTPVAL", "OPENAT2", "EXECVE_ARGS")

# Fields read from each record: name → (key in the log, where: "process" = outside
# msg='...' only, "message" = inside it first, then outside; hex-encoded or not).
FIELDS: dict[str, tuple[str, str, bool]] = {
    "pid": ("pid", "process", False),
    "uid": ("uid", "process", False),
    "auid": ("auid", "process", False),
    "ses": ("ses", "process", False),
    "subj": ("subj", "process", False),
    "op": ("op", "message", False),
    "acct": ("acct", "message", True),
    "account_id": ("id", "message", False),
    "grp": ("grp", "message", True),
    "exe": ("exe", "message", True),
    "comm": ("comm", "message", True),
    "cmd": ("cmd", "message", True),
    "cwd": ("cwd", "message", True),
    "hostname": ("hostname", "message", False),
    "addr": ("addr", "message", False),
    "terminal": ("terminal", "message", False),
    "res": ("res", "message", False),
    "success": ("success", "message", False),
    "exit": ("exit", "message", False),
    "syscall": ("syscall", "message", False),
    "audit_key": ("key", "message", True),
    "name": ("name", "message", True),
    "unit": ("unit", "message", False),
    "new_context": ("new-context", "message", False),
    "selected_context": ("selected-context", "message", False),
    "old_context": ("old-context", "message", False),
    "proctitle": ("proctitle", "message", True),
    # Enriched logs' names, upper case (read anywhere in the record).
    "auid_name": ("AUID", "any", False),
    "uid_name": ("UID", "any", False),
    "acct_name": ("ACCT", "any", False),
    "id_name": ("ID", "any", False),
    "grp_name": ("GRP", "any", False),
    "syscall_name": ("SYSCALL", "any", False),
}

# The record's text is cut into `key=value` tokens at spaces (the kernel hex-encodes any
# value holding a space or quote, so a space always ends a token), once per record, and
# fields are looked up in those lists: one split and a list lookup per field cost a
# fraction of a regular expression per field. The `'` around a user-space message and
# the enriched part's separator (0x1d) end tokens too.
def _tokens(text: str) -> str:
    return (f"list_filter(string_split(replace(replace({text}, chr(29), ' '), '''', ' '), ' '), "
            "lambda t: strpos(t, '=') > 1)")


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value(token: str, hexed: bool) -> str:
    """A token's value as text: unquoted, hex decoded where the kernel encodes, unset as
    NULL."""
    decoded = (f"WHEN regexp_full_match({token}, '([0-9A-F]{{2}})+') "
               f"THEN coalesce(replace(try(decode(unhex({token}))), chr(0), ' '), {token}) "
               if hexed else "")
    return (f"CASE WHEN {token} IN ('', '?', '\"?\"', '(null)', '(none)', '\"\"') THEN NULL "
            f"WHEN starts_with({token}, '\"') THEN nullif(trim({token}, '\"'), '') "
            f"{decoded}ELSE {token} END")


# Older shadow-utils write op unquoted with spaces ("op=adding group to /etc/group
# id=1004"): it runs to the next ` key=`, the closing quote or the end.
_OP = "(?:^|[ '\\x1d])op=(\"[^\"]*\"|.*?)(?: [A-Za-z_-]+=|'|\\x1d|$)"

# A line's shape: [node=N ]type=T msg=audit(SECONDS.FRACTION:SERIAL)[:] body
_SHAPE = "^(?:node=[^ ]+ )?type=[^ ]+ msg=audit\\([0-9]+\\.[0-9]+:[0-9]+\\)"
# A syslog header and the record after it (kept as group 1).
_SYSLOG_RECORD = "^" + SYSLOG_PREFIX + "((?:node=[^ ]+ )?type=[^ ]+ msg=audit\\(.*)$"
# Another program's syslog line (kernel, cron, sshd ...), and the program it names.
_SYSLOG_LINE = "^" + SYSLOG_PREFIX
_SYSLOG_PROGRAM = "^" + SYSLOG_PREFIX.replace("[^ :\\[]+", "([^ :\\[]+)", 1)
# An `ausearch -i` record: its stamp a local date and time (`12/01/2026 10:00:01.123:456`,
# `01.12.2026 ...` in other locales) where audit.log has seconds.
_INTERPRETED = "^(?:node=[^ ]+ )?type=[^ ]+ msg=audit\\([0-9]+[/.-][0-9]+[/.-][0-9]+ "
INTERPRETED = re.compile(_INTERPRETED)
_PARSED = "_auditd_parsed"
_EVENTS = "_auditd_events"
_FIELDS = "_auditd_fields"
_MAPPED = "_auditd_mapped"

# A record's rank: which of an event's records it is mapped from (see the module docstring).
_RANK = (f"CASE WHEN type IN {sql_list(list(AUXILIARY))} THEN 2 WHEN type = 'SYSCALL' THEN 1 "
         "ELSE 0 END * 1000000000000 + line")
# A user-space record's own fields are inside msg='...' (after the first ` msg='`); the
# process fields are before it. Kernel records have no such message.
_MSG_AT = "strpos(body, 'msg=''')"
_OUTER = f"CASE WHEN {_MSG_AT} > 0 THEN left(body, {_MSG_AT} - 1) ELSE body END"
_INNER = f"CASE WHEN {_MSG_AT} > 0 THEN substr(body, {_MSG_AT} + 5) ELSE '' END"

# The header is cut with string functions (a capturing regular expression per line costs
# several times more); the shape was checked first.
PARSED_SQL = f"""
SELECT line, raw, node, type, split_part(stamp, '.', 1) AS sec,
       split_part(split_part(stamp, ':', 1), '.', 2) AS frac, split_part(stamp, ':', 2) AS serial,
       body, _bad,
       {_RANK} AS rank,
       CASE WHEN _bad IS NULL THEN {_tokens(_OUTER)} END AS outer_tokens,
       CASE WHEN _bad IS NULL THEN {_tokens(_INNER)} END AS inner_tokens,
       CASE WHEN {_MSG_AT} > 0 THEN substr(body, {_MSG_AT} + 5) ELSE body END AS message
FROM (
SELECT *, ltrim(substr(rest, strpos(rest, ')') + 1), ': ') AS body
FROM (
  SELECT *, substr(rest, 6, strpos(rest, ' msg=audit(') - 6) AS type,
         substr(rest, strpos(rest, 'msg=audit(') + 10,
                strpos(rest, ')') - strpos(rest, 'msg=audit(') - 10) AS stamp
  FROM (
    SELECT line, raw, _bad,
           CASE WHEN starts_with(text, 'node=') THEN substr(text, 6, strpos(text, ' ') - 6) END
             AS node,
           CASE WHEN starts_with(text, 'node=') THEN substr(text, strpos(text, ' ') + 1)
                ELSE text END AS rest
    FROM (
      SELECT line, raw, text,
             CASE WHEN bad IS NOT NULL THEN bad
                  WHEN regexp_matches(text, {_sql(_SHAPE)}) THEN NULL
                  WHEN regexp_matches(text, {_sql(_INTERPRETED)})
                    THEN 'an interpreted auditd record (ausearch -i): its time is local and '
                         || 'its ids are names; load the raw log (ausearch --raw, or '
                         || 'audit.log)'
                  WHEN regexp_matches(text, {_sql(_SYSLOG_LINE)})
                       AND NOT regexp_matches(text, {_sql(_SYSLOG_LINE + "(?:node=[^ ]+ )?type=")})
                    THEN 'not an auditd record: a syslog line of another program ('
                         || regexp_extract(text, {_sql(_SYSLOG_PROGRAM)}, 1) || ')'
                  ELSE 'not an auditd record: expected "type=TYPE msg=audit(SECONDS.MILLIS:'
                       || 'SERIAL): ..."' END AS _bad
      FROM (
        -- The record itself: a byte order mark, or the header syslog put before a record
        -- the audisp syslog plug-in forwarded (syslog_prefix.py), cut off; `raw` stays
        -- the line as it was. (Only lines not starting as a record are searched.)
        SELECT line, raw, bad,
               CASE WHEN starts_with(raw, 'type=') OR starts_with(raw, 'node=') THEN raw
                    ELSE regexp_replace(ltrim(raw, chr(65279)), {_sql(_SYSLOG_RECORD)}, '\\1')
               END AS text
        FROM {LINES_TABLE}
        -- Blank lines and ausearch's separators between events are not records.
        -- (CASE, not OR: most lines start with type= or node=, and only others need
        -- trimming.)
        WHERE CASE WHEN starts_with(raw, 'type=') OR starts_with(raw, 'node=') THEN true
                   ELSE trim(raw) NOT IN ('', '----') AND NOT starts_with(raw, 'time->')
              END)))))
"""

# Per event: its lines and text, its principal record's type, and the tokens of all its
# records in rank order (process tokens: outside the messages; message tokens: each
# record's message, then its process part), so the first token of a key is the one of
# the most principal record that has it.
EVENTS_SQL = f"""
SELECT min(line) AS _row,
       CASE WHEN count(*) = 1 THEN 'line ' || min(line)
            ELSE 'lines ' || string_agg(CAST(line AS VARCHAR), ', ' ORDER BY line) END AS _loc,
       string_agg(raw, chr(10) ORDER BY line) AS _raw,
       node, sec, frac, serial,
       arg_min(type, rank) AS type,
       list(type ORDER BY line) AS record_types,
       flatten(list(outer_tokens ORDER BY rank)) AS process_tokens,
       flatten(list(inner_tokens || outer_tokens ORDER BY rank)) AS message_tokens,
       arg_min(message, rank) AS message,
       -- A long argument is cut over several EXECVE records (`a1_len=N a1[0]=...`, then
       -- records of ` a1[1]=...`): all of them, in order.
       string_agg(body, ' ' ORDER BY line) FILTER (WHERE type = 'EXECVE') AS execve
FROM {_PARSED}
WHERE _bad IS NULL
GROUP BY node, sec, frac, serial
"""


def _lookup(tokens: str, keys: str, key: str) -> str:
    return f"{tokens}[list_position({keys}, {_sql(key)})][{len(key) + 2}:]"


def _fields_sql() -> str:
    values = []
    for name, (key, where, hexed) in FIELDS.items():
        if name == "op":
            token = (f"CASE WHEN strpos(message, 'op=') > 0 "
                     f"THEN regexp_extract(message, {_sql(_OP)}, 1) END")
        elif name in ("auid", "ses"):
            # Older kernels write LOGIN as `old auid=X new auid=Y old ses=S new ses=T`:
            # the session's login user is the new one (newer: `old-auid=X auid=Y`).
            token = (f"CASE WHEN strpos(message, ' new {key}=') > 0 THEN regexp_extract("
                     f"message, {_sql(f' new {key}=([^ ]+)')}, 1) "
                     f"ELSE {_lookup('process_tokens', 'process_keys', key)} END")
        elif where == "process":
            token = _lookup("process_tokens", "process_keys", key)
        else:
            token = _lookup("message_tokens", "message_keys", key)
        values.append(f"{_value(f'({token})', hexed)} AS {name}")
    # Each argument `aN=V`, or cut in pieces `aN[0]=V0 aN[1]=V1 ...` (each piece hex, or
    # each quoted, as the whole argument is): the pieces joined before decoding. (Only
    # an event with pieces takes the long way.)
    simple = ("array_to_string(list_transform("
              "regexp_extract_all(execve, '(?:^| )a[0-9]+=(\"[^\"]*\"|[^ ]+)', 1), "
              f"lambda t: {_value('t', True)}), ' ')")
    pieces = ("list_transform(regexp_extract_all(execve, "
              "'(?:^| )(a[0-9]+(?:\\[[0-9]+\\])?=(?:\"[^\"]*\"|[^ ]+))', 1), "
              "lambda t: {'n': CAST(regexp_extract(t, '^a([0-9]+)', 1) AS INTEGER), "
              "'v': substr(t, strpos(t, '=') + 1)})")
    one = f"list_filter({pieces}, lambda p: p.n = n)"
    joined = (f"CASE WHEN starts_with({one}[1].v, '\"') THEN '\"' || array_to_string("
              f"list_transform({one}, lambda p: trim(p.v, '\"')), '') || '\"' "
              f"ELSE array_to_string(list_transform({one}, lambda p: p.v), '') END")
    argv = (f"CASE WHEN execve IS NULL THEN NULL "
            f"WHEN NOT regexp_matches(execve, '(?:^| )a[0-9]+\\[[0-9]+\\]=') THEN {simple} "
            f"ELSE array_to_string(list_transform("
            f"list_sort(list_distinct(list_transform({pieces}, lambda p: p.n))), "
            f"lambda n: {_value(f'({joined})', True)}), ' ') END AS command")
    return f"""
SELECT _row, _loc, _raw, node, sec, frac, serial, type, record_types, {", ".join(values)},
       {argv}
FROM (SELECT *, list_transform(process_tokens, lambda t: split_part(t, '=', 1)) AS process_keys,
             list_transform(message_tokens, lambda t: split_part(t, '=', 1)) AS message_keys
      FROM {_EVENTS})
"""


def _person(name: str, number: str) -> str:
    """An account in its normal form: its name when the log gives one, root for 0, else
    the numeric id; NULL when unset."""
    return (f"CASE WHEN {number} IS NULL OR {number} IN ('4294967295', '-1', 'unset') THEN NULL "
            f"WHEN {name} IS NOT NULL AND {name} NOT IN ('unset', '?') THEN {name} "
            f"WHEN {number} = '0' THEN 'root' ELSE {number} END")


# Group membership (lower-cased op): shadow-utils' wordings vary by tool and version
# ("add-user-to-group", "add-to-group", "add-member", "adding user to group",
# "delete-user-from-group", "removing group member", ...): an op that adds or removes and
# names a group or member, but is not the creation or deletion of a group itself
# ("add-group", "adding group to /etc/group", "delete-group") nor its gshadow twin.
_ADDS = "^(add|adding)[- ]"
_REMOVES = "^(del|delete|deleting|remove|removing)[- ]"
_MEMBERSHIP = "group|member"
_GROUP_ITSELF = "^(add|adding|del|delete|deleting|remove|removing)[- ]group([- ](to|from)[- ]|$)|shadow"


def _membership(verb: str) -> str:
    return (f"(regexp_matches(op_l, {_sql(verb)}) AND regexp_matches(op_l, {_sql(_MEMBERSHIP)}) "
            f"AND NOT regexp_matches(op_l, {_sql(_GROUP_ITSELF)}))")


MAPPED_SQL = f"""
WITH e AS (
  SELECT *,
         {_person('auid_name', 'auid')} AS login_user,
         {_person('uid_name', 'uid')} AS process_user,
         coalesce(acct_name, acct) AS account,
         coalesce(grp_name, grp) AS group_name,
         lower(op) AS op_l,
         -- (Older PAM records close the message with the result: `... res=failed)'`.)
         rtrim(lower(coalesce(res, success, '')), ')') AS res_l,
         split_part(coalesce(new_context, selected_context), ':', 2) AS new_role
  FROM {_FIELDS}),
r AS (
  SELECT *,
         coalesce(login_user, process_user, 'unknown') AS actor,
         res_l IN ('failed', 'fail', 'failure', 'no', '0') AS failed,
         CASE WHEN {_membership(_ADDS)} THEN 'grant'
              WHEN {_membership(_REMOVES)} THEN 'revoke'
              WHEN type = 'USER_ROLE_CHANGE' THEN 'role' END AS change
  FROM e),
k AS (
  SELECT *,
         CASE WHEN failed THEN 'actions'
              WHEN change IN ('grant', 'revoke') AND account IS NOT NULL
                   AND group_name IS NOT NULL THEN 'privileges'
              WHEN change = 'role' AND nullif(new_role, '') IS NOT NULL
                   AND coalesce(account, login_user) IS NOT NULL THEN 'privileges'
              ELSE 'actions' END AS _kind
  FROM r)
SELECT
  _row, _loc, _raw,
  CASE WHEN ts IS NULL THEN 'its time ' || sec || '.' || frac || ' is out of range' END AS _bad,
  _kind,
  coalesce(node || ':', '') || sec || '.' || frac || ':' || serial AS event_id,
  ts,
  actor_final AS actor,
  -- The id the log wrote for the actor (auid, or uid), when its name stands in for it.
  nullif(CASE WHEN actor_final = login_user THEN auid WHEN actor_final = process_user THEN uid
         END, actor_final) AS actor_raw,
  CASE WHEN login_user IS NULL THEN 'system' END AS actor_type,
  CASE WHEN change = 'role' THEN coalesce(account, login_user) ELSE account END AS subject,
  CASE WHEN change = 'role' THEN new_role ELSE group_name END AS privilege,
  CASE WHEN change = 'revoke' THEN 'revoke' ELSE 'grant' END AS operation,
  type AS action,
  CASE WHEN _kind = 'privileges' THEN node ELSE coalesce(node, {_sql(DEFAULT_SYSTEM)}) END
    AS system,
  coalesce(account,
           CASE WHEN type IN ('ADD_USER', 'DEL_USER', 'USER_MGMT', 'USER_CHAUTHTOK',
                              'ACCT_LOCK', 'ACCT_UNLOCK', 'CHUSER_ID', 'USER_LOGIN',
                              'USER_LOGOUT')
                THEN coalesce(id_name, account_id) END) AS target_account,
  CASE WHEN type = 'USER_CMD' THEN cmd
       WHEN type IN ('ADD_GROUP', 'DEL_GROUP', 'GRP_MGMT', 'CHGRP_ID')
         THEN coalesce(group_name, id_name, account_id)
       WHEN type = 'CONFIG_CHANGE' THEN coalesce(op, audit_key)
       WHEN type IN ('SERVICE_START', 'SERVICE_STOP') THEN unit
       WHEN type = 'KERN_MODULE' THEN name
       WHEN type = 'USER_ROLE_CHANGE' THEN coalesce(new_context, selected_context)
       ELSE coalesce(exe, comm, name) END AS object,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  CASE WHEN regexp_full_match(coalesce(addr, ''), '[0-9A-Fa-f.:]+') THEN addr END AS source_ip,
  CASE WHEN ses NOT IN ('4294967295', '-1', 'unset') THEN ses END AS session_id,
  false AS source_carries_approval,
  node, type AS record_type, record_types,
  op, acct, grp, account_id AS id, auid, uid, auid_name, uid_name, pid, ses, subj, exe, comm,
  cmd, cwd, command, proctitle,
  CASE WHEN list_contains(record_types, 'PATH') THEN name END AS path, hostname, addr, terminal, res, exit,
  coalesce(syscall_name, syscall) AS syscall, audit_key AS key, old_context,
  coalesce(new_context, selected_context) AS new_context
FROM (SELECT *, strftime(try(make_timestamp(try_cast(sec AS BIGINT) * 1000000)),
                         '%Y-%m-%dT%H:%M:%S') || '.' || frac || 'Z' AS ts,
             CASE WHEN _kind = 'privileges' AND change = 'role'
                  THEN coalesce(process_user, actor) ELSE actor END AS actor_final
      FROM k)
"""

# Kept in `extra` (the event id already holds the stamp; unset values are left out).
EXTRA = ["actor_raw", "node", "record_type", "record_types", "op", "acct", "grp", "id", "auid",
         "uid", "auid_name", "uid_name", "pid", "ses", "subj", "exe", "comm", "cmd", "cwd",
         "command", "proctitle", "path", "hostname", "addr", "terminal", "res", "exit", "syscall", "key",
         "old_context", "new_context"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "source_carries_approval", *EXTRA],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system", "target_account",
                "object", "result", "source_ip", "session_id", *EXTRA],
}


def stage_events(con: duckdb.DuckDBPyConnection, source_format: str = NAME) -> list[Staged]:
    """`LINES_TABLE` → one staging table per kind: every event one row, every line that
    is not a record one quarantined row (see the module docstring); `source_format`
    names the log the lines came from (LAUREL's JSON: standard/laurel.py)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_PARSED} AS {PARSED_SQL}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_EVENTS} AS {EVENTS_SQL}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_FIELDS} AS {_fields_sql()}")
    con.execute(f"DROP TABLE {_EVENTS}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_MAPPED} AS {MAPPED_SQL}")
    # Lines that are not records: their own rows, quarantined with their reason.
    con.execute(
        f"""
        INSERT INTO {_MAPPED} (_row, _loc, _raw, _bad, _kind)
        SELECT line, 'line ' || line, raw, _bad, 'actions' FROM {_PARSED} WHERE _bad IS NOT NULL
        """
    )
    for table in (_PARSED, _FIELDS, LINES_TABLE):
        con.execute(f"DROP TABLE {table}")
    return split_by_kind(con, _MAPPED, source_format, COLUMNS, default_kind="actions")
