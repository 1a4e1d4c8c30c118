"""Office 365 Management Activity API records (the unified audit log's `AuditData`: what
the Management Activity API's content blobs hold, and what SIEM collectors write out,
one per line or as an array) → actions, and the directory's role and group changes →
privileges.

Every record has the common schema: `Id`, `RecordType`, `CreationTime` (UTC, written
without a zone), `Operation`, `OrganizationId`, `UserType`, `UserKey`, `Workload`,
`UserId`, `ClientIP`, `ObjectId`, `ResultStatus`; the rest depends on the workload
(Exchange `Parameters`, SharePoint `SiteUrl`, Azure AD `Actor`/`Target`/
`ModifiedProperties`, ...). The record is kept verbatim as the row's source record, and
those fields in `extra`.

* Each record is one **action**: action = `Operation` (Azure AD's operations end in a
  period, "Add member to role.", which is dropped so that they read as the Entra audit
  log names them; the operation as written is in `extra.operation_raw`), system = `entra`
  for the `AzureActiveDirectory` workload (the same directory as entra.py's records),
  else `o365/<workload>` lower-cased (`o365/exchange`, `o365/sharepoint`), object =
  `ObjectId`, target_account = `ObjectId` when it is a user's name (an email-like
  UPN), lower-cased.
* A successful Azure AD "Add member to role." / "Add member to group." (and their
  remove forms, as entra.py lists them) **grants** (revokes) the role or group named in
  `ModifiedProperties` (`Role.DisplayName`, `Group.DisplayName`) to the user the record
  is about (`ObjectId`, lower-cased); without either it stays an action. Office 365
  records carry no approval: `extra.source_carries_approval` = false. Likewise "Add app
  role assignment to service principal." / "... grant to user." (and their "Remove"
  forms) grant (revoke) the app role (`AppRole.Value`) to `ServicePrincipal.ObjectID` /
  the user (`User.UPN`), as entra.py reads them; delegated grants and consents, which
  name several scopes, stay actions here.

actor = `UserId` (lower-cased when it is a UPN), else `UserKey`; actor_type from
`UserType` (number or name): Regular/Admin `human`, System/CustomPolicy/SystemPolicy
`system`, Application/ServicePrincipal `service`, and `system` for the `NT AUTHORITY\\`
accounts Exchange's own services act as. result = `failure` when `ResultStatus` says
Failed/Failure/False, else `success` (many workloads write none). source_ip =
`ClientIP` (else `ClientIPAddress`, `ActorIpAddress`) without its port or brackets
(`[10.1.2.3]:12345` → `10.1.2.3`); a host name (`localhost`) is no address: empty, the
value kept in `extra.client_ip`. event_id = `Id`.

Keys are read whatever their case: data lakes (Panther's) return the records with them
lower-cased (`creationtime`, `userid`, `clientip`).

Quarantined: a record without `CreationTime`, without `Operation`, or naming no user.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import Staged, extract, key, split_by_kind, text
from auditlog.ingest.standard import entra
from auditlog.sqltext import sql_list

NAME = "o365"
AAD = "AzureActiveDirectory"

FIELDS = {
    "id": key("Id"),
    "creation_time": key("CreationTime"),
    "operation": key("Operation"),
    "workload": key("Workload"),
    "record_type": key("RecordType"),
    "user_id": key("UserId"),
    "user_key": key("UserKey"),
    "user_type": key("UserType"),
    "result_status": key("ResultStatus"),
    "client_ip": key("ClientIP"),
    "client_ip_address": key("ClientIPAddress"),
    "actor_ip": key("ActorIpAddress"),
    "object_id": key("ObjectId"),
    "organization_id": key("OrganizationId"),
    "modified": key("ModifiedProperties"),
    "extended": key("ExtendedProperties"),
    "parameters": key("Parameters"),
    "actors": key("Actor"),
    "targets": key("Target"),
    "application_id": key("ApplicationId"),
    "site_url": key("SiteUrl"),
}

# Data lakes (Panther's) hand the records back with their keys lower-cased
# (`creationtime`, `userid`, `clientip`): every field is read under either name.
_TOP_KEYS = {name: path.removeprefix("/") for name, path in FIELDS.items()}
LOWERED = {f"{name}_lc": key(k.lower()) for name, k in _TOP_KEYS.items() if k != k.lower()}
FIELDS_SQL = (
    "SELECT * EXCLUDE (" + ", ".join(LOWERED) + ") REPLACE ("
    + ", ".join(f"coalesce({n.removesuffix('_lc')}, {n}) AS {n.removesuffix('_lc')}"
                for n in LOWERED) + ") FROM ({extracted})")

EXTRA = ["operation_raw", "workload_name", "record_type_value", "user_key_value",
         "user_type_value", "result_status_value", "client_ip", "organization_id",
         "modified_properties", "extended_properties", "parameters", "actors", "targets",
         "application_id", "site_url"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "actor_type", "subject", "privilege",
                   "operation", "source_ip", "source_carries_approval", *EXTRA],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system",
                "target_account", "object", "result", "source_ip", *EXTRA],
}

# The address inside ClientIP's forms: `a.b.c.d`, `a.b.c.d:port`, `[v6]`, `[v6]:port`,
# a bare IPv6 (`2001:db8::1`, `::ffff:10.1.2.3`).
_V4 = "[0-9]{1,3}(\\.[0-9]{1,3}){3}"
_V6 = "[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){1,7}(:" + _V4 + ")?"


def _address(value: str) -> str:
    bare = f"regexp_replace({value}, '^\\[(.*)\\](:[0-9]+)?$', '\\1')"
    return (f"CASE WHEN regexp_full_match({bare}, '{_V4}(:[0-9]+)?') "
            f"THEN regexp_extract({bare}, '^{_V4}') "
            f"WHEN regexp_full_match({bare}, '{_V6}') AND contains({bare}, ':') "
            f"THEN {bare} END")


def _modified(name: str, side: str = "NewValue") -> str:
    # ModifiedProperties' values are often JSON text themselves ("\"Global Administrator\"").
    return (f"nullif(trim(list_filter(mods, lambda m: (m ->> '$.Name') = '{name}')[1] "
            f"->> '$.{side}', ' \"'), '')")


def _changed(name: str) -> str:
    # What a change set, or for a removal took away (OldValue).
    return f"coalesce({_modified(name)}, {_modified(name, 'OldValue')})"


# App role assignments (application permissions), as entra.py reads them: one
# privilege each (delegated grants and consents name several scopes: actions here).
_APP_ROLE_GRANTS = ("Add app role assignment to service principal",
                    "Add app role assignment grant to user")
_APP_ROLE_REVOKES = ("Remove app role assignment from service principal",
                     "Remove app role assignment from user")


class Office365:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        # The common schema's own names; RecordType is the Management Activity API's.
        lowered = {k.lower() for k in keys}
        return {"creationtime", "recordtype"} <= lowered or {
            "creationtime", "operation", "workload"} <= lowered

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute("CREATE OR REPLACE TEMP TABLE _o365_fields AS "
                    + FIELDS_SQL.format(extracted=extract({**FIELDS, **LOWERED})))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _o365_mapped AS {MAPPED_SQL}")
        con.execute("DROP TABLE _o365_fields")
        return split_by_kind(con, "_o365_mapped", NAME, COLUMNS, default_kind="actions")


MAPPED_SQL = f"""
WITH records AS (
  SELECT f.*,
         {text('f.creation_time')} AS time_text,
         {text('f.operation')} AS op,
         {text('f.workload')} AS wl,
         coalesce({text('f.user_id')}, {text('f.user_key')}) AS user_text,
         coalesce({text('f.client_ip')}, {text('f.client_ip_address')}, {text('f.actor_ip')})
           AS ip_text,
         {text('f.object_id')} AS obj,
         lower(coalesce({text('f.user_type')}, '')) AS utype,
         lower(coalesce({text('f.result_status')}, '')) AS status,
         CASE WHEN json_type(f.modified) = 'ARRAY' THEN TRY_CAST(f.modified AS JSON[])
              ELSE []::JSON[] END AS mods
  FROM _o365_fields f),
