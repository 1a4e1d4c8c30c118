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
* An application's permissions: "Add app role assignment to service principal"
  **grants** the app role (`AppRole.Value`, else its display name, else its id; the
  all-zero id is `default access`) to the service principal `ServicePrincipal.ObjectID`;
  "Add app role assignment grant to user" to the user (`User.UPN` lower-cased, else the
  User target, else `User.ObjectID`, else the group); "Add delegated permission grant"
  each scope of `DelegatedPermissionGrant.Scope` to the client `ServicePrincipal.ObjectID`;
  "Consent to application" each scope of `ConsentAction.Permissions` (after its `=>`:
  `[Id: ..., ClientId: c, ResourceId: r, ConsentType: t, Scope: a b, ...]` per resource)
  to `ClientId` (else the ServicePrincipal target). The "Remove ..." forms **revoke**,
  read from `oldValue`. system = the API the permission is on (the ServicePrincipal
  target that is not the grantee, by displayName; for a consent its `ResourceId`);
  `extra.permission_type` application or delegated, `extra.consent_type` AllPrincipals
  or Principal. A record of N permissions is N rows sharing its `_row`, located
  "line 3 permission 2", ids `id`, `id/2`, ...
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
  **action**; system = "entra" (also for a grant naming no grantee or privilege).

