"""Azure Monitor records → privileges and actions: the Azure Activity log, Entra ID audit
logs and AKS audit events, as diagnostic settings export them (Event Hub, storage
account: `{"records": [...]}` or one per line) and as the APIs list them.

One adapter reads all three, because diagnostic settings give them the same top-level
keys (`time`, `resourceId`, `operationName`, `category`, `properties`) and one Event Hub
often carries them mixed; each record is mapped by its `category`:

* **AKS audit** (`kube-audit`, `kube-audit-admin`): `properties.log` is one native
  Kubernetes audit event as a JSON string. It is parsed and mapped exactly as a native
  audit log (kube.py: RoleBinding/ClusterRoleBinding create/update/patch → grant per
  subject, delete → revoke, every other request an action "<verb> <resource>"); the
  cluster (`resourceId`) is kept in `extra.cluster`. A `log` that is not a JSON object is
  quarantined with that reason.
* **Entra ID audit** (`AuditLogs`, or Graph `directoryAudits` records with
  `activityDisplayName`, `initiatedBy`, `targetResources`): entra.py.
* **Azure Activity log** (every other category; also the REST / `az monitor activity-log
  list` form with `eventDataId`, `caller`, `operationName.value`, `status.value`, and
  Log Analytics / Sentinel exports of the AzureActivity and AuditLogs tables:
  `TimeGenerated`, `OperationNameValue`, `Caller`, `Properties_d`; `ActivityDisplayName`,
  `InitiatedBy`, `TargetResources` as JSON text):
  - a succeeded `Microsoft.Authorization/roleAssignments/write` **grants** the role
    assignment's role to its principal, `.../delete` **revokes** it. subject =
    `principalId`, privilege = the role's name for well-known built-in role ids
    (`BUILTIN_ROLES`: Owner, Contributor, User Access Administrator, ...), else the
    role definition id (its GUID); both read from `properties.requestbody` (write) or
    `properties.responseBody` (delete, or a write logged without request body), as a
    JSON string or object. The raw `roleDefinitionId` is kept in
    `extra.role_definition_id`, the assignment's scope in `extra.scope`. A succeeded
    `Microsoft.Authorization/elevateAccess/action` ("Assigns the caller to User Access
    Administrator role": a Global Administrator taking over every subscription) grants
    User Access Administrator to the caller itself at scope `/`. A role
    assignment applies to its scope, not to one resource provider, so `system` is
    empty ("any system"). The record has no place for an approval:
    `extra.source_carries_approval` is false (controls/grant_controls.sql).
  - sign-in records (`SignInLogs`, `NonInteractiveUserSignInLogs`, ...) are actions
    ("Sign-in activity") of `properties.userPrincipalName`; a service principal's or
    managed identity's sign-in (`ServicePrincipalSignInLogs`,
    `ManagedIdentitySignInLogs`) names no user and is the action of
    `properties.servicePrincipalId` (actor_type service); id `properties.id`, result
    `failure` for a non-zero error code (`resultType`);
  - a role assignment call whose record names no principal (the `Start` record of a
    write, a failed call) and everything else is an **action**: action =
    `operationName` as given, system = its resource provider lower-cased
    (`microsoft.compute`), object = `resourceId`, result `failure` when `resultType` /
    `status` says Failure/Failed.

**Principals** (`actor`, and `subject` where the record names a user): a user is its
UPN lower-cased (`claims.upn`/`name`, `caller`); an application (app-only token) is its
service principal's object id (`claims.objectidentifier`, `caller`), the form a role
assignment's `principalId` and Entra's `initiatedBy.app.servicePrincipalId` take, so the
same principal is one account across the three logs. The raw `identity`/`claims` are
kept in `extra`. A record without claims or caller is the call of
`identity.authorization.evidence.principalId`, the object id whose role assignment let it
act. A platform event with no caller at all (ResourceHealth, ServiceHealth,
Autoscale) is an action of the system account `azure-platform`. A storage account's
resource log (StorageRead/Write/Delete) names an OAuth caller as `identity.requester`
(`upn`, else `objectId`) and an anonymous one by `identity.type` Anonymous (actor
`anonymous`).

**Event ids**: `eventDataId` (REST form); diagnostic-settings Activity records carry
none (their `correlationId` is shared by the Start and the Success record of one call),
so their id is left to the store's stable content hash; Entra: `properties.id`/`id`; AKS:
the audit event's `auditID`. A record without time or operation is quarantined with that
reason.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb

from auditlog.ingest.staging import DOCS, Staged, extract, key, split_by_kind, text
from auditlog.ingest.standard import entra, kube
from auditlog.sqltext import sql_string

NAME = "azure"

# Built-in Azure RBAC role definition ids and their names (learn.microsoft.com,
# "Azure built-in roles"); the ids are the same in every tenant.
BUILTIN_ROLES: tuple[tuple[str, str], ...] = (
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"),
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"),
    ("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator"),
    ("f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator"),
    ("00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator"),
    ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner"),
    ("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Virtual Machine Administrator Login"),
    ("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b", "Azure Kubernetes Service RBAC Cluster Admin"),
)

AKS_CATEGORIES = ("kube-audit", "kube-audit-admin")

# `elevateAccess/action` ("Assigns the caller to User Access Administrator role") gives
# the caller that role at the root scope "/" of the tenant.
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"

_UPN = '$.claims."http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"'
_NAME = '$.claims."http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"'
_OID = '$.claims."http://schemas.microsoft.com/identity/claims/objectidentifier"'

FIELDS = {
    "time": key("time"),
    "event_timestamp": key("eventTimestamp"),
    "category": key("category"),
    "operation_field": key("operationName"),
    "result_type": key("resultType"),
    "result_signature": key("resultSignature"),
    "status": key("status"),
    "resource_id": key("resourceId"),
    "caller_ip": key("callerIpAddress"),
    "client_ip": "$.httpRequest.clientIpAddress",
    "caller": key("caller"),
    "identity": key("identity"),
    "claims": key("claims"),
    "id_upn": "$.identity" + _UPN[1:],
    "id_name": "$.identity" + _NAME[1:],
    "id_oid": "$.identity" + _OID[1:],
    "id_appid": "$.identity.claims.appid",
    # The role assignment that let the caller act names the caller's object id; the
    # only trace of the caller when a record carries no claims.
    "evidence_principal": "$.identity.authorization.evidence.principalId",
    "evidence_type": "$.identity.authorization.evidence.principalType",
    # Resource logs of a storage account (StorageRead/Write/Delete) name an OAuth caller
    # as identity.requester; an anonymous one by identity.type.
    "storage_upn": "$.identity.requester.upn",
    "storage_oid": "$.identity.requester.objectId",
    "storage_auth": "$.identity.type",
    "rest_upn": _UPN,
    "rest_oid": _OID,
    "rest_appid": "$.claims.appid",
    "correlation_id": key("correlationId"),
    "event_data_id": key("eventDataId"),
    "tenant_id": key("tenantId"),
    "properties": key("properties"),
    "signin_upn": "$.properties.userPrincipalName",
    "signin_id": "$.properties.id",
    # A service principal's or managed identity's own sign-in names no user: the
    # application signed in, by its service principal object id.
    "signin_sp": "$.properties.servicePrincipalId",
    "request_body": "$.properties.requestbody",
    "response_body": "$.properties.responseBody",
    "graph_activity": key("activityDisplayName"),
    # Log Analytics tables as exported from a workspace (Sentinel: AzureActivity,
    # AuditLogs, SigninLogs), PascalCase columns.
    "la_time": key("TimeGenerated"),
    "la_op": key("OperationNameValue"),
    "la_status": key("ActivityStatusValue"),
    "la_caller": key("Caller"),
    "la_ip": key("CallerIpAddress"),
    "la_id": key("EventDataId"),
    "la_resource": key("_ResourceId"),
    "la_resource_id": key("ResourceId"),
    "la_category_value": key("CategoryValue"),
    "la_category": key("Category"),
    "la_props": key("Properties_d"),
    "la_activity": key("ActivityDisplayName"),
    "la_activity_time": key("ActivityDateTime"),
    "la_initiated": key("InitiatedBy"),
    "la_targets": key("TargetResources"),
    "la_details": key("AdditionalDetails"),
    "la_entra_id": key("Id"),
    "la_result": key("Result"),
    "la_result_reason": key("ResultReason"),
    "la_logged": key("LoggedByService"),
    "la_op_type": key("AADOperationType"),
}

# Data lakes (Panther's) hand diagnostic-settings records back with their top-level keys
# lower-cased (`operationname`, `resourceid`, `calleripaddress`); those fields are read
# under either name. (Not the Log Analytics columns: lower-cased, some would be other
# forms' keys, `Id` and `Category`.)
LOWERED = {f"{name}_lc": path.lower() for name, path in FIELDS.items()
           if not name.startswith("la_") and path.startswith("/") and path != path.lower()}
FIELDS_SQL = (
    "SELECT * EXCLUDE (" + ", ".join(LOWERED) + ") REPLACE ("
    + ", ".join(f"coalesce({n.removesuffix('_lc')}, {n}) AS {n.removesuffix('_lc')}"
                for n in LOWERED) + ") FROM ({extracted})")

EXTRA_ACTIVITY = ["actor_raw", "category", "operation_name", "result_type", "result_signature",
                  "correlation_id", "tenant_id", "identity", "claims", "properties",
                  "role_definition_id", "scope", "principal_type",
                  "source_carries_approval"]
_OWN = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "ticket", "expires_at", "source_ip", *EXTRA_ACTIVITY,
                   *entra.EXTRA],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system", "target_account",
                "object", "channel", "result", "source_ip", *EXTRA_ACTIVITY, *entra.EXTRA,
                "cluster"],
}
# Every kind's columns: this module's, then the Kubernetes mapping's not yet named.
COLUMNS = {
    kind: [*names, *(c for c in kube.COLUMNS[kind] if c not in names)]
    for kind, names in _OWN.items()
}


class AzureMonitor:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        diagnostic = {"time", "resourceid", "operationname", "category"} <= {
            k.lower() for k in keys}
        rest = {"eventDataId", "operationName", "eventTimestamp"} <= keys
        workspace = {"TimeGenerated", "OperationNameValue"} <= keys or {
            "TimeGenerated", "ActivityDisplayName", "InitiatedBy", "TargetResources"} <= keys
        return diagnostic or rest or workspace or entra.graph_matches(keys)

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _az_roles AS {_roles_values()}")
        con.execute("CREATE OR REPLACE TEMP TABLE _az_fields AS "
                    + FIELDS_SQL.format(extracted=extract({**FIELDS, **LOWERED})))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _az_main AS {MAPPED_SQL}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _az_aks_docs AS {AKS_DOCS_SQL}")
        con.execute("CREATE OR REPLACE TEMP TABLE _az_aks_fields AS "
                    + extract(kube.FIELDS, "_az_aks_docs"))
        con.execute("CREATE OR REPLACE TEMP TABLE _az_aks_events AS "
                    + kube.events_sql("_az_aks_fields"))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _az_aks AS {AKS_MAPPED_SQL}")
        con.execute("CREATE OR REPLACE TEMP TABLE _az_mapped AS "
                    "SELECT * FROM _az_main UNION ALL BY NAME SELECT * FROM _az_aks")
        for table in ("_az_roles", "_az_fields", "_az_main", "_az_aks_docs",
                      "_az_aks_fields", "_az_aks_events", "_az_aks"):
            con.execute(f"DROP TABLE {table}")
        # Only an AKS request logged when received has no result (kube.mapped_sql); every
        # other record's is success or failure, so none is left unknown by this.
        return [replace(s, no_default=kube.NO_DEFAULT) for s in
                split_by_kind(con, "_az_mapped", NAME, COLUMNS, default_kind="actions")]


def _roles_values() -> str:
    rows = ", ".join(f"({sql_string(i)}, {sql_string(n)})" for i, n in BUILTIN_ROLES)
    return f"SELECT * FROM (VALUES {rows}) AS t(role_id, role_name)"


def _is_aks(category: str) -> str:
    listed = ", ".join(sql_string(c) for c in AKS_CATEGORIES)
    return f"coalesce({category} IN ({listed}), false)"


# The AKS records' audit events as documents of their own (`_raw` = the event's text), for
# the Kubernetes mapping; `_outer` keeps the record as delivered.
AKS_DOCS_SQL = f"""
SELECT d._row, d._loc, (d._raw ->> '$.properties.log') AS _raw, d._raw AS _outer,
       CASE WHEN d._bad IS NOT NULL THEN d._bad
            WHEN json_type(TRY_CAST(d._raw ->> '$.properties.log' AS JSON))
                 IS DISTINCT FROM 'OBJECT'
              THEN 'AKS audit record whose properties.log is not a JSON audit event'
       END AS _bad,
       d._raw ->> '$.resourceId' AS cluster