judged AS (
  SELECT r.*,
         CASE WHEN _bad IS NOT NULL THEN _bad
              WHEN time_text IS NULL THEN 'Office 365 audit record without CreationTime'
              WHEN op IS NULL THEN 'Office 365 audit record without Operation'
              WHEN user_text IS NULL THEN 'Office 365 audit record without UserId'
         END AS reason,
         status IN ('failed', 'failure', 'false') AS failed,
         CASE WHEN wl = '{AAD}' THEN regexp_replace(op, '\\.$', '') ELSE op END AS action_name,
         CASE WHEN regexp_full_match(coalesce(obj, ''), '[^@\\s/\\\\]+@[^@\\s/\\\\]+')
              THEN lower(obj) END AS obj_user,
         CASE WHEN regexp_full_match(user_text, '[^@\\s]+@[^@\\s]+') THEN lower(user_text)
              ELSE user_text END AS actor_name
  FROM records r),
classified AS (
  SELECT j.*,
         CASE WHEN reason IS NULL AND NOT failed AND wl = '{AAD}' THEN
           CASE WHEN list_contains({sql_list(list(entra.GRANTS + _APP_ROLE_GRANTS))},
                                   action_name) THEN 'grant'
                WHEN list_contains({sql_list(list(entra.REVOKES + _APP_ROLE_REVOKES))},
                                   action_name) THEN 'revoke'
           END END AS grant_op,
         CASE WHEN action_name LIKE '%app role assignment%'
                THEN coalesce({_changed('AppRole.Value')}, {_changed('AppRole.DisplayName')},
                              {_changed('AppRole.Id')})
              WHEN action_name LIKE '%group' THEN {_modified('Group.DisplayName')}
              ELSE {_modified('Role.DisplayName')} END AS granted,
         CASE WHEN action_name LIKE '%app role assignment%service principal'
                THEN {_changed('ServicePrincipal.ObjectID')}
              WHEN action_name LIKE '%app role assignment%user'
                THEN coalesce(lower({_changed('User.UPN')}), obj_user,
                              {_changed('User.ObjectID')})
              ELSE obj_user END AS grantee
  FROM judged j)
