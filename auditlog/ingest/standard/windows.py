"""Windows Security events → privileges and actions, from three containers of the same
event: EVTX records (as the evtx reader, ingest/evtx.py, and `evtx_dump -o json` give
them: `{"Event": {"System": {...}, "EventData": {...}}}`), Winlogbeat/Elastic Agent JSON
(`winlog.event_id`, `winlog.event_data.*`, `winlog.computer_name`, `winlog.record_id`,
`winlog.time_created`, `@timestamp`) and NXLog JSON (`im_msvistalog`: `EventID`,
`EventTime`, `Hostname`, `RecordNumber`, the event's data fields at the top level). Each
container is first read into the same columns (code, time, computer, record, provider,
the event's named data fields); one mapping then applies to all three.

* Group membership of a **security-enabled** group is a privilege: 4728 (global), 4732
  (local), 4756 (universal) member added → **grant**; 4729 / 4733 / 4757 member removed
  → **revoke**. privilege = the group, `DOMAIN\\group` (TargetDomainName\\TargetUserName);
  subject = the member: MemberName when it is already `DOMAIN\\user`, else the
  account the same log names MemberSid as (name_members), else MemberSid (the event
  names a member only by SID and, for domain groups, its distinguished name, which is
  not an account name; both are kept in `extra`). A local group's privilege
  applies to the computer that logged it (`system` = the computer); a domain group's to
  the whole domain, so `system` is left empty ("any system", as for IAM); a global
  group of the computer's own account database (TargetDomainName = its NetBIOS name, the
  "None" group of a workgroup computer) is local too. Windows keeps
  no approval in these events: `extra.source_carries_approval` is false. Distribution
  groups (4746/4751/4761, ...) carry no permissions and stay actions.
* Account lifecycle (4720 created, 4722 enabled, 4725 disabled, 4726 deleted, 4738
  changed, 4740 locked out, 4767 unlocked, 4723/4724 password, 4781 renamed) are
  **actions** whose `target_account` is the account concerned (TargetDomainName\\
  TargetUserName): the accounts kind is a directory snapshot, not a history.
* 4672 (special privileges assigned to a new logon) is an action; its privileges are
  listed in `extra.privilege_list` (as for every event carrying PrivilegeList).
* Every other event is an action. action = the event's name (Winlogbeat's `event.action`
  vocabulary, e.g. "added-user-account", see NAMES) for the Security events named there,
  "event-<id>" for other Security events, "<provider>/<id>" for other providers'.

**Principals.** actor = `DOMAIN\\user` from SubjectDomainName\\SubjectUserName, the
domain in upper case (Windows names are case-insensitive, and one log writes "Builtin"
where another writes "BUILTIN"); without a subject user (logon events of the null SID,
Kerberos requests) the target account acts, as it does in logon and logoff events
(LOGON_EVENTS: their subject is the process that asked); without either, the computer.
The SIDs are kept: `extra.actor_sid`, `extra.subject_sid`, `extra.target_sid`; the
subject as written (`Builtin\\alice`), when not the normal form, as `extra.actor_raw`.
DOMAIN\\user, not the SID, is the normal form: it is what the group events' MemberName,
Kerberos and logon events and every other source a reviewer compares them with name an
account by, while a SID would make every finding unreadable; the SID stays beside it for
the case it matters (an account renamed, or a member the event names only by SID).
Sysmon logs every event as its own service (the System's UserID is SYSTEM): the account
behind a process is the event's `User` (`DOMAIN\\user`), its object the `Image`.
actor_type = system for Windows' own accounts (SERVICE_SIDS and the families of
SERVICE_SID_PREFIXES, or their names) and machine accounts (`NAME$`), told by the SID of
the account that acts (a logon's target, not the SYSTEM that asked for the logon).

**Identity and time.** event_id = `<Computer>/<channel>/<EventRecordID>` (the channel
lower-cased: record numbers count per event log, so Security and Sysmon exported from
one computer both have a record 1), the same in all three containers, so the same
event read from EVTX and from Winlogbeat has the same id.
ts = TimeCreated/SystemTime (UTC); Winlogbeat's `winlog.time_created`, else its
`@timestamp`; NXLog's `EventTime` (written without a zone by NXLog's default format:
read in the zone given, else UTC), never an `@timestamp` a pipeline added to it. A
failure audit (keyword Audit Failure) has result `failure`; it changed nothing, so a
failed group change is an action, not a grant.

The whole event data is kept in `extra.event_data` (fields not mapped stay there), with
the event log's channel, provider, record number and computer. A record without event
id or time is quarantined with that reason (and its own text).
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import Staged, extract, key, split_by_kind, text
from auditlog.sqltext import sql_list

NAME = "windows"

FIELDS = {
    # EVTX (evtx package / evtx_dump JSON). EventID is a number, or an object with
    # "#text" when the event carries Qualifiers.
    "x_code": "$.Event.System.EventID",
    "x_time": '$.Event.System.TimeCreated."#attributes".SystemTime',
    "x_record": "$.Event.System.EventRecordID",
    "x_computer": "$.Event.System.Computer",
    "x_channel": "$.Event.System.Channel",
    "x_provider": '$.Event.System.Provider."#attributes".Name',
    "x_keywords": "$.Event.System.Keywords",
    "x_user": '$.Event.System.Security."#attributes".UserID',
    "x_data": "$.Event.EventData",
    "x_user_data": "$.Event.UserData",
    # Winlogbeat / Elastic Agent.
    "w_code": "$.winlog.event_id",
    "w_time": "$.winlog.time_created",
    "w_timestamp": key("@timestamp"),
    "w_record": "$.winlog.record_id",
    "w_computer": "$.winlog.computer_name",
    "w_channel": "$.winlog.channel",
    "w_provider": "$.winlog.provider_name",
    "w_keywords": "$.winlog.keywords",
    "w_outcome": "$.event.outcome",
    "w_data": "$.winlog.event_data",
    "w_user_data": "$.winlog.user_data",
    "w_user": "$.winlog.user.identifier",  # System/Security/UserID
    # NXLog im_msvistalog (the data fields are at the top level: the record is read as
    # its own event data).
    "n_code": key("EventID"),
    "n_time": key("EventTime"),
    "n_record": key("RecordNumber"),
    "n_computer": key("Hostname"),
    "n_computer_alt": key("Computer"),
    "n_channel": key("Channel"),
    "n_provider": key("SourceName"),
    "n_provider_alt": key("ProviderName"),
    "n_keywords": key("Keywords"),
    "n_event_type": key("EventType"),
}
# The event data fields the mapping reads, each extracted from every container in the
# same single parse of the record (reading them out of an extracted EventData object
# instead would parse that object again for each field: 3x slower on 100k records).
# 1102 (log cleared) logs its subject in UserData.LogFileCleared.
DATA_FIELDS = ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId",
               "TargetLogonId", "TargetUserName", "TargetDomainName", "TargetSid",
               "TargetUserSid", "OldTargetUserName", "MemberSid", "MemberName",
               "PrivilegeList", "IpAddress", "ObjectName", "NewProcessName", "ServiceName",
               "TaskName", "Image")  # Image: Sysmon's process executable
# Fields read under another name: Sysmon's `User` (the account a process runs as,
# `DOMAIN\\user`) would be column x_User, which is x_user (System's UserID) to SQL.
RENAMED_FIELDS = {"process_user": "User"}
USER_DATA_FIELDS = ("SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                    "SubjectLogonId")
for _f in DATA_FIELDS:
    FIELDS[f"x_{_f}"] = f"$.Event.EventData.{_f}"
    FIELDS[f"w_{_f}"] = f"$.winlog.event_data.{_f}"
    FIELDS[f"n_{_f}"] = key(_f)
for _name, _f in RENAMED_FIELDS.items():
    FIELDS[f"x_{_name}"] = f"$.Event.EventData.{_f}"
    FIELDS[f"w_{_name}"] = f"$.winlog.event_data.{_f}"
    FIELDS[f"n_{_name}"] = key(_f)
for _f in USER_DATA_FIELDS:
    FIELDS[f"u_{_f}"] = f"$.Event.UserData.LogFileCleared.{_f}"
    FIELDS[f"v_{_f}"] = f"$.winlog.user_data.{_f}"

# Security-Auditing event ids → action name (Winlogbeat's event.action where it has
# one), and what a group membership event does.
NAMES = {
    1102: "audit-log-cleared", 4624: "logged-in", 4625: "logon-failed", 4634: "logged-out",
    4647: "logged-out", 4648: "logged-in-explicit", 4672: "logged-in-special",
    4688: "created-process", 4689: "exited-process", 4697: "service-installed",
    4698: "scheduled-task-created", 4699: "scheduled-task-deleted",
    4719: "changed-audit-config", 4720: "added-user-account",
    4722: "enabled-user-account", 4723: "changed-password", 4724: "reset-password",
    4725: "disabled-user-account", 4726: "deleted-user-account",
    4727: "added-group-account", 4728: "added-member-to-group",
    4729: "removed-member-from-group", 4730: "deleted-group-account",
    4731: "added-group-account", 4732: "added-member-to-group",
    4733: "removed-member-from-group", 4734: "deleted-group-account",
    4735: "modified-group-account", 4737: "modified-group-account",
    4738: "modified-user-account", 4740: "locked-out-user-account",
    4741: "added-computer-account", 4742: "changed-computer-account",
    4743: "deleted-computer-account", 4754: "added-group-account",
    4755: "modified-group-account", 4756: "added-member-to-group",
    4757: "removed-member-from-group", 4758: "deleted-group-account",
    4765: "added-sid-history", 4767: "unlocked-user-account",
    4768: "kerberos-authentication-ticket-requested",
    4769: "kerberos-service-ticket-requested", 4771: "kerberos-preauth-failed",
    4776: "credential-validated", 4781: "renamed-user-account",
    4798: "group-membership-enumerated", 4799: "user-member-enumerated",
}
GRANTS = (4728, 4732, 4756)
REVOKES = (4729, 4733, 4757)
LOCAL_GROUP_EVENTS = (4732, 4733)
# Events whose target account is the account concerned (lifecycle, passwords, lockout).
ACCOUNT_EVENTS = (4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767, 4781, 4741, 4742,
                  4743, 4765)
# Logon and logoff: the account logged on is the target (the subject is the process
# that asked for the logon, often SYSTEM or nobody).
LOGON_EVENTS = (4624, 4625, 4634, 4647)
SECURITY_PROVIDER = "Microsoft-Windows-Security-Auditing"
# The Security log's own events (1100 shutdown, 1102 cleared, 1104 full, ...) come from
# the event log service, ids that Security-Auditing does not use.
SECURITY_PROVIDERS = (SECURITY_PROVIDER, "Microsoft-Windows-Eventlog")
# Windows' own accounts (well-known SIDs, Microsoft's "Well-known SIDs" list): ANONYMOUS
# LOGON, IUSR, SYSTEM, LOCAL SERVICE, NETWORK SERVICE.
SERVICE_SIDS = ("S-1-5-7", "S-1-5-17", "S-1-5-18", "S-1-5-19", "S-1-5-20")
# The same accounts by their English names, as Sysmon's `User` and most logs name them.
SERVICE_ACCOUNTS = ("NT AUTHORITY\\ANONYMOUS LOGON", "NT AUTHORITY\\IUSR",
                    "NT AUTHORITY\\SYSTEM", "NT AUTHORITY\\LOCAL SERVICE",
                    "NT AUTHORITY\\NETWORK SERVICE", "ANONYMOUS LOGON")
# Families of accounts Windows makes per session or per service: S-1-5-80-... (NT
# SERVICE\\<service>), S-1-5-82-... (IIS APPPOOL\\<pool>), S-1-5-90-0-N (Window
# Manager\\DWM-N), S-1-5-96-0-N (Font Driver Host\\UMFD-N), and the domains they are
# written in.
SERVICE_SID_PREFIXES = ("S-1-5-80-", "S-1-5-82-", "S-1-5-90-", "S-1-5-96-")
SERVICE_DOMAINS = ("NT SERVICE", "IIS APPPOOL", "WINDOW MANAGER", "FONT DRIVER HOST")
SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"

# `log_channel`: the event log (Security, System, ...); the contract's `channel` (how an
# action came in: console, api, ...) is not told by a Windows event.
EXTRA_COMMON = ["event_code", "record_id", "computer", "log_channel", "provider", "container",
                "actor_sid", "actor_raw", "actor_named_by", "logon_id", "privilege_list",
                "event_data"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "subject_sid", "member_name", "subject_named_by", "subject_unnamed",
                   "group_sid", "source_carries_approval",
                   *EXTRA_COMMON],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system", "target_account",
                "object", "result", "source_ip", "session_id", "target_sid",
                "subject_named_by", "subject_unnamed", *EXTRA_COMMON],
}


class WindowsSecurity:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        return (
            "Event" in keys  # EVTX records
            or "winlog" in keys  # Winlogbeat / Elastic Agent
            or ({"EventID", "EventTime"} <= keys and bool(keys & {"Hostname", "Computer"}))
        )

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _win_names AS {_names_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _win_mapped AS {MAPPED_SQL}")
        con.execute("DROP TABLE _win_names")
        name_members(con)
        con.execute(USER_ACCOUNTS_WITH_DOLLAR_SQL)
        return split_by_kind(con, "_win_mapped", NAME, COLUMNS, default_kind="actions")


# A name ending in `$` is a computer account by convention only: an account the same log
# shows created as a user (4720, not 4741) is a user whatever its name (a `name$` user
# is how an intruder hides one among the computer accounts): not typed system.
USER_ACCOUNTS_WITH_DOLLAR_SQL = """
UPDATE _win_mapped SET actor_type = NULL
WHERE actor_type = 'system' AND actor LIKE '%$'
  AND (actor_sid IN (SELECT target_sid FROM _win_mapped
                     WHERE event_code = 4720 AND _bad IS NULL AND target_sid IS NOT NULL)
       OR upper(actor) IN (SELECT upper(target_account) FROM _win_mapped
                           WHERE event_code = 4720 AND _bad IS NULL
                             AND target_account IS NOT NULL))