FROM {DOCS} d
WHERE d._bad IS NULL AND {_is_aks("d._raw ->> '$.category'")}
"""

# The Kubernetes mapping of the AKS events, each row given back its record as delivered.
AKS_MAPPED_SQL = f"""
SELECT m.* REPLACE (a._outer AS _raw), a.cluster
FROM ({kube.mapped_sql('_az_aks_events')}) m
JOIN _az_aks_docs a ON a._row = m._row
"""

# `operationName` and `status`/`category` are strings in diagnostic settings, objects with
# `value` in the REST form.
def _value(column: str) -> str:
    return (f"nullif(trim(CASE WHEN json_type({column}) = 'OBJECT' THEN {column} ->> '$.value' "
            f"ELSE {column} ->> '$' END), '')")


# A value logged as a JSON string or as an object/array, as JSON (Log Analytics exports
# write nested columns as JSON text).
def _nested(column: str) -> str:
    return (f"CASE WHEN json_type({column}) = 'VARCHAR' THEN TRY_CAST({column} ->> '$' AS JSON) "
            f"ELSE {column} END")


# A body logged as a JSON string or as an object, as JSON (NULL when neither).
def _body(column: str) -> str:
    return (f"CASE WHEN json_type({column}) = 'OBJECT' THEN {column} "
            f"WHEN json_type({column}) = 'VARCHAR' THEN TRY_CAST({column} ->> '$' AS JSON) END")


MAPPED_SQL = f"""
WITH base AS (
  SELECT f.*,
         coalesce({_value('f.category')}, {text('f.la_category_value')},
                  {text('f.la_category')}) AS cat,
         coalesce({_value('f.operation_field')}, {text('f.la_op')}) AS op,
         coalesce({_value('f.status')}, {text('f.result_type')}, {text('f.la_status')})
           AS outcome,
         coalesce({text('f.time')}, {text('f.event_timestamp')}, {text('f.la_time')}) AS at,
         coalesce(f.graph_activity IS NOT NULL AND f.time IS NULL, false) AS graph,
         coalesce(f.la_activity IS NOT NULL AND f.la_time IS NOT NULL, false) AS workspace_entra,
         {_nested('f.la_props')} AS la_properties
  FROM _az_fields f
  WHERE f._bad IS NOT NULL OR NOT {_is_aks(_value('f.category'))}),
