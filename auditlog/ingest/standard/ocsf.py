"""OCSF 1.x events (IAM and application classes) → privileges and actions.

Privilege changes (one row per privilege, policy, role or user named; PRIVILEGE_CHANGES):
* 3005 User Access Management: Assign (1) / Revoke (2) Privileges → grant / revoke of
  each entry of `privileges` to `user`; Assign (3) / Remove (4) Role (1.9) → of `iam_role`.
* 3001 Account Change: Attach (7) / Detach (8) Policy → of each of `policies` (or the
  1.0 `policy`), by name, else uid, to `user`.
* 3006 Group Management: Add (3) / Remove (4) User → of the group to `users` (1.9) or
  `user`; Assign (1) / Revoke (2) Privileges, Attach (10) / Detach (11) Policies, Assign
  (12) / Remove (13) Roles (1.9) → of each privilege/policy/role to the group.
* 3007 User Management (1.9): Attach/Detach Policies (10/11), Assign/Remove Privileges
  (14/15), Assign/Remove Roles (16/17) → to `user`.
* 3008 Role Management (1.9): Assign/Remove Privileges (4/5), Attach/Detach Policies
  (8/9) → to the role `iam_role`.
* 6003 API Activity of an AWS privilege-changing call (the CloudTrail adapter's
  PRIVILEGE_CALLS, e.g. AttachUserPolicy translated from CloudTrail to OCSF) → the same
  privilege change the CloudTrail adapter makes of it, read from `api.request.data`.

Everything else of categories 3 (IAM) and 6 (application) is an action, named after its
activity ("enable", "password_reset", "update", ...; 3002 Logon/Logoff → login/logout;
6003 API Activity → `api.operation`). Credentials are actions too, as in the CloudTrail
adapter: 3007 Add/Remove Programmatic Credentials (18/19), 3008 (10/11) and API activity
of the CloudTrail adapter's CREDENTIAL_CALLS, with `target_account` the credential's
owner. Other categories (findings, network, ...) are not activity logs: quarantined with
that reason; so are an extension's class (class_uid >= 100000, named as the extension's)
and a class_uid of categories 3 and 6 that OCSF defines no class for (KNOWN_CLASSES). A privilege change that failed (status_id 2, or without a status_id or
with Other (99) a `status` of Failure) granted nothing: it is an action with result
`failure`.

Columns: event_id = `metadata.uid`, ts = `time` (epoch ms; `time_dt` when missing),
actor = the login `actor.user.email_addr` lower-cased, else `actor.user.name`, else
`actor.user.uid` (for 3002 the authenticating `user`), else `actor.invoked_by` (an AWS
service), the app or the process; subject = `user.email_addr` lower-cased, else
`user.name`, else `user.uid` (groups and roles by name, else uid). The login comes
first because it is the id the account has in other logs (Okta's own log, Entra,
Workspace, GCP), where `name` is, for some producers (Okta in OCSF), a display name.
class_uid, activity_id and status_id written as integral floats (`3005.0`) are those
integers; a fraction is never rounded (_integer).

**Principals.** An AWS caller's ARN, wherever a producer put it (`actor.user.uid` in
OCSF 1.1 and Security Lake, `uuid` in 1.0, `uid_alt`), wins over the name and is written
in the CloudTrail adapter's normal form (aws.aws_principal: `assumed-role/Admin/Admin-user`
→ `Admin/Admin-user`, a user ARN → its user name, the root ARN → `root/<account>`), so
an event loaded both as CloudTrail and as its OCSF translation names one account, and the
two copies are one event (a duplicate, ingest/judge.py). The actor as written, when its
normal form is not that, is kept as `extra.actor_raw`. **A CloudTrail event in OCSF**
(`metadata.product.name` CloudTrail with `api.operation`, as Security Lake writes every
class it translates to, 3002 sign-ins and 3001 account changes included) is named and
mapped as the CloudTrail adapter maps the native record: action = `api.operation`,
system = `api.service.name`, actor = the caller (not the 3002 `user`, which Security
Lake names by principalId only), and a privilege call of aws.PRIVILEGE_CALLS is that
grant or revoke read from `api.request.data` (or, as OCSF 1.0 Security Lake flattens it,
`unmapped."requestParameters.<key>"`), whatever class was chosen; without the request's
subject the class mapping applies. An assumed role Security Lake names by principalId
(`AROA...:<session>`, the role's ARN as `actor.session.issuer`) is `<role>/<session>`.
system = the first resource's name or uid; for actions, without a resource,
`metadata.product.name` (API activity: `api.service.name`; applications: `app.name`;
authentication: `service.name`). A privilege names no product as its system: the
product that logged a grant (an identity provider, CloudTrail) is not what the grant
gives access to, so a grant without resources applies to any system, as in the
CloudTrail adapter. ticket, approver and expires_at, which OCSF has no attribute for,
are read from `unmapped` when a producer put them there (`unmapped` written as a string
holding a JSON object is read as the object); a grant with neither key
there has `extra.source_carries_approval = false` (grant_without_approval skips it,
since OCSF itself cannot carry an approval). The whole event (less the
arrays a privilege row was expanded from) is kept as `extra.ocsf`: nothing unmapped is
lost.

As for Kubernetes bindings, an event naming N privileges stages N rows sharing its
`_row`, located "line 5 privilege 2" and identified `metadata.uid` (first) and
`metadata.uid/k` (k-th, k >= 2); rows_read counts staged rows.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import Staged, extract, key, split_by_kind, text
from auditlog.ingest.standard.aws import aws_principal, calls_values, credential_values
from auditlog.sqltext import sql_string

NAME = "ocsf"

# (class_uid, activity_id, activity name) for the classes mapped; the name becomes the
# action when the event carries no activity_name of its own.
ACTIVITIES: dict[int, tuple[str, ...]] = {
    3001: ("create", "enable", "password_change", "password_reset", "disable", "delete",
           "attach_policy", "detach_policy", "lock", "mfa_factor_enable",
           "mfa_factor_disable", "unlock"),
    3002: ("login", "logout", "authentication_ticket", "service_ticket_request",
           "service_ticket_renew", "preauth", "account_switch"),
    # Authorize Session: privileges, groups or roles given to a session (Windows 4672):
    # actions; nothing is granted to an account beyond that session.
    3003: ("assign_privileges", "assign_groups", "assign_roles"),
    3004: ("create", "read", "update", "delete", "move", "enroll", "unenroll", "enable",
           "disable", "activate", "deactivate", "suspend", "resume"),
    3005: ("assign_privileges", "revoke_privileges", "assign_role", "remove_role"),
    3006: ("assign_privileges", "revoke_privileges", "add_user", "remove_user", "delete",
           "create", "add_subgroup", "remove_subgroup", "update", "attach_policies",
           "detach_policies", "assign_roles", "remove_roles"),
    3007: ("create", "update", "delete", "enable", "disable", "lock", "unlock",
           "password_change", "password_reset", "attach_policies", "detach_policies",
           "enable_mfa_factors", "disable_mfa_factors", "assign_privileges",
           "remove_privileges", "assign_roles", "remove_roles",
           "add_programmatic_credentials", "remove_programmatic_credentials"),
    3008: ("create", "update", "delete", "assign_privileges", "remove_privileges",
           "assign_resources", "remove_resources", "attach_policies", "detach_policies",
           "add_programmatic_credentials", "remove_programmatic_credentials"),
    6001: ("create", "read", "update", "delete", "search", "import", "export", "share"),
    6002: ("install", "remove", "start", "stop", "restart", "enable", "disable", "update"),
    6003: ("create", "read", "update", "delete"),
    6004: ("access_grant", "access_deny", "access_revoke", "access_error"),
    6005: ("read", "update", "connect", "query", "write", "create", "delete", "list",
           "encrypt", "decrypt"),
    6006: ("upload", "download", "update", "delete", "rename", "copy", "move", "restore",
           "preview", "lock", "unlock", "share", "unshare", "open", "sync", "unsync",
           "access_check"),
    6007: ("started", "completed", "cancelled", "duration_violation", "pause_violation",
           "error", "paused", "resumed", "restarted", "delayed"),
    6008: ("general_error", "translation_error"),
}

# (The activity names are the OCSF schema's captions, events/iam/*.json and
# events/application/*.json of ocsf/ocsf-schema 1.9.0-dev, in snake case as an event's
# activity_name is read.) A class_uid of the IAM or application category that is none
# of these is no class auditlog can read.
KNOWN_CLASSES: tuple[int, ...] = tuple(sorted(ACTIVITIES))

# (class_uid, grant activity, revoke activity, whose privileges change, what is granted).
# Whose: the event's `user`, `group` or `iam_role`, or "item" when each granted item is a
# subject (users added to a group: they are granted the group). What: the attribute
# holding the list of privileges, policies, roles or users.
PRIVILEGE_CHANGES: tuple[tuple[int, int, int, str, str], ...] = (
    (3005, 1, 2, "user", "privileges"),
    (3005, 3, 4, "user", "iam_role"),
    (3001, 7, 8, "user", "policies"),
    (3006, 1, 2, "group", "privileges"),
    (3006, 3, 4, "item", "users"),
    (3006, 10, 11, "group", "policies"),
    (3006, 12, 13, "group", "iam_roles"),
    (3007, 10, 11, "user", "policies"),
    (3007, 14, 15, "user", "privileges"),
    (3007, 16, 17, "user", "iam_roles"),
    (3008, 4, 5, "role", "privileges"),
    (3008, 8, 9, "role", "policies"),
)

# (class_uid, activity_id, whose credential) of credential activities: actions whose
# target_account is that user or role.
CREDENTIAL_ACTIVITIES: tuple[tuple[int, int, str], ...] = (
    (3007, 18, "user"), (3007, 19, "user"), (3008, 10, "role"), (3008, 11, "role"),
)

FIELDS = {
    "class_uid": key("class_uid"),
    "activity_id": key("activity_id"),
    "activity_name": key("activity_name"),
    "time": key("time"),
    "time_dt": key("time_dt"),
    "status_id": key("status_id"),
    "status": key("status"),
    "uid": "$.metadata.uid",
    "product": "$.metadata.product.name",
    "actor_name": "$.actor.user.name",
    "actor_uid": "$.actor.user.uid",
    "actor_uuid": "$.actor.user.uuid",
    "actor_uid_alt": "$.actor.user.uid_alt",
    "actor_email": "$.actor.user.email_addr",
    "actor_invoked_by": "$.actor.invoked_by",
    "actor_type": "$.actor.user.type",
    "actor_issuer": "$.actor.session.issuer",
    "actor_app": "$.actor.app_name",
    "actor_process": "$.actor.process.name",
    "actor_session": "$.actor.session.uid",
    "session": "$.session.uid",
    "user_name": "$.user.name",
    "user_uid": "$.user.uid",
    "user_email": "$.user.email_addr",
    "privileges": key("privileges"),
    "policies": key("policies"),
    "policy": key("policy"),
    "iam_roles": key("iam_roles"),
    "iam_role": key("iam_role"),
    "role_name": "$.iam_role.name",
    "role_uid": "$.iam_role.uid",
    "users": key("users"),
    "user_obj": key("user"),
    "group_name": "$.group.name",
    "group_uid": "$.group.uid",
    "group_obj": key("group"),
    "entity_name": "$.entity.name",
    "entity_uid": "$.entity.uid",
    "api_operation": "$.api.operation",
    "api_service": "$.api.service.name",
    "api_request": "$.api.request.data",
    "unmapped": key("unmapped"),
    "resource_name": "$.resources[0].name",
    "resource_uid": "$.resources[0].uid",
    "legacy_resource_name": "$.resource.name",
    "legacy_resource_uid": "$.resource.uid",
    "src_ip": "$.src_endpoint.ip",
    "app_name": "$.app.name",
    "app_uid": "$.app.uid",
    "app_version": "$.app.version",
    "service_name": "$.service.name",
    "dst_host": "$.dst_endpoint.hostname",
    "cloud_provider": "$.cloud.provider",
    "ticket": "$.unmapped.ticket",
    "approver": "$.unmapped.approver",
    "expires_at": "$.unmapped.expires_at",
}

COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "ticket", "approver", "expires_at", "class_uid", "activity_id",
                   "source_ip", "actor_raw", "source_carries_approval", "ocsf"],
    "actions": ["event_id", "ts", "actor", "action", "system", "target_account", "object",
                "channel", "result", "source_ip", "session_id", "class_uid", "activity_id",
                "actor_raw", "ocsf"],
}


class Ocsf:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        return {"class_uid", "metadata"} <= keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_activities AS {_activities_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_changes AS {_changes_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_aws_calls AS {calls_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_aws_creds AS {credential_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_fields AS {extract(FIELDS)}")
        con.execute(UNMAPPED_AS_TEXT_SQL)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_events AS {EVENTS_SQL}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_mapped AS {MAPPED_SQL}")
        for table in ("_ocsf_fields", "_ocsf_events", "_ocsf_activities", "_ocsf_changes",
                      "_ocsf_aws_calls", "_ocsf_aws_creds"):
            con.execute(f"DROP TABLE {table}")
        return split_by_kind(con, "_ocsf_mapped", NAME, COLUMNS, default_kind="actions")


# `unmapped` written as a string holding a JSON object (as some producers serialize it:
# `"unmapped": "{\"ticket\": \"CHG-1\"}"`) is read as that object; any other string
# stays as it is (the whole event is kept in `extra.ocsf` either way).
UNMAPPED_AS_TEXT_SQL = """
UPDATE _ocsf_fields
SET unmapped = TRY_CAST(unmapped ->> '$' AS JSON),
    ticket = coalesce(ticket, TRY_CAST(unmapped ->> '$' AS JSON) -> '$.ticket'),
    approver = coalesce(approver, TRY_CAST(unmapped ->> '$' AS JSON) -> '$.approver'),
    expires_at = coalesce(expires_at, TRY_CAST(unmapped ->> '$' AS JSON) -> '$.expires_at')
