"""Entra ID (Azure AD) audit log records → privileges and actions, for the Azure adapter
(azure.py): diagnostic-settings records (`category` "AuditLogs", the audit record in
`properties`) and Graph `directoryAudits` records (the audit record itself).

* A successful role assignment: "Add member to role", "Add eligible member to role" and
  their PIM forms ("Add member to role completed (PIM activation)", "... in PIM completed
  (permanent|timebound)") **grant** the directory role; "Remove member from role",
  "Remove eligible member from role" and their PIM forms **revoke** it. privilege = the
  role's display name (`Role.DisplayName` among the target's modified properties, else
  the target of type Role), subject = the user target's UPN lower-cased (else the
  service principal or group target's id; for a PIM activation naming no user, the
  initiator).
* "Add member to group" **grants** the group (privilege = `Group.DisplayName`, else the
  Group target's name); "Remove member from group" revokes it.
* A PIM record can carry an approval: its `TicketNumber` (additionalDetails) is the
  ticket, its `ExpirationTime`/`EndTime` the grant's end. Other grants cannot, so they
  carry `extra.source_carries_approval` = false (controls/grant_controls.sql).
* User lifecycle ("Add user", "Delete user", "Disable account", "Enable account",
  "Restore user", ...) and application credentials ("Add service principal
  credentials", "Update application – Certificates and secrets management") are
  **actions**: action = `activityDisplayName`, target_account = the user target's UPN,
  else the service principal/application target's id. (The accounts kind is a
  directory snapshot keyed by account; a second event for one account would conflict.)
* Everything else, and every failed activity (`result` other than success), is an
  **action**; system = "entra".

actor = `initiatedBy.user.userPrincipalName` lower-cased (else its id), or for an
application `initiatedBy.app.servicePrincipalId` (the object id, as in the Activity log
and in role assignments; else appId, else displayName); `initiatedBy` is kept in
`extra.initiated_by`, `targetResources` in `extra.target_resources`. Event id = the
record's `id`; time = `activityDateTime` (UTC).
"""

from __future__ import annotations

SYSTEM = "entra"

EXTRA = ["activity_category", "logged_by_service", "operation_type", "result_reason",
         "initiated_by", "target_resources", "additional_details"]

GRANTS = ("Add member to role", "Add eligible member to role", "Add member to group")
REVOKES = ("Remove member from role", "Remove eligible member from role",
           "Remove member from group")


# A Log Analytics AuditLogs row (PascalCase columns, nested ones as JSON text) as the
# audit record the rest of the mapping reads.
def _nested(column: str) -> str:
    return (f"CASE WHEN json_type({column}) = 'VARCHAR' THEN TRY_CAST({column} ->> '$' AS JSON) "
            f"ELSE {column} END")


_WORKSPACE_RECORD = (
    "json_object('id', r.la_entra_id ->> '$', 'activityDisplayName', r.la_activity ->> '$', "
    "'activityDateTime', coalesce(r.la_activity_time ->> '$', r.la_time ->> '$'), "
    f"'initiatedBy', {_nested('r.la_initiated')}, "
    f"'targetResources', {_nested('r.la_targets')}, "
    f"'additionalDetails', {_nested('r.la_details')}, "
    "'result', r.la_result ->> '$', 'resultReason', r.la_result_reason ->> '$', "
    "'category', r.la_category ->> '$', 'loggedByService', r.la_logged ->> '$', "
    "'operationType', r.la_op_type ->> '$')"
)


def graph_matches(keys: set[str]) -> bool:
    """Graph `directoryAudits` records (no diagnostic-settings envelope)."""
    return {"activityDisplayName", "activityDateTime", "initiatedBy", "targetResources"} <= keys


def _detail(name: str) -> str:
    return (f"nullif(trim(list_filter(details, lambda d: (d ->> '$.key') = '{name}')[1] "
            f"->> '$.value'), '')")


def _modified(name: str) -> str:
    # modifiedProperties' values are JSON text themselves ("\"Global Administrator\"").
    return (f"nullif(trim(list_filter(mods, lambda m: (m ->> '$.displayName') = '{name}')[1] "
            f"->> '$.newValue', ' \"'), '')")


def _target(kind: str) -> str:
    return f"list_filter(targets, lambda t: (t ->> '$.type') = '{kind}')[1]"