named AS (
  SELECT b.*,
         coalesce({text('id_upn')}, {text('rest_upn')},
                        CASE WHEN {text('caller')} LIKE '%@%' THEN {text('caller')} END,
                        CASE WHEN {text('la_caller')} LIKE '%@%' THEN {text('la_caller')} END,
                        CASE WHEN {text('id_name')} LIKE '%@%' THEN {text('id_name')} END,
                        {text('signin_upn')}, {text('storage_upn')}) AS user_raw,
         coalesce({text('id_oid')}, {text('rest_oid')}, {text('storage_oid')},
                        {text('caller')},
                        {text('la_caller')}, {text('signin_sp')},
                        {text('id_appid')}, {text('rest_appid')},
                        CASE WHEN json_type(b.identity) = 'VARCHAR'
                             THEN {text('b.identity')} END) AS app_raw,
         {text('b.evidence_principal')} AS evidence_raw
  FROM base b),
records AS (
  SELECT b.*,
         coalesce(b.graph OR b.workspace_entra OR b.cat = 'AuditLogs', false) AS is_entra,
         -- Principals in normal form: lower-cased (UPNs and object ids are
         -- case-insensitive); the form written is kept as actor_raw.
         lower(b.user_raw) AS user_principal, lower(b.app_raw) AS app_principal,
         coalesce({_body('b.request_body')}, {_body("b.la_properties -> '$.requestbody'")})
           AS req,
         coalesce({_body('b.response_body')}, {_body("b.la_properties -> '$.responseBody'")})
           AS resp
  FROM named b),