actor = `initiatedBy.user.userPrincipalName` lower-cased (else its id), or for an
application `initiatedBy.app.servicePrincipalId` (the object id, as in the Activity log
and in role assignments; else appId, else displayName); `initiatedBy` is kept in
`extra.initiated_by`, `targetResources` in `extra.target_resources`. Event id = the
record's `id`; time = `activityDateTime` (UTC).
"""

from __future__ import annotations

SYSTEM = "entra"

EXTRA = ["activity_category", "logged_by_service", "operation_type", "result_reason",
         "initiated_by", "target_resources", "additional_details", "permission_type",
         "resource", "consent_type"]

GRANTS = ("Add member to role", "Add eligible member to role", "Add member to group")
REVOKES = ("Remove member from role", "Remove eligible member from role",
           "Remove member from group")
# What an application may do: an app role (application permission) assigned to a service
# principal, a user or a group; delegated permissions (OAuth2 scopes) granted to a client
# application, directly or by consent.
APP_GRANTS = ("Add app role assignment to service principal",
              "Add app role assignment grant to user", "Add delegated permission grant",
              "Consent to application")
APP_REVOKES = ("Remove app role assignment from service principal",
               "Remove app role assignment from user", "Remove delegated permission grant")
# The app role every application has when it defines none: "default access".
DEFAULT_APP_ROLE = "00000000-0000-0000-0000-000000000000"


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


def _changed(name: str) -> str:
    # What a change set (newValue) or, for a removal, took away (oldValue).
    m = f"list_filter(mods, lambda m: (m ->> '$.displayName') = '{name}')[1]"
    return (f"coalesce(nullif(trim({m} ->> '$.newValue', ' \"'), ''), "
            f"nullif(trim({m} ->> '$.oldValue', ' \"'), ''))")


def _scopes(value: str) -> str:
    """SQL: the OAuth2 scopes of a space-separated scope text, as a list."""
    return (f"list_filter(string_split(regexp_replace(coalesce({value}, ''), "
            f"'[\\s,\\[\\]\"]+', ' ', 'g'), ' '), lambda s: s <> '')")


# ConsentAction.Permissions: "<before> => [[Id: ..., ClientId: c, PrincipalId: p,
# ResourceId: r, ConsentType: AllPrincipals, Scope: User.Read Mail.Read, ...]]; ", one
# [...] per resource. What the consent granted is after the arrow.
_CONSENTED = ("regexp_replace(coalesce(" + _changed("ConsentAction.Permissions")
              + ", ''), '^.*=>', '')")


def _consent_field(name: str) -> str:
    return f"regexp_extract_all({_CONSENTED}, '{name}: ([^,\\]]*)', 1)"


def _target(kind: str) -> str:
    return f"list_filter(targets, lambda t: (t ->> '$.type') = '{kind}')[1]"


def mapped_sql(records: str) -> str:
    """SELECT of the mapped rows (azure.py's columns) of the Entra records in `records`
    (a CTE of azure.MAPPED_SQL with `is_entra`, `graph`, `properties`, `_raw`)."""
    return f"""
SELECT
  e._row,
  CASE WHEN e.n_grants > 1 THEN e._loc || ' permission ' || e.i ELSE e._loc END AS _loc,
  e._raw, e.reason AS _bad,
  CASE WHEN e.is_grant THEN 'privileges' ELSE 'actions' END AS _kind,
  CASE WHEN e.i > 1 THEN e.event_id || '/' || e.i ELSE e.event_id END AS event_id,
  e.ts, e.actor, e.actor_type,
  -- The initiator's UPN as written, when lower-casing changed it.
  nullif(e.initiated_by ->> '$.user.userPrincipalName', e.actor) AS actor_raw,
  e.subject, e.granted AS privilege, e.operation,
  -- A directory role or group applies to no one system; an app's permission to its API.
  CASE WHEN e.is_grant THEN e.granted_on ELSE '{SYSTEM}' END AS system,
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
  CASE WHEN e.operation IS NOT NULL AND NOT e.pim THEN false END AS source_carries_approval,
  e.permission_type, e.granted_on AS resource, e.consent_type
FROM (
SELECT e2.*, t.i, len(e2.grants) AS n_grants, e2.grants[t.i].privilege AS granted,
       e2.grants[t.i].resource AS granted_on,
       e2.reason IS NULL AND e2.operation IS NOT NULL AND e2.subject IS NOT NULL
         AND e2.grants[t.i].privilege IS NOT NULL AS is_grant
FROM (
SELECT e0.*,
       -- One privilege row per permission granted (a consent's scopes, a delegated
       -- grant's), else the role or group.
       CASE WHEN e0.app_kind IS NOT NULL THEN coalesce(e0.app_grants, [])
            ELSE [{{'privilege': e0.privilege, 'resource': CAST(NULL AS VARCHAR)}}]
       END AS grants
FROM (
  SELECT x.*,
         CASE WHEN x.reason IS NOT NULL OR x.failed THEN NULL
              WHEN list_contains({list(GRANTS + APP_GRANTS)!r}, x.base_activity) THEN 'grant'
              WHEN list_contains({list(REVOKES + APP_REVOKES)!r}, x.base_activity)
                THEN 'revoke'
         END AS operation,
         CASE WHEN x.app_kind = 'consent' THEN
                list_filter(flatten(list_transform(
                  list_zip({_consent_field('ResourceId')}, {_consent_field('Scope')}),
                  lambda e: list_transform({_scopes('e[2]')},
                                           lambda sc: {{'privilege': sc,
                                                        'resource': nullif(trim(e[1]), '')}}))),
                  lambda g: g.privilege IS NOT NULL)
              WHEN x.app_kind = 'delegated' THEN
                list_transform({_scopes(_changed('DelegatedPermissionGrant.Scope'))},
                               lambda sc: {{'privilege': sc, 'resource': x.app_resource}})
              WHEN x.app_kind = 'application' THEN
                [{{'privilege': coalesce({_changed('AppRole.Value')},
                                         {_changed('AppRole.DisplayName')},
                                         CASE WHEN {_changed('AppRole.Id')} = '{DEFAULT_APP_ROLE}'
                                              THEN 'default access' END,
                                         {_changed('AppRole.Id')}),
                   'resource': x.app_resource}}]
         END AS app_grants,
         CASE x.app_kind
           WHEN 'application' THEN 'application'
           WHEN 'delegated' THEN 'delegated'
           WHEN 'consent' THEN 'delegated' END AS permission_type,
         CASE WHEN x.app_kind = 'consent' THEN nullif(trim({_consent_field('ConsentType')}[1]), '')
              WHEN x.app_kind = 'delegated'
                THEN {_changed('DelegatedPermissionGrant.ConsentType')} END AS consent_type,
         CASE WHEN x.base_activity LIKE '%group' THEN
                coalesce({_modified('Group.DisplayName')}, x.group_target ->> '$.displayName',
                         x.group_target ->> '$.id')
              ELSE coalesce({_modified('Role.DisplayName')}, x.role_target ->> '$.displayName',
                            {_modified('Role.TemplateId')}, x.role_target ->> '$.id')
         END AS privilege,
         CASE WHEN x.app_kind IS NOT NULL THEN x.app_subject
              ELSE coalesce(lower(x.user_target ->> '$.userPrincipalName'),
                            x.user_target ->> '$.id', x.sp_target ->> '$.id',
                            CASE WHEN x.base_activity NOT LIKE '%group'
                                 THEN x.group_target ->> '$.id' END,
                            CASE WHEN x.pim THEN x.actor END) END AS subject
  FROM (
  SELECT a.*,
         -- The API whose permission it is: the service principal target that is not
         -- the grantee (for an assignment to a user, the application itself).
         coalesce(list_filter(a.targets, lambda t: (t ->> '$.type') = 'ServicePrincipal'
                              AND (t ->> '$.id') IS DISTINCT FROM a.app_subject)[1]
                    ->> '$.displayName',
                  list_filter(a.targets, lambda t: (t ->> '$.type') = 'ServicePrincipal'
                              AND (t ->> '$.id') IS DISTINCT FROM a.app_subject)[1]
                    ->> '$.id') AS app_resource
  FROM (
  SELECT k.*,
         CASE
           WHEN k.app_kind = 'consent'
             THEN coalesce(nullif(trim({_consent_field('ClientId')}[1]), ''),
                           k.sp_target ->> '$.id')
           WHEN k.base_activity LIKE '%service principal' OR k.app_kind = 'delegated'
             THEN {_changed('ServicePrincipal.ObjectID')}
           WHEN k.app_kind = 'application'
             THEN coalesce(lower({_changed('User.UPN')}),
                           lower(k.user_target ->> '$.userPrincipalName'),
                           {_changed('User.ObjectID')}, k.user_target ->> '$.id',
                           {_changed('Group.ObjectID')}, k.group_target ->> '$.id')
         END AS app_subject
  FROM (
  SELECT j.*,
         CASE WHEN j.base_activity LIKE '%app role assignment%' THEN 'application'
              WHEN j.base_activity LIKE '%delegated permission grant' THEN 'delegated'
              WHEN j.base_activity = 'Consent to application' THEN 'consent' END AS app_kind
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
  ) j) k) a) x
) e0) e2, range(1, CAST(greatest(len(e2.grants), 1) AS BIGINT) + 1) AS t(i)
) e
"""