WHERE json_type(unmapped) = 'VARCHAR'
  AND json_type(TRY_CAST(unmapped ->> '$' AS JSON)) = 'OBJECT'
"""


def _classes_read() -> str:
    """KNOWN_CLASSES as a reason names them: "3001-3008, 6001-6008"."""
    runs: list[list[int]] = []
    for cls in KNOWN_CLASSES:
        if runs and cls == runs[-1][-1] + 1:
            runs[-1].append(cls)
        else:
            runs.append([cls])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _activities_values() -> str:
    rows = [f"({cls}, {i}, {sql_string(name)})"
            for cls, names in ACTIVITIES.items() for i, name in enumerate(names, start=1)]
    return ("SELECT * FROM (VALUES " + ", ".join(rows)
            + ") AS t(class_uid, activity_id, activity)")


def _changes_values() -> str:
    rows = [f"({cls}, {act}, {sql_string(op)}, {sql_string(whose)}, {sql_string(what)})"
            for cls, grant, revoke, whose, what in PRIVILEGE_CHANGES
            for act, op in ((grant, "grant"), (revoke, "revoke"))]
    rows += [f"({cls}, {act}, NULL, {sql_string(whose)}, 'credential')"
             for cls, act, whose in CREDENTIAL_ACTIVITIES]
    return ("SELECT * FROM (VALUES " + ", ".join(rows)
            + ") AS t(class_uid, activity_id, operation, whose, what)")


def _flat(path: str) -> str:
    """SQL: a `$.a.b` path of the request as the key Security Lake's OCSF 1.0 flattens it
    into in `unmapped` (`$."requestParameters.a.b"`)."""
    return f"""('$."requestParameters.' || substr({path}, 3) || '"')"""


# The name of a granted item: an object's name, else its uid; a string as it is.
def _item_name(item: str) -> str:
    return (f"CASE WHEN json_type({item}) = 'OBJECT' "
            f"THEN coalesce(nullif(trim({item} ->> '$.name'), ''), "
            f"nullif(trim({item} ->> '$.uid'), '')) "
            f"ELSE nullif(trim({item} ->> '$'), '') END")


def _integer(expr: str) -> str:
    """SQL: the integer a value is, NULL when it is none. An integral number written with
    a fraction or an exponent (`3005.0`, `3.005e3`, as a producer that holds every number
    as a float writes it) is that integer; `3005.5` is none. (DuckDB's cast of text to
    INTEGER rounds `3005.5` to 3006, another class: a code is never rounded.)"""
    number = f"TRY_CAST({expr} AS DOUBLE)"
    return (f"CASE WHEN {number} = floor({number}) AND abs({number}) < 2147483648 "
            f"THEN CAST({number} AS INTEGER) END")


# One row per event: its class, what it means, and (for privilege changes) the JSON array
# of items it names, with the subject and operation shared by all of them.
EVENTS_SQL = f"""
WITH events AS (
  SELECT f.*,
         {_integer(text('class_uid'))} AS cls,
         {_integer(text('activity_id'))} AS act,
         coalesce({text('time')}, {text('time_dt')}) AS ts,
         -- Failure (2); without a status_id, or with Other (99), the status caption.
         coalesce({_integer(text('status_id'))} = 2
                  OR (coalesce({_integer(text('status_id'))}, 99) = 99
                      AND lower({text('status')}) IN ('failure', 'failed')), false) AS failed,
         -- The account as other logs name it (see "Principals"): an AWS ARN, else the
         -- login (email_addr, lower-cased), else the name, else the uid.
         coalesce(CASE WHEN starts_with({text('user_uid')}, 'arn:aws') THEN {text('user_uid')} END,
                  lower(nullif(trim({text('user_email')}), '')), {text('user_name')},
                  {text('user_uid')}) AS user_raw,
         coalesce({text('group_name')}, {text('group_uid')}) AS group_id,
         coalesce({text('role_name')}, {text('role_uid')}) AS role_id,
         -- A CloudTrail event in OCSF (AWS Security Lake copies eventName/eventSource to
         -- api.operation/api.service.name whatever class it chose): named and mapped as
         -- the CloudTrail adapter maps the native event, so the two are one event.
         coalesce({text('product')} = 'CloudTrail' AND {text('api_operation')} IS NOT NULL,
                  false) AS cloudtrail
  FROM _ocsf_fields f),