activity AS (
  SELECT r.*,
         coalesce(r.user_principal, r.app_principal, lower(r.evidence_raw),
                  CASE WHEN {text('r.storage_auth')} = 'Anonymous' THEN 'anonymous' END,
                  'azure-platform')
           AS actor,
         CASE WHEN r.user_principal IS NULL AND r.app_principal IS NOT NULL THEN 'service'
              WHEN r.user_principal IS NULL AND r.evidence_raw IS NOT NULL
                THEN CASE WHEN {text('r.evidence_type')} = 'User' THEN NULL ELSE 'service' END
              WHEN r.user_principal IS NULL AND {text('r.storage_auth')} = 'Anonymous'
                THEN NULL
              WHEN r.user_principal IS NULL THEN 'system' END AS actor_type,
         (lower(coalesce(r.outcome, '')) IN ('failure', 'failed')
          -- Sign-in records give an error code as resultType, 0 for success.
          OR (r.cat LIKE '%SignInLogs' AND coalesce(r.outcome, '0') NOT IN ('0', 'Success')))
           AS failed,
         lower(coalesce(r.outcome, '')) IN ('success', 'succeeded') AS succeeded,
         upper(r.op) AS op_upper,
         coalesce(r.req -> '$.Properties', r.req -> '$.properties',
                  r.resp -> '$.properties', r.resp -> '$.Properties') AS assignment
  FROM records r WHERE NOT r.is_entra),
