"""OCSF 1.x events (IAM and application classes) → privileges and actions.

Privilege changes (one row per privilege named):
* 3005 User Access Management: Assign (1) / Revoke (2) Privileges → grant / revoke of
  each entry of `privileges` to `user`.
* 3001 Account Change: Attach (7) / Detach (8) Policy → grant / revoke of each of
  `policies` (or `policy`) by name, else uid, to `user`.
* 3006 Group Management: Add (3) / Remove (4) User → grant / revoke of the group to
  `user`; Assign (1) / Revoke (2) Privileges → of each privilege to the group.
* 6003 API Activity of an AWS privilege-changing call (the CloudTrail adapter's
  PRIVILEGE_CALLS, e.g. AttachUserPolicy translated from CloudTrail to OCSF) → the same
  privilege change the CloudTrail adapter makes of it, read from `api.request.data`.

Everything else of categories 3 (IAM) and 6 (application) is an action, named after its
activity ("enable", "password_reset", "update", ...; 3002 Logon/Logoff → login/logout;
6003 API Activity → `api.operation`). Other categories (findings, network, ...) are not
activity logs: quarantined with that reason. A privilege change that failed
(status_id 2) granted nothing: it is an action with result `failure`.

Columns: event_id = `metadata.uid`, ts = `time` (epoch ms; `time_dt` when missing),
actor = `actor.user.name`, else `actor.user.uid` (the name is what CloudTrail's
userName and most directories call the account; for 3002 the authenticating `user`),
subject = `user.name`, else `user.uid`. system = the first resource's name or uid, else
`metadata.product.name` (API activity: `api.service.name`; applications: `app.name`;
authentication: `service.name`). ticket, approver and expires_at, which OCSF has no
attribute for, are read from `unmapped` when a producer put them there. The whole event
(less the privileges/policies it was expanded from) is kept as `extra.ocsf`: nothing
unmapped is lost.

As for Kubernetes bindings, an event naming N privileges stages N rows sharing its
`_row`, located "line 5 privilege 2" and identified `metadata.uid` (first) and
`metadata.uid/k` (k-th, k >= 2); rows_read counts staged rows.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.readers import Staged, _sql_string
from auditlog.ingest.standard.cloudtrail import calls_values
from auditlog.ingest.standard.staging import extract, key, split_by_kind, text

NAME = "ocsf"

# (class_uid, activity_id, activity name) for the classes mapped; the name becomes the
# action when the event carries no activity_name of its own.
ACTIVITIES: dict[int, tuple[str, ...]] = {
    3001: ("create", "enable", "password_change", "password_reset", "disable", "delete",
           "attach_policy", "detach_policy", "lock", "mfa_factor_enable",
           "mfa_factor_disable", "unlock"),
    3002: ("login", "logout", "authentication_ticket", "service_ticket_request",
           "service_ticket_renew", "preauth"),
    3004: ("create", "read", "update", "delete", "move", "enroll", "unenroll", "enable",
           "disable", "activate", "deactivate", "suspend", "resume"),
    3005: ("assign_privileges", "revoke_privileges"),
    3006: ("assign_privileges", "revoke_privileges", "add_user", "remove_user", "delete",
           "create"),
    6002: ("install", "remove", "start", "stop", "restart", "enable", "disable", "update"),
    6003: ("create", "read", "update", "delete"),
}

FIELDS = {
    "class_uid": key("class_uid"),
    "activity_id": key("activity_id"),
    "activity_name": key("activity_name"),
    "time": key("time"),
    "time_dt": key("time_dt"),
    "status_id": key("status_id"),
    "uid": "$.metadata.uid",
    "product": "$.metadata.product.name",
    "actor_name": "$.actor.user.name",
    "actor_uid": "$.actor.user.uid",
    "actor_app": "$.actor.app_name",
    "actor_process": "$.actor.process.name",
    "actor_session": "$.actor.session.uid",
    "session": "$.session.uid",
    "user_name": "$.user.name",
    "user_uid": "$.user.uid",
    "privileges": key("privileges"),
    "policies": key("policies"),
    "policy": key("policy"),
    "group_name": "$.group.name",
    "group_uid": "$.group.uid",
    "group_obj": key("group"),
    "entity_name": "$.entity.name",
    "entity_uid": "$.entity.uid",
    "api_operation": "$.api.operation",
    "api_service": "$.api.service.name",
    "api_request": "$.api.request.data",
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
                   "source_ip", "ocsf"],
    "actions": ["event_id", "ts", "actor", "action", "system", "object", "channel", "result",
                "source_ip", "session_id", "class_uid", "activity_id", "ocsf"],
}


class Ocsf:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        return {"class_uid", "metadata"} <= keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_activities AS {_activities_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_aws_calls AS {calls_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_fields AS {extract(FIELDS)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_events AS {EVENTS_SQL}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ocsf_mapped AS {MAPPED_SQL}")
        for table in ("_ocsf_fields", "_ocsf_events", "_ocsf_activities", "_ocsf_aws_calls"):
            con.execute(f"DROP TABLE {table}")
        return split_by_kind(con, "_ocsf_mapped", NAME, COLUMNS, default_kind="actions")


def _activities_values() -> str:
    rows = [f"({cls}, {i}, {_sql_string(name)})"
            for cls, names in ACTIVITIES.items() for i, name in enumerate(names, start=1)]
    return ("SELECT * FROM (VALUES " + ", ".join(rows)
            + ") AS t(class_uid, activity_id, activity)")


# One row per event: its class, what it means, and (for privilege changes) the JSON array
# of privileges it names, with the subject and operation shared by all of them.
EVENTS_SQL = f"""
WITH events AS (
  SELECT f.*,
         TRY_CAST({text('class_uid')} AS INTEGER) AS cls,
         TRY_CAST({text('activity_id')} AS INTEGER) AS act,
         coalesce({text('time')}, {text('time_dt')}) AS ts,
         coalesce(TRY_CAST({text('status_id')} AS INTEGER) = 2, false) AS failed,
         coalesce({text('user_name')}, {text('user_uid')}) AS user_id
  FROM _ocsf_fields f),