named AS (
  -- Principals in normal form (see "Principals" in the module docstring): an AWS ARN
  -- wherever a producer put it, as the CloudTrail adapter names that caller.
  SELECT e.*, {aws_principal('user_raw')} AS user_id,
         -- Security Lake's OCSF 1.0 names an assumed role by its principalId
         -- (`AROA...:<session>`) and the role's ARN as the session issuer.
         CASE WHEN {text('actor_type')} = 'AssumedRole'
                   AND NOT starts_with(actor_text, 'arn:aws')
                   AND regexp_matches(actor_text, '^AROA[A-Z0-9]+:.+$')
                   AND regexp_matches({text('actor_issuer')}, '^arn:aws[a-z-]*:iam::[0-9]*:role/')
              THEN regexp_extract({text('actor_issuer')}, '/([^/]+)$', 1) || '/'
                   || regexp_extract(actor_text, '^AROA[A-Z0-9]+:(.+)$', 1)
              ELSE {aws_principal('actor_text')} END AS actor_id
  FROM (SELECT e.*,
               coalesce(CASE WHEN starts_with(actor_uid_text, 'arn:aws') THEN actor_uid_text END,
                        CASE WHEN starts_with(actor_uuid_text, 'arn:aws')
                             THEN actor_uuid_text END,
                        CASE WHEN starts_with(actor_alt_text, 'arn:aws')
                             THEN actor_alt_text END,
                        lower(nullif(trim({text('actor_email')}), '')),
                        {text('actor_name')}, actor_uid_text, {text('actor_invoked_by')},
                        {text('actor_app')}, {text('actor_process')}) AS actor_text
        FROM (SELECT e.*, {text('actor_uid')} AS actor_uid_text,
                     {text('actor_uuid')} AS actor_uuid_text,
                     {text('actor_uid_alt')} AS actor_alt_text FROM events e) e) e),