assignments AS (
  SELECT a.*,
         CASE WHEN a.elevate THEN nullif(a.actor, 'azure-platform')
              ELSE coalesce(a.assignment ->> '$.PrincipalId', a.assignment ->> '$.principalId')
         END AS principal_id,
         CASE WHEN a.elevate THEN '{USER_ACCESS_ADMINISTRATOR}'
              ELSE coalesce(a.assignment ->> '$.RoleDefinitionId',
                            a.assignment ->> '$.roleDefinitionId')
         END AS role_definition_id,
         CASE WHEN a.elevate THEN '/'
              ELSE coalesce(a.assignment ->> '$.Scope', a.assignment ->> '$.scope') END AS scope,
         coalesce(a.assignment ->> '$.PrincipalType', a.assignment ->> '$.principalType')
           AS principal_type,
         CASE a.op_upper
           WHEN 'MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE' THEN 'grant'
           WHEN 'MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/DELETE' THEN 'revoke'
           WHEN 'MICROSOFT.AUTHORIZATION/ELEVATEACCESS/ACTION' THEN 'grant'
         END AS assignment_operation
  FROM (SELECT *, upper(op) = 'MICROSOFT.AUTHORIZATION/ELEVATEACCESS/ACTION' AS elevate
        FROM activity) a),
mapped AS (
  SELECT s.*,
         CASE WHEN s._bad IS NOT NULL THEN s._bad
              WHEN s.at IS NULL THEN 'Azure Activity record without time'
              WHEN s.op IS NULL THEN 'Azure Activity record without operationName'
         END AS reason,
         (s.assignment_operation IS NOT NULL AND s.succeeded
          AND s.principal_id IS NOT NULL AND s.role_definition_id IS NOT NULL) AS is_grant,
         lower(regexp_extract(s.role_definition_id, '([0-9A-Fa-f-]{{36}})$', 1)) AS role_guid
  FROM assignments s)
SELECT
  m._row, m._loc, m._raw, m.reason AS _bad,
  CASE WHEN m.is_grant AND m.reason IS NULL THEN 'privileges' ELSE 'actions' END AS _kind,
  coalesce({text('m.event_data_id')}, {text('m.la_id')},
           CASE WHEN m.cat LIKE '%SignInLogs' THEN {text('m.signin_id')} END) AS event_id,
  m.at AS ts,
  m.actor,
  m.actor_type,
  nullif(CASE WHEN m.user_principal IS NOT NULL THEN m.user_raw ELSE m.app_raw END, m.actor)
    AS actor_raw,
  CASE WHEN m.is_grant THEN lower(m.principal_id) END AS subject,
  CASE WHEN m.is_grant THEN coalesce(r.role_name, nullif(m.role_guid, ''),
                                     m.role_definition_id) END AS privilege,
  m.assignment_operation AS operation,
  CASE WHEN m.is_grant THEN NULL
       WHEN m.cat LIKE '%SignInLogs' THEN 'entra'
       ELSE coalesce(lower(split_part(m.op, '/', 1)), 'azure') END AS system,
  CAST(NULL AS VARCHAR) AS ticket,
  CAST(NULL AS VARCHAR) AS expires_at,
  m.op AS action,
  CAST(NULL AS VARCHAR) AS target_account,
  coalesce({text('m.resource_id')}, {text('m.la_resource')}, {text('m.la_resource_id')})
    AS object,
  'api' AS channel,
  CASE WHEN m.failed THEN 'failure' ELSE 'success' END AS result,
  coalesce({text('m.caller_ip')}, {text('m.client_ip')}, {text('m.la_ip')}) AS source_ip,
  m.cat AS category,
  m.op AS operation_name,
  m.outcome AS result_type,
  {text('m.result_signature')} AS result_signature,
  {text('m.correlation_id')} AS correlation_id,
  {text('m.tenant_id')} AS tenant_id,
  m.identity, m.claims, coalesce(m.properties, m.la_properties) AS properties,
  m.role_definition_id, m.scope, m.principal_type,
  CASE WHEN m.is_grant THEN false END AS source_carries_approval
FROM mapped m
LEFT JOIN _az_roles r ON r.role_id = m.role_guid
UNION ALL BY NAME
{entra.mapped_sql('records')}
"""