SELECT
  _row, _loc, _raw, reason AS _bad,
  CASE WHEN grant_op IS NOT NULL AND granted IS NOT NULL AND grantee IS NOT NULL
       THEN 'privileges' ELSE 'actions' END AS _kind,
  {text('id')} AS event_id,
  -- The Management Activity API writes UTC without a zone.
  CASE WHEN regexp_full_match(time_text, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}})?(\\.[0-9]+)?')
       THEN time_text || 'Z' ELSE time_text END AS ts,
  actor_name AS actor,
  CASE WHEN actor_name ILIKE 'NT AUTHORITY\\%' THEN 'system'
       WHEN utype IN ('0', '2', 'regular', 'admin') THEN 'human'
       WHEN utype IN ('4', '7', '8', 'system', 'custompolicy', 'systempolicy') THEN 'system'
       WHEN utype IN ('5', '6', 'application', 'serviceprincipal') THEN 'service'
  END AS actor_type,
  grantee AS subject,
  granted AS privilege,
  grant_op AS operation,
  false AS source_carries_approval,
  action_name AS action,
  CASE WHEN wl = '{AAD}' THEN 'entra' ELSE 'o365/' || lower(coalesce(wl, 'unknown')) END
    AS system,
  obj_user AS target_account,
  obj AS object,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  {_address('ip_text')} AS source_ip,
  CASE WHEN {_address('ip_text')} IS NULL THEN ip_text END AS client_ip,
  CASE WHEN action_name <> op THEN op END AS operation_raw,
  wl AS workload_name,
  record_type AS record_type_value,
  {text('user_key')} AS user_key_value,
  user_type AS user_type_value,
  {text('result_status')} AS result_status_value,
  {text('organization_id')} AS organization_id,
  modified AS modified_properties,
  extended AS extended_properties,
  parameters, actors, targets,
  {text('application_id')} AS application_id,
  {text('site_url')} AS site_url
FROM classified
"""