judged AS (
  SELECT e.*,
         CASE
           WHEN _bad IS NOT NULL THEN _bad
           WHEN cls IS NULL AND TRY_CAST({text('e.class_uid')} AS DOUBLE) IS NOT NULL
             THEN 'OCSF event whose class_uid ' || {text('e.class_uid')}
                  || ' is not an integer (no class)'
           WHEN cls IS NULL THEN 'OCSF event without a numeric class_uid'
           -- An extension's class: <extension uid> * 100000 + <category> * 1000 + <n>.
           WHEN cls >= 100000 THEN 'OCSF class ' || cls || ' is a class of extension '
             || cls // 100000 || ', which auditlog does not map'
           WHEN cls // 1000 NOT IN (3, 6) THEN 'OCSF class ' || cls
             || ' is not an IAM (3xxx) or application (6xxx) activity auditlog maps'
           WHEN cls NOT IN ({', '.join(map(str, KNOWN_CLASSES))}) THEN 'OCSF class ' || cls
             || ' is no IAM or application class auditlog knows (it reads '
             || {sql_string(_classes_read())} || ')'
           WHEN ts IS NULL THEN 'OCSF event without time'
         END AS reason,
         CASE WHEN e.cloudtrail AND e.c_event_name IS NOT NULL AND e.call_subject IS NOT NULL
                THEN 'aws_call'
              WHEN e.cloudtrail AND e.k_event_name IS NOT NULL THEN 'aws_credential'
              WHEN p.what = 'credential' THEN 'credential'
              WHEN p.what IS NOT NULL THEN 'ocsf'
              WHEN e.c_event_name IS NOT NULL THEN 'aws_call'
              WHEN e.k_event_name IS NOT NULL THEN 'aws_credential' END AS change,
         -- A CloudTrail privilege call is mapped from its request, not from the class.
         CASE WHEN NOT (e.cloudtrail AND e.c_event_name IS NOT NULL
                        AND e.call_subject IS NOT NULL) THEN p.whose END AS whose,
         CASE WHEN NOT (e.cloudtrail AND e.c_event_name IS NOT NULL
                        AND e.call_subject IS NOT NULL) THEN p.what END AS what,
         CASE WHEN e.cloudtrail AND e.c_event_name IS NOT NULL AND e.call_subject IS NOT NULL
              THEN e.c_operation ELSE coalesce(p.operation, e.c_operation) END AS operation,
         coalesce(e.call_subject, e.owner,
                  CASE WHEN e.k_event_name IS NOT NULL THEN e.actor_id END) AS aws_subject,
         coalesce(e.c_privilege_constant, e.call_privilege) AS aws_privilege
  FROM (
    -- The call's request parameters: api.request.data, or as Security Lake's OCSF 1.0
    -- flattens them into unmapped (`"requestParameters.userName"`).
    SELECT e.*, c.event_name AS c_event_name, c.operation AS c_operation,
           c.privilege_constant AS c_privilege_constant, k.event_name AS k_event_name,
           coalesce(json_extract_string(e.api_request, c.subject_path),
                    json_extract_string(e.unmapped, {_flat('c.subject_path')})) AS call_subject,
           coalesce(json_extract_string(e.api_request, c.privilege_path),
                    json_extract_string(e.unmapped, {_flat('c.privilege_path')}))
             AS call_privilege,
           coalesce(json_extract_string(e.api_request, k.owner_path),
                    json_extract_string(e.unmapped, {_flat('k.owner_path')})) AS owner
    FROM named e
    LEFT JOIN _ocsf_aws_calls c
      ON (e.cls = 6003 OR e.cloudtrail) AND c.event_source = ({text('api_service')})
     AND c.event_name = ({text('api_operation')})
    LEFT JOIN _ocsf_aws_creds k
      ON (e.cls = 6003 OR e.cloudtrail) AND k.event_source = ({text('api_service')})
     AND k.event_name = ({text('api_operation')})) e
  LEFT JOIN _ocsf_changes p ON p.class_uid = e.cls AND p.activity_id = e.act)