"""


def name_members(con: duckdb.DuckDBPyConnection) -> None:
    """Group members named only by SID (MemberName empty, `-` or a distinguished name)
    take the `DOMAIN\\user` the same log gives that SID elsewhere (a 4720's or 4624's
    target, any event's subject), when it gives one account: `extra.subject_named_by`
    says which event. A SID the log names as two accounts (a rename), or never names,
    stays the subject, and `extra.subject_unnamed` says why (see the module docstring).
    An actor known only by its SID (the record's UserID: events of other providers)
    takes that name likewise (`extra.actor_named_by`; the SID stays in
    `extra.actor_sid`)."""
    if not con.execute(f"SELECT 1 FROM _win_mapped WHERE {_BY_SID} OR {_ACTOR_BY_SID} "
                       "LIMIT 1").fetchall():
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE _win_sids AS {SID_NAMES_SQL}")
    con.execute(
        f"""
        UPDATE _win_mapped m SET actor = s.name, actor_named_by = s.named_by,
                                 actor_sid = coalesce(m.actor_sid, m.actor)
        FROM _win_sids s
        WHERE m.actor = s.sid AND s.name IS NOT NULL
          AND {_ACTOR_BY_SID.replace("actor", "m.actor")}
        """
    )
    con.execute(
        f"""
        UPDATE _win_mapped m SET
          subject = CASE WHEN m._kind = 'privileges' AND s.name IS NOT NULL THEN s.name
                         ELSE m.subject END,
          target_account = CASE WHEN s.name IS NOT NULL THEN s.name ELSE m.target_account END,
          subject_named_by = CASE WHEN s.name IS NOT NULL THEN s.named_by END,
          subject_unnamed = CASE
            WHEN s.name IS NOT NULL THEN NULL
            WHEN s.names IS NOT NULL
              THEN 'this log names SID ' || m.subject_sid || ' as more than one account ('
                   || array_to_string(s.names, ', ') || '): kept as the SID'
            ELSE 'the event names the member only by SID, and this log gives no account '
                 || 'name for it: kept as the SID' END
        FROM (SELECT DISTINCT subject_sid FROM _win_mapped WHERE {_BY_SID}) AS b
        LEFT JOIN _win_sids s ON s.sid = b.subject_sid
        WHERE m.subject_sid = b.subject_sid AND {_BY_SID.replace("subject", "m.subject")}
        """
    )
    con.execute("DROP TABLE _win_sids")


def _names_values() -> str:
    rows = ", ".join(f"({code}, '{name}')" for code, name in NAMES.items())
    return f"SELECT * FROM (VALUES {rows}) AS t(name_code, name)"


def _in(codes: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(c) for c in codes) + ")"


def _account(domain: str, user: str) -> str:
    """SQL for `DOMAIN\\user` (domain upper-cased), or the user alone without a domain;
    NULL when the user is missing or '-'. Kerberos events write the user as
    `user@REALM` beside the realm as domain: the realm is said once."""
    d = f"upper(nullif(nullif(trim({domain}), ''), '-'))"
    u = f"nullif(nullif(trim({user}), ''), '-')"
    bare = (f"CASE WHEN {d} IS NOT NULL AND upper({u}) LIKE '%@' || {d} "
            f"THEN left({u}, length({u}) - length({d}) - 1) ELSE {u} END")
    return f"CASE WHEN {u} IS NOT NULL THEN coalesce({d} || '\\', '') || {bare} END"


def _written_account(expr: str) -> str:
    """SQL for an account written whole, `DOMAIN\\user`, in the normal form (domain
    upper-cased, as `_account` writes it); NULL when missing or '-'."""
    at = f"strpos({expr}, '\\')"
    return (f"CASE WHEN {at} > 1 THEN upper(left({expr}, {at} - 1)) || substr({expr}, {at}) "
            f"ELSE nullif(nullif({expr}, ''), '-') END")


def _field(name: str) -> str:
    """SQL for an event data field's text, from whichever container the record is in."""
    columns = [f"x_{name}", f"w_{name}", f"n_{name}"]
    if name in USER_DATA_FIELDS:
        columns += [f"u_{name}", f"v_{name}"]
    return "coalesce(" + ", ".join(f"{c} ->> '$'" for c in columns) + ")"


def _sid(expr: str) -> str:
    # The null SID stands for "no account".
    return f"nullif(nullif(nullif(trim({expr}), ''), '-'), 'S-1-0-0')"


def _system_account(account: str, sid: str) -> str:
    """SQL: whether an account (`DOMAIN\\user` or a SID) with its SID (or NULL) is one
    of Windows' own (SERVICE_SIDS, SERVICE_ACCOUNTS, SERVICE_DOMAINS, a machine account
    `NAME$`), whatever the language its names are written in."""
    domain = f"upper(split_part({account}, '\\', 1))"
    return (f"(list_contains({sql_list(SERVICE_SIDS)}, {sid}) "
            f"OR list_contains({sql_list(SERVICE_SIDS + SERVICE_ACCOUNTS)}, upper({account})) "
            f"OR list_contains({sql_list(list(SERVICE_SID_PREFIXES))}, "
            f"regexp_extract(coalesce({sid}, {account}), '^(S-1-5-[0-9]+-)', 1)) "
            f"OR (strpos({account}, '\\') > 0 AND list_contains({sql_list(SERVICE_DOMAINS)}, "
            f"{domain})) "
            f"OR {account} LIKE '%$')")


# Who acts, in order, each with the SID the event gives for that same account (see the
# module docstring): the target of a logon, else the subject, else (but for account and
# group events, whose target is acted upon) the target, else Sysmon's process user or the
# record's UserID, else the computer.
_ACTOR_CANDIDATES = (
    (f"CASE WHEN code IN {_in(LOGON_EVENTS)} THEN target_user END", "target_sid"),
    ("subject_user", "actor_sid"),
    ("actor_sid", "actor_sid"),
    (f"CASE WHEN code NOT IN {_in(ACCOUNT_EVENTS + GRANTS + REVOKES)} THEN target_user END",
     "target_sid"),
    ("sysmon_user", "NULL"),
    (_sid(f"coalesce({text('x_user')}, {text('w_user')})"),
     _sid(f"coalesce({text('x_user')}, {text('w_user')})")),
    ("computer", "NULL"),
)


def _first(candidates: tuple[tuple[str, str], ...], part: int) -> str:
    """SQL: the name (part 0) or SID (part 1) of the first candidate that names one."""
    whens = " ".join(f"WHEN ({name}) IS NOT NULL THEN {pair[part]}"
                     for pair in candidates for name in [pair[0]])
    return f"CASE {whens} END"


WELL_KNOWN_NAMES = dict(zip(SERVICE_SIDS, SERVICE_ACCOUNTS[:5], strict=True))
# A group event whose member is its SID (no DOMAIN\\user MemberName).
_BY_SID = (f"event_code IN {_in(GRANTS + REVOKES)} AND subject_sid IS NOT NULL "
           "AND subject = subject_sid")
# An actor that is a SID (no account name in the event).
_ACTOR_BY_SID = "regexp_full_match(actor, 'S-1-5-[0-9-]+')"
# The accounts each SID is named as in the log: Windows' own by their fixed names, the
# others by the events that give a SID beside its account (`sid_names`); spellings of one
# account that differ only in its domain's (NetBIOS `CORP`, DNS `CORP.EXAMPLE.COM`) are
# one account, written with the NetBIOS name, as subjects write it.
SID_NAMES_SQL = f"""
WITH pairs AS (
  SELECT p.sid, p.name, event_id
  FROM (SELECT unnest(sid_names) AS p, event_id FROM _win_mapped WHERE _bad IS NULL)
  WHERE p.sid LIKE 'S-1-5-21-%'
  UNION ALL
  SELECT * FROM (VALUES {", ".join(f"('{sid}', '{name}', NULL)"
                                   for sid, name in WELL_KNOWN_NAMES.items())})
),
accounts AS (
  SELECT sid, list(DISTINCT name ORDER BY name) AS names,
         list(DISTINCT lower(split_part(name, '\\', -1))) AS users,
         min(name) FILTER (WHERE strpos(split_part(name, '\\', 1), '.') = 0
                             OR strpos(name, '\\') = 0) AS netbios,
         min(name) AS any_name, coalesce(min(event_id), 'a well-known SID') AS named_by
  FROM pairs GROUP BY sid)
SELECT sid, names, named_by,
       CASE WHEN len(users) = 1 THEN coalesce(netbios, any_name) END AS name
FROM accounts
"""


# Each container's fields read into one shape (see the module docstring): common table
# expressions of MAPPED_SQL, after the extraction (one statement from the records to
# the mapped rows: no table of every record's ~90 extracted fields in between, which
# took 40% more time on 100k records).
EVENTS_SQL = f"""
read AS (
  SELECT f.*,
         CASE WHEN x_code IS NOT NULL THEN 'evtx' WHEN w_code IS NOT NULL THEN 'winlogbeat'
              WHEN n_code IS NOT NULL THEN 'nxlog' END AS container,
         TRY_CAST(coalesce(x_code ->> '$."#text"', {text('x_code')}, {text('w_code')},
                           {text('n_code')}) AS INTEGER) AS code,
         -- `@timestamp` is Winlogbeat's event time only: on an NXLog record it was added
         -- by the pipeline that shipped it (Logstash: the time it was received).
         coalesce({text('x_time')}, {text('w_time')},
                  CASE WHEN w_code IS NOT NULL THEN {text('w_timestamp')} END,
                  {text('n_time')}) AS ts,
         coalesce({text('x_record')}, {text('w_record')}, {text('n_record')}) AS record,
         coalesce({text('x_computer')}, {text('w_computer')}, {text('n_computer')},
                  {text('n_computer_alt')}) AS computer,
         coalesce({text('x_channel')}, {text('w_channel')}, {text('n_channel')}) AS log_channel,
         coalesce({text('x_provider')}, {text('w_provider')}, {text('n_provider')},
                  {text('n_provider_alt')}) AS provider,
         -- Named data fields: EventData, else the first element of UserData (1102 and
         -- other events that log their own XML); NXLog's record is its own data.
         CASE WHEN x_code IS NOT NULL THEN
                coalesce(CASE WHEN json_type(x_data) = 'OBJECT' THEN x_data END,
                         CASE WHEN json_type(x_user_data) = 'OBJECT'
                              THEN (json_extract(x_user_data, '$.*'))[1] END)
              WHEN w_code IS NOT NULL THEN
                coalesce(CASE WHEN json_type(w_data) = 'OBJECT' THEN w_data END,
                         CASE WHEN json_type(w_user_data) = 'OBJECT' THEN w_user_data END)
              WHEN n_code IS NOT NULL THEN CAST(_raw AS JSON) END AS d,
         -- Audit Failure: EVTX keyword bit 0x0010000000000000 (the third of the 16 hex
         -- digits evtx writes), Winlogbeat's keyword text or outcome, NXLog's EventType.
         coalesce(
           CASE WHEN {text('x_keywords')} SIMILAR TO '0x[0-9a-fA-F]{{16}}'
                THEN (TRY_CAST('0x' || substr({text('x_keywords')}, 5, 1) AS INTEGER) & 1) <> 0
           END,
           list_contains(TRY_CAST(w_keywords AS VARCHAR[]), 'Audit Failure')
             OR {text('w_outcome')} = 'failure',
           upper({text('n_event_type')}) = 'AUDIT_FAILURE'
             OR {text('n_keywords')} ILIKE '%Audit Failure%',
           false) AS failed
  FROM fields f),
events AS (
SELECT r.*,
       {_sid(_field("SubjectUserSid"))} AS actor_sid,
       {_account(_field("SubjectDomainName"), _field("SubjectUserName"))} AS subject_user,
       {_account(_field("TargetDomainName"),
                 f"coalesce({_field('TargetUserName')}, {_field('OldTargetUserName')})")}
         AS target_user,
       {_sid(f"coalesce({_field('TargetSid')}, {_field('TargetUserSid')})")} AS target_sid,
       {_sid(_field("MemberSid"))} AS member_sid,
       nullif(nullif(trim({_field('MemberName')}), ''), '-') AS member_name,
       CASE WHEN nullif(nullif(trim({_field('PrivilegeList')}), ''), '-') IS NOT NULL
            THEN to_json(string_split_regex(trim({_field('PrivilegeList')}), '\\s+'))
       END AS privilege_list,
       -- The logon session the event belongs to: a logon or logoff names the session
       -- of its target account (TargetLogonId, the id 4672 and the account's later
       -- events carry as SubjectLogonId); its subject's is the process that asked for
       -- it. A failed logon (4625) opened no session.
       nullif(nullif(trim(CASE WHEN code IN {_in(LOGON_EVENTS)} THEN {_field('TargetLogonId')}
                               ELSE {_field('SubjectLogonId')} END), ''), '-') AS logon_id,
       nullif(nullif(trim({_field('IpAddress')}), ''), '-') AS ip,
       -- Sysmon logs every event as the Sysmon service (System/Security UserID is
       -- SYSTEM); the account behind a process is its `User`, written DOMAIN\\user.
       CASE WHEN provider = '{SYSMON_PROVIDER}'
            THEN {_written_account(f"trim({_field('process_user')})")} END AS sysmon_user,
       coalesce(provider, '{SECURITY_PROVIDER}') IN {SECURITY_PROVIDERS} AS security,
       CASE
         WHEN _bad IS NOT NULL THEN _bad
         WHEN code IS NULL THEN 'Windows event without an event id'
         WHEN ts IS NULL THEN 'Windows event without a time (SystemTime)'
       END AS reason
FROM read r)
"""

MAPPED_SQL = f"""
WITH fields AS ({extract(FIELDS)}),
{EVENTS_SQL.strip()},
meaning AS (
  SELECT e.*,
         CASE WHEN reason IS NULL AND security AND NOT failed
                   AND code IN {_in(GRANTS + REVOKES)}
                   AND coalesce(member_sid, member_name) IS NOT NULL
                   AND nullif(trim({_field('TargetUserName')}), '') IS NOT NULL
              THEN 'privileges' ELSE 'actions' END AS _kind,
         CASE WHEN member_name LIKE '%\\%' AND member_name NOT LIKE '%=%' THEN member_name
              ELSE coalesce(member_sid, member_name) END AS member,
         {_first(_ACTOR_CANDIDATES, 0)} AS actor_id,
         {_first(_ACTOR_CANDIDATES, 1)} AS actor_id_sid
  FROM events e)
SELECT
  _row, _loc, _raw, reason AS _bad, _kind,
  -- Record numbers count within one event log (channel): Security and Sysmon of one
  -- computer both have a record 1. Channel names are case-insensitive.
  CASE WHEN computer IS NOT NULL AND record IS NOT NULL
       THEN concat_ws('/', computer, lower(log_channel), record) END AS event_id,
  ts,
  actor_id AS actor,
  CASE WHEN {_system_account("actor_id", "actor_id_sid")} OR actor_id = computer
       THEN 'system' END AS actor_type,
  member AS subject,
  {_account(_field("TargetDomainName"), _field("TargetUserName"))} AS privilege,
  CASE WHEN code IN {_in(REVOKES)} THEN 'revoke' ELSE 'grant' END AS operation,
  -- A local group's privilege holds on the computer that logged it: a local group
  -- event, or a global group of the computer's own account database (a workgroup
  -- computer's "None": its domain is the computer's NetBIOS name, the first label of
  -- its name cut to 15 characters), not a domain's.
  CASE WHEN _kind = 'actions' OR code IN {_in(LOCAL_GROUP_EVENTS)}
            OR upper(trim({_field('TargetDomainName')}))
               = upper(left(split_part(computer, '.', 1), 15))
       THEN computer END AS system,
  member_sid AS subject_sid,
  member_name,
  CAST(NULL AS VARCHAR) AS subject_named_by,
  CAST(NULL AS VARCHAR) AS actor_named_by,
  CAST(NULL AS VARCHAR) AS subject_unnamed,
  -- SIDs beside the account they name, for name_members.
  list_filter([{{'sid': actor_sid, 'name': subject_user}},
               {{'sid': target_sid, 'name': CASE WHEN code <> 4781 THEN target_user END}}],
              lambda p: p.sid IS NOT NULL AND p.name IS NOT NULL) AS sid_names,
  target_sid AS group_sid,
  false AS source_carries_approval,
  CASE WHEN security THEN coalesce(n.name, 'event-' || code)
       ELSE coalesce(provider, 'unknown') || '/' || code END AS action,
  CASE WHEN code IN {_in(ACCOUNT_EVENTS)} THEN target_user
       WHEN code IN {_in(GRANTS + REVOKES)} THEN member END AS target_account,
  CASE WHEN code IN {_in(ACCOUNT_EVENTS + GRANTS + REVOKES)} THEN target_user
       ELSE nullif(nullif(trim(coalesce({_field('ObjectName')}, {_field('NewProcessName')},
                                        {_field('ServiceName')}, {_field('TaskName')},
                                        {_field('Image')})), ''), '-')
  END AS object,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  CASE WHEN ip NOT IN ('::1', '127.0.0.1') THEN ip END AS source_ip,
  logon_id AS session_id,
  target_sid,
  code AS event_code, record AS record_id, computer, log_channel, provider,
  -- The SID of the account that acts (a logon's target, not the subject that asked).
  container, actor_id_sid AS actor_sid, logon_id, privilege_list, d AS event_data,
  -- The subject as the event wrote it, when the normal form (domain upper-cased, a
  -- Kerberos realm said once) is not that.
  CASE WHEN actor_id = subject_user
       THEN nullif(concat_ws('\\', nullif(trim({_field('SubjectDomainName')}), ''),
                            trim({_field('SubjectUserName')})), actor_id) END AS actor_raw
FROM meaning
LEFT JOIN _win_names n ON n.name_code = meaning.code AND meaning.security
"""