def mapped_sql(records: str) -> str:
    """SELECT of the mapped rows (azure.py's columns) of the Entra records in `records`
    (a CTE of azure.MAPPED_SQL with `is_entra`, `graph`, `properties`, `_raw`)."""
    return f"""
SELECT
  e._row, e._loc, e._raw, e.reason AS _bad,
  CASE WHEN e.reason IS NULL AND e.operation IS NOT NULL AND e.subject IS NOT NULL
            AND e.privilege IS NOT NULL THEN 'privileges' ELSE 'actions' END AS _kind,
  e.event_id, e.ts, e.actor, e.actor_type,
  -- The initiator's UPN as written, when lower-casing changed it.
  nullif(e.initiated_by ->> '$.user.userPrincipalName', e.actor) AS actor_raw,
  e.subject, e.privilege, e.operation,
  CASE WHEN e.operation IS NULL THEN '{SYSTEM}' END AS system,
  CASE WHEN e.pim THEN {_detail('TicketNumber')} END AS ticket,
  CASE WHEN e.pim THEN coalesce({_detail('ExpirationTime')}, {_detail('EndTime')})
  END AS expires_at,
  e.activity AS action,
  coalesce(lower(e.user_target ->> '$.userPrincipalName'), e.user_target ->> '$.id',
           e.sp_target ->> '$.id', e.app_target ->> '$.id') AS target_account,
  coalesce(e.targets[1] ->> '$.displayName', e.targets[1] ->> '$.id') AS object,
  CASE WHEN e.initiated_by ->> '$.user.ipAddress' IS NOT NULL THEN 'console'
       ELSE 'api' END AS channel,
  CASE WHEN e.failed THEN 'failure' ELSE 'success' END AS result,
  coalesce(nullif(e.initiated_by ->> '$.user.ipAddress', ''), e.caller_addr) AS source_ip,
  e.cat AS category,
  e.tenant AS tenant_id,
  e.correlation AS correlation_id,
  e.p ->> '$.category' AS activity_category,
  e.p ->> '$.loggedByService' AS logged_by_service,
  e.p ->> '$.operationType' AS operation_type,
  nullif(e.p ->> '$.resultReason', '') AS result_reason,
  e.initiated_by,
  e.p -> '$.targetResources' AS target_resources,
  e.p -> '$.additionalDetails' AS additional_details,
  CASE WHEN e.operation IS NOT NULL AND NOT e.pim THEN false END AS source_carries_approval
FROM (
  SELECT x.*,
         CASE WHEN x.reason IS NOT NULL OR x.failed THEN NULL
              WHEN list_contains({list(GRANTS)!r}, x.base_activity) THEN 'grant'
              WHEN list_contains({list(REVOKES)!r}, x.base_activity) THEN 'revoke'
         END AS operation,
         CASE WHEN x.base_activity LIKE '%group' THEN
                coalesce({_modified('Group.DisplayName')}, x.group_target ->> '$.displayName',
                         x.group_target ->> '$.id')
              ELSE coalesce({_modified('Role.DisplayName')}, x.role_target ->> '$.displayName',
                            {_modified('Role.TemplateId')}, x.role_target ->> '$.id')
         END AS privilege,
         coalesce(lower(x.user_target ->> '$.userPrincipalName'), x.user_target ->> '$.id',
                  x.sp_target ->> '$.id',
                  CASE WHEN x.base_activity NOT LIKE '%group' THEN x.group_target ->> '$.id' END,
                  CASE WHEN x.pim THEN x.actor END) AS subject
  FROM (
    SELECT w.*,
           {_target('User')} AS user_target,
           {_target('ServicePrincipal')} AS sp_target,
           {_target('Application')} AS app_target,
           {_target('Group')} AS group_target,
           {_target('Role')} AS role_target,
           coalesce(lower(w.initiated_by ->> '$.user.userPrincipalName'),
                    w.initiated_by ->> '$.user.id',
                    w.initiated_by ->> '$.app.servicePrincipalId',
                    w.initiated_by ->> '$.app.appId',
                    w.initiated_by ->> '$.app.displayName') AS actor,
           CASE WHEN (w.initiated_by ->> '$.user.userPrincipalName') IS NULL
                 AND (w.initiated_by ->> '$.user.id') IS NULL THEN 'service' END AS actor_type,
           CASE WHEN w._bad IS NOT NULL THEN w._bad
                WHEN w.ts IS NULL THEN 'Entra audit record without activityDateTime'
                WHEN w.activity IS NULL THEN 'Entra audit record without activityDisplayName'
                WHEN coalesce(lower(w.initiated_by ->> '$.user.userPrincipalName'),
                              w.initiated_by ->> '$.user.id',
                              w.initiated_by ->> '$.app.servicePrincipalId',
                              w.initiated_by ->> '$.app.appId',
                              w.initiated_by ->> '$.app.displayName') IS NULL
                  THEN 'Entra audit record without initiatedBy'
           END AS reason
    FROM (
      SELECT v.*,
             coalesce(json_extract(v.p, '$.targetResources[*]'), []::JSON[]) AS targets,
             flatten(list_transform(
               coalesce(json_extract(v.p, '$.targetResources[*]'), []::JSON[]),
               lambda t: coalesce(json_extract(t, '$.modifiedProperties[*]'), []::JSON[])))
               AS mods,
             coalesce(json_extract(v.p, '$.additionalDetails[*]'), []::JSON[]) AS details,
             v.p -> '$.initiatedBy' AS initiated_by,
             nullif(trim(v.p ->> '$.activityDisplayName'), '') AS activity,
             nullif(trim(v.p ->> '$.id'), '') AS event_id,
             coalesce(nullif(trim(v.p ->> '$.activityDateTime'), ''), v.at) AS ts,
             lower(coalesce(v.p ->> '$.result', 'success')) NOT IN ('success', '0') AS failed,
             -- "Add member to role completed (PIM activation)" → "Add member to role".
             regexp_replace(trim(v.p ->> '$.activityDisplayName'),
                            '( in PIM)?( completed| requested)? ?(\\(.*\\))?$', '')
               AS base_activity,
             coalesce(v.p ->> '$.activityDisplayName', '') LIKE '%PIM%' AS pim,
             v.tenant_id ->> '$' AS tenant,
             v.correlation_id ->> '$' AS correlation,
             v.caller_ip ->> '$' AS caller_addr
      FROM (
        SELECT r.*,
               CASE WHEN r.graph THEN r._raw::JSON
                    WHEN r.workspace_entra THEN {_WORKSPACE_RECORD}
                    ELSE r.properties END AS p
        FROM {records} r WHERE r.is_entra) v
    ) w
  ) x
) e
"""