SELECT j.*,
       CASE WHEN change IN ('ocsf', 'aws_call') AND reason IS NULL AND NOT failed
            THEN 'privileges' ELSE 'actions' END AS _kind,
       CASE WHEN change = 'aws_call' THEN aws_subject
            WHEN change = 'aws_credential' THEN aws_subject
            ELSE CASE whose WHEN 'user' THEN user_id WHEN 'group' THEN group_id
                            WHEN 'role' THEN role_id END END AS subject,
       CASE WHEN change = 'aws_call' THEN json_array(aws_privilege)
            ELSE CASE what
              WHEN 'privileges' THEN privileges
              WHEN 'policies' THEN coalesce(policies, json_array(policy))
              WHEN 'iam_roles' THEN iam_roles
              WHEN 'iam_role' THEN json_array(iam_role)
              WHEN 'users' THEN coalesce(users, json_array(user_obj)) END END AS items,
       lower(replace(trim({text('activity_name')}), ' ', '_')) AS named_activity
FROM judged j
"""

MAPPED_SQL = f"""
WITH counted AS (
  SELECT e.*,
         CASE WHEN _kind = 'privileges'
              THEN greatest(coalesce(json_array_length(items), 0), 1) ELSE 1 END AS n
  FROM _ocsf_events e),