judged AS (
  SELECT e.*,
         CASE
           WHEN _bad IS NOT NULL THEN _bad
           WHEN cls IS NULL THEN 'OCSF event without a numeric class_uid'
           WHEN cls // 1000 NOT IN (3, 6) THEN 'OCSF class ' || cls
             || ' is not an IAM (3xxx) or application (6xxx) activity auditlog maps'
           WHEN ts IS NULL THEN 'OCSF event without time'
         END AS reason,
         CASE
           WHEN cls = 3005 AND act IN (1, 2) THEN 'user_privileges'
           WHEN cls = 3001 AND act IN (7, 8) THEN 'user_policies'
           WHEN cls = 3006 AND act IN (3, 4) THEN 'user_group'
           WHEN cls = 3006 AND act IN (1, 2) THEN 'group_privileges'
           WHEN c.event_name IS NOT NULL THEN 'aws_call'
         END AS change,
         c.operation AS aws_operation,
         coalesce(json_extract_string(e.api_request, c.subject_path),
                  CASE WHEN c.self_default THEN e.actor_name ->> '$' END) AS aws_subject,
         coalesce(c.privilege_constant,
                  json_extract_string(e.api_request, c.privilege_path)) AS aws_privilege
  FROM events e
  LEFT JOIN _ocsf_aws_calls c
    ON e.cls = 6003 AND c.event_source = ({text('api_service')})
   AND c.event_name = ({text('api_operation')}))
SELECT j.*,
       CASE WHEN change IS NOT NULL AND reason IS NULL AND NOT failed
            THEN 'privileges' ELSE 'actions' END AS _kind,
       CASE WHEN change = 'aws_call' THEN aws_operation
            WHEN act IN (1, 3, 7) THEN 'grant' ELSE 'revoke' END AS operation,
       CASE change WHEN 'group_privileges' THEN coalesce({text('group_name')}, {text('group_uid')})
                   WHEN 'aws_call' THEN aws_subject
                   ELSE user_id END AS subject,
       CASE change
         WHEN 'user_privileges' THEN privileges
         WHEN 'group_privileges' THEN privileges
         WHEN 'user_policies' THEN coalesce(policies, json_array(policy))
         WHEN 'user_group' THEN json_array(group_obj)
         WHEN 'aws_call' THEN json_array(aws_privilege)
       END AS items,
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
  CASE WHEN cls = 3002
       THEN coalesce(user_id, {text('actor_name')}, {text('actor_uid')})
       ELSE coalesce({text('actor_name')}, {text('actor_uid')}, {text('actor_app')},
                     {text('actor_process')}) END AS actor,
  subject,
  CASE WHEN json_type(item) = 'OBJECT'
       THEN coalesce(nullif(trim(item ->> '$.name'), ''), nullif(trim(item ->> '$.uid'), ''))
       ELSE nullif(trim(item ->> '$'), '') END AS privilege,
  operation,
  CASE
    WHEN cls = 3002 AND act = 1 THEN 'login'
    WHEN cls = 3002 AND act = 2 THEN 'logout'
    WHEN cls = 6003 THEN coalesce({text('api_operation')}, named_activity, a.activity)
    ELSE coalesce(named_activity, a.activity, 'class ' || cls || ' activity ' || act)
  END AS action,
  CASE
    -- As the CloudTrail adapter has it: IAM/SSO privileges apply account-wide.
    WHEN change = 'aws_call' AND _kind = 'privileges'
      THEN CASE WHEN {text('api_service')} = 'kms.amazonaws.com' THEN 'kms.amazonaws.com' END
    ELSE CASE cls
    WHEN 6003 THEN coalesce({text('api_service')}, {text('cloud_provider')}, {text('product')})
    WHEN 6002 THEN coalesce({text('app_name')}, {text('app_uid')}, {text('product')})
    WHEN 3002 THEN coalesce({text('service_name')}, {text('dst_host')}, {text('product')})
    ELSE coalesce({text('resource_name')}, {text('resource_uid')},
                  {text('legacy_resource_name')}, {text('legacy_resource_uid')},
                  {text('product')})
  END END AS system,
  CASE cls
    WHEN 6002 THEN {text('app_version')}
    WHEN 3004 THEN coalesce({text('entity_name')}, {text('entity_uid')})
    WHEN 3002 THEN {text('dst_host')}
    WHEN 3001 THEN user_id
    WHEN 3005 THEN user_id
    WHEN 3006 THEN coalesce({text('group_name')}, {text('group_uid')})
    ELSE coalesce({text('resource_uid')}, {text('resource_name')})
  END AS object,
  CASE WHEN cls = 6003 THEN 'api' END AS channel,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  {text('src_ip')} AS source_ip,
  coalesce({text('actor_session')}, {text('session')}) AS session_id,
  {text('ticket')} AS ticket,
  {text('approver')} AS approver,
  {text('expires_at')} AS expires_at,
  cls AS class_uid,
  act AS activity_id,
  -- What a privilege row was expanded from is in its own columns; the rest stays.
  CASE WHEN x._bad IS NOT NULL THEN NULL
       WHEN _kind = 'privileges'
       THEN json_merge_patch(x._raw, '{{"privileges": null, "policies": null, "policy": null}}')
       ELSE CAST(x._raw AS JSON) END AS ocsf
FROM expanded x
LEFT JOIN _ocsf_activities a ON a.class_uid = x.cls AND a.activity_id = x.act
"""