expanded AS (
  SELECT c.*, i,
         CASE WHEN _kind = 'privileges' THEN items -> ('$[' || (i - 1) || ']') END AS item
  FROM counted c, range(1, CAST(c.n AS BIGINT) + 1) AS t(i))
SELECT
  x._row,
  CASE WHEN n > 1 THEN x._loc || ' privilege ' || i ELSE x._loc END AS _loc,
  x._raw,
  reason AS _bad,
  _kind,
  CASE WHEN i = 1 THEN {text('uid')} ELSE {text('uid')} || '/' || i END AS event_id,
  ts,
  CASE WHEN cls = 3002 AND NOT cloudtrail THEN coalesce(user_id, actor_id)
       ELSE actor_id END AS actor,
  -- The actor as the event wrote it, when its normal form is not that.
  CASE WHEN cls = 3002 AND NOT cloudtrail AND user_id IS NOT NULL
       THEN CASE WHEN user_raw IS DISTINCT FROM user_id THEN user_raw END
       WHEN actor_text IS DISTINCT FROM actor_id THEN actor_text END AS actor_raw,
  -- Users added to a group are each granted the group.
  CASE WHEN whose = 'item' THEN {_item_name('item')} ELSE subject END AS subject,
  CASE WHEN whose = 'item' THEN group_id ELSE {_item_name('item')} END AS privilege,
  operation,
  CASE
    WHEN cloudtrail THEN {text('api_operation')}
    WHEN cls = 3002 AND act = 1 THEN 'login'
    WHEN cls = 3002 AND act = 2 THEN 'logout'
    WHEN cls = 6003 THEN coalesce({text('api_operation')}, named_activity, a.activity)
    ELSE coalesce(named_activity, a.activity, 'class ' || cls || ' activity '
                  || coalesce(CAST(act AS VARCHAR), {text('x.activity_id')}, 'unknown'))
  END AS action,
  CASE
    WHEN _kind = 'privileges'
      -- As the CloudTrail adapter has it: IAM/SSO privileges apply account-wide.
      THEN CASE WHEN change = 'aws_call' THEN
                  CASE WHEN {text('api_service')} = 'kms.amazonaws.com'
                       THEN 'kms.amazonaws.com' END
                ELSE coalesce({text('resource_name')}, {text('resource_uid')},
                              {text('legacy_resource_name')}, {text('legacy_resource_uid')})
           END
    WHEN cloudtrail THEN {text('api_service')}
    ELSE CASE cls
    WHEN 6003 THEN coalesce({text('api_service')}, {text('cloud_provider')}, {text('product')})
    WHEN 6002 THEN coalesce({text('app_name')}, {text('app_uid')}, {text('product')})
    WHEN 3002 THEN coalesce({text('service_name')}, {text('dst_host')}, {text('product')})
    ELSE coalesce({text('resource_name')}, {text('resource_uid')},
                  {text('legacy_resource_name')}, {text('legacy_resource_uid')},
                  {text('product')})
  END END AS system,
  CASE WHEN change IN ('credential', 'aws_credential') THEN subject END AS target_account,
  CASE cls
    WHEN 6002 THEN {text('app_version')}
    WHEN 3004 THEN coalesce({text('entity_name')}, {text('entity_uid')})
    WHEN 3002 THEN {text('dst_host')}
    WHEN 3001 THEN user_id
    WHEN 3005 THEN user_id
    WHEN 3007 THEN user_id
    WHEN 3006 THEN group_id
    WHEN 3008 THEN role_id
    ELSE coalesce({text('resource_uid')}, {text('resource_name')})
  END AS object,
  CASE WHEN cls = 6003 THEN 'api' END AS channel,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  {text('src_ip')} AS source_ip,
  coalesce({text('actor_session')}, {text('session')}) AS session_id,
  {text('ticket')} AS ticket,
  {text('approver')} AS approver,
  {text('expires_at')} AS expires_at,
  -- OCSF has no attribute for an approval: a grant whose producer put no ticket and no
  -- approver key in `unmapped` cannot show one (controls/grant_controls.sql).
  CASE WHEN _kind = 'privileges' AND ticket IS NULL AND approver IS NULL
       THEN false END AS source_carries_approval,
  cls AS class_uid,
  act AS activity_id,
  -- What a privilege row was expanded from is in its own columns; the rest stays.
  CASE WHEN x._bad IS NOT NULL THEN NULL
       WHEN _kind = 'privileges'
       THEN json_merge_patch(x._raw, '{{"privileges": null, "policies": null, "policy": null,
                                        "iam_roles": null, "users": null}}')
       ELSE CAST(x._raw AS JSON) END AS ocsf
FROM expanded x
LEFT JOIN _ocsf_activities a ON a.class_uid = x.cls AND a.activity_id = x.act
"""
