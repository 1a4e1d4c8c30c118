"""Google Cloud Audit Logs (Cloud Logging `LogEntry` records whose `protoPayload` is an
`AuditLog`) → privileges and actions, GKE audit events included.

Records come as exported by Cloud Logging (JSON Lines, a JSON array, gzipped or not;
`gcloud logging read --format=json`, a sink to Cloud Storage, Pub/Sub payloads); the
readers unwrap them into `_docs` (staging.DOCS). One record is one row, except an IAM
policy change or a role binding naming several members, which is one row per member:

* **IAM policy deltas.** `SetIamPolicy` on any service (projects, folders, organizations,
  buckets, service accounts, ...) logs what changed as
  `serviceData.policyDelta.bindingDeltas` (newer services: `metadata.policyDelta`, and
  BigQuery `metadata.datasetChange.bindingDeltas`). Each delta is a **privileges** row:
  `ADD` → grant, `REMOVE` → revoke; subject = the member in normal form (below),
  privilege = the role (`roles/owner`, `projects/p/roles/custom`), `extra.scope` = the
  resource whose policy changed (`resourceName`). A policy applies to that resource and
  everything below it, not to the one service that logged it, so `system` is left empty
  ("any system", as for CloudTrail's IAM). A `SetIamPolicy` logged without deltas (only
  `request.policy`, the whole new policy) does not say who gained or lost what: it is an
  action, the policy kept in `extra.request`.
* **GKE role bindings** (`serviceName` `k8s.io`, `methodName`
  `io.k8s.authorization.rbac.v1.[cluster]rolebindings.create|update|patch|delete`): as
  for native Kubernetes audit (k8s.py), a successful create/update/patch grants the bound
  role (`roleRef.name`, from `response` as stored, else `request`) to each subject, a
  delete revokes it; a ServiceAccount subject is `system:serviceaccount:<ns>:<name>`. A
  request logged without the binding (a delete answered by a bare Status) stays an
  action. Every other GKE request is an action named as the Kubernetes adapter names it:
  `<verb> <resource>[/<subresource>]` (`create pods/exec`), the bare verb for
  non-resource URLs (`get`), object = `resourceName`.
* **Service-account keys** (`google.iam.admin.v1.CreateServiceAccountKey`,
  `DeleteServiceAccountKey`, `UploadServiceAccountKey`, and `GenerateAccessToken`,
  `SignBlob`, `SignJwt`, `GenerateIdToken` on `iamcredentials`) are **actions** whose
  `target_account` is the service account: a credential, not a grant (as in CloudTrail).
* Everything else is an **action**: action = `methodName`, system = `serviceName`,
  object = `resourceName`.
* A failed call (`status.code` set and not 0) has result `failure`, its code and
  message kept in `extra`; a failed policy change granted nothing, so it is an action.

**Who acted** (`actor`): `authenticationInfo.principalEmail` (a user's or service
account's email, or for GKE the Kubernetes user, e.g. `system:serviceaccount:ns:sa`);
when missing (workload identity federation, some data-access logs),
`principalSubject` in member normal form (as written in `extra.actor_raw`); when that is
missing too (a caller's email redacted), the first authority of
`serviceAccountDelegationInfo` (its `firstPartyPrincipal.principalEmail`, else its
`principalSubject`); for a System Event entry (`logName` .../system_event) naming no one,
`system@google.com`, the account Google's own systems act as there (actor_type
`system`). The whole `authenticationInfo` is kept in `extra.authentication`.
**Source IP** = `requestMetadata.callerIp` when it is an address; the words Cloud Audit
Logs write where there is none to give (`private`, `gce-internal-ip`) leave it empty and
are kept in `extra.caller_ip`. **Members** (`user:alice@x.com`,
`serviceAccount:sa@p.iam...`, `group:g@x.com`, `domain:x.com`,
`deleted:user:bob@x.com?uid=123`) are named by their email or domain: the type prefix (and `deleted:`) is dropped, so the subject of a grant
is the same account id as the actor of its actions; the raw member is kept in
`extra.member`, its type in `extra.member_type`. `allUsers`, `allAuthenticatedUsers`
and `principal://` / `principalSet://` identities stay as they are.

**Ids and times.** event_id = `insertId` (`insertid`, `logname`, `receivetimestamp` as
data lakes such as Panther's lower-case them are read too); a record of N members stages N rows sharing
its `_row`, located `line 5 delta 2` (GKE: `subject 2`) and identified `insertId`
(first) and `insertId/k` (k-th, k >= 2). ts = `timestamp`, else `receiveTimestamp`;
Cloud Logging writes UTC, and a time rendered without its zone (some exports drop the
`Z`) is read as UTC. Source fields not mapped stay in `extra` (`log_name`, `severity`,
`resource` type and labels, `request`, `response`, `operation`, `labels`, ...).

Cloud Audit Logs have no field for a grant's approval ticket or approver: privilege rows
carry `extra.source_carries_approval = false`, so the access-approval control does not
report every grant of this source as unapproved.

Quarantined: a record without `methodName`, without a time, or without any principal
(outside System Event logs); a call (not a policy delta) naming no service (`serviceName`,
else its first `authorizationInfo` entry's `resourceAttributes.service`);
a policy delta without member or role.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import Staged, extract, key, split_by_kind, text
from auditlog.sqltext import sql_string

NAME = "gcp"
GKE_SERVICE = "k8s.io"

# Calls on a service account's credentials: actions whose target_account is the account.
CREDENTIAL_METHODS = (
    "google.iam.admin.v1.CreateServiceAccountKey",
    "google.iam.admin.v1.DeleteServiceAccountKey",
    "google.iam.admin.v1.UploadServiceAccountKey",
    "google.iam.admin.v1.DisableServiceAccountKey",
    "google.iam.admin.v1.EnableServiceAccountKey",
    "GenerateAccessToken",
    "GenerateIdToken",
    "SignBlob",
    "SignJwt",
)

FIELDS = {
    "insert_id": key("insertId"),
    "log_name": key("logName"),
    "timestamp": key("timestamp"),
    "receive_timestamp": key("receiveTimestamp"),
    # Data lakes (Panther's) hand entries back with these keys lower-cased.
    "insert_id_lc": key("insertid"),
    "log_name_lc": key("logname"),
    "receive_timestamp_lc": key("receivetimestamp"),
    "severity": key("severity"),
    "resource": key("resource"),
    "operation_info": key("operation"),
    "labels": key("labels"),
    "method": "$.protoPayload.methodName",
    "service": "$.protoPayload.serviceName",
    "resource_name": "$.protoPayload.resourceName",
    "authentication": "$.protoPayload.authenticationInfo",
    "principal_email": "$.protoPayload.authenticationInfo.principalEmail",
    "principal_subject": "$.protoPayload.authenticationInfo.principalSubject",
    "delegation": "$.protoPayload.authenticationInfo.serviceAccountDelegationInfo[0]",
    "caller_ip": "$.protoPayload.requestMetadata.callerIp",
    # Some exporters re-case it.
    "caller_ip_upper": "$.protoPayload.requestMetadata.callerIP",
    "user_agent": "$.protoPayload.requestMetadata.callerSuppliedUserAgent",
    "status_code": "$.protoPayload.status.code",
    "status_message": "$.protoPayload.status.message",
    "authorization_info": "$.protoPayload.authorizationInfo",
    "request": "$.protoPayload.request",
    "response": "$.protoPayload.response",
    "service_data": "$.protoPayload.serviceData",
    "metadata": "$.protoPayload.metadata",
    "deltas": "$.protoPayload.serviceData.policyDelta.bindingDeltas",
    "metadata_deltas": "$.protoPayload.metadata.policyDelta.bindingDeltas",
    "dataset_deltas": "$.protoPayload.metadata.datasetChange.bindingDeltas",
    "request_role": "$.protoPayload.request.roleRef",
    "request_subjects": "$.protoPayload.request.subjects",
    "response_role": "$.protoPayload.response.roleRef",
    "response_subjects": "$.protoPayload.response.subjects",
    "request_name": "$.protoPayload.request.name",
}

EXTRA_COMMON = ["actor_raw", "caller_ip", "insert_id", "log_name", "severity", "resource_type",
                "resource_labels",
                "method_name", "service_name", "resource_name", "status_code",
                "status_message", "user_agent", "authentication", "operation_info",
                "labels"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "source_ip", "scope", "member", "member_type", "role_kind", "binding",
                   "namespace", "condition", "source_carries_approval", *EXTRA_COMMON],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system",
                "target_account", "object", "channel", "result", "source_ip", "request",
                "response", "service_data", "metadata", "authorization_info", "verb",
                "k8s_resource", "k8s_subresource", "namespace", *EXTRA_COMMON],
}


class CloudAudit:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        # `protoPayload` is Cloud Logging's own name for a structured payload; no other
        # source's records carry it at the top level.
        return "protoPayload" in keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute("CREATE OR REPLACE TEMP TABLE _gcp_fields AS SELECT * EXCLUDE "
                    "(insert_id_lc, log_name_lc, receive_timestamp_lc) REPLACE ("
                    "coalesce(insert_id, insert_id_lc) AS insert_id, "
                    "coalesce(log_name, log_name_lc) AS log_name, "
                    "coalesce(receive_timestamp, receive_timestamp_lc) AS receive_timestamp) "
                    f"FROM ({extract(FIELDS)})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _gcp_mapped AS {MAPPED_SQL}")
        con.execute("DROP TABLE _gcp_fields")
        return split_by_kind(con, "_gcp_mapped", NAME, COLUMNS, default_kind="actions")


def member_name(member: str) -> str:
    """SQL: an IAM member (`user:a@x.com`, `deleted:serviceAccount:s@p?uid=1`) as the
    account id it names (`a@x.com`, `s@p?uid=1`); other identities as they are."""
    bare = f"regexp_replace({member}, '^deleted:', '')"
    return (f"CASE WHEN regexp_matches({bare}, '^(user|serviceAccount|group|domain):') "
            f"THEN regexp_replace({bare}, '^[A-Za-z]+:', '') ELSE {bare} END")


def member_type(member: str) -> str:
    return (f"CASE WHEN regexp_matches({member}, '^(deleted:)?[A-Za-z]+:[^/]') "
            f"THEN regexp_extract({member}, '^(deleted:)?([A-Za-z]+):', 2) END")


# The parts of a GKE method name: io.k8s.<api group...>.<version>.<resource>
# [.<subresource>].<verb>; a non-resource request is io.k8s.<verb>. Split only for GKE
# entries (`parts` is NULL for the others).
_K8S_VERSION_AT = ("list_position(list_transform(parts, "
                   "lambda p: regexp_full_match(p, 'v[0-9]+((alpha|beta)[0-9]+)?')), true)")

CREDENTIALS = ", ".join(sql_string(m) for m in CREDENTIAL_METHODS)

# Google's own account for what its systems do (GCE's host maintenance, preemption):
# the principal System Event audit logs name, and the actor of those that name none.
SYSTEM_ACTOR = "system@google.com"
SYSTEM_EVENT = ("coalesce(regexp_matches(" + text("log_name") + ", "
                "'/logs/cloudaudit\\.googleapis\\.com(%2F|/)system_event$'), false)")
# The first authority of a delegation chain (serviceAccountDelegationInfo, sorted from
# the original caller on), for an entry whose own principal is redacted.
DELEGATOR = ("coalesce(nullif(trim(delegation ->> '$.firstPartyPrincipal.principalEmail'), ''), "
             + member_name("nullif(trim(delegation ->> '$.principalSubject'), '')") + ")")
# callerIp holds an address, or a word where there is none to give: "private" (a call
# from inside Google's network), "gce-internal-ip" (a Compute Engine VM's internal
# address withheld). A word is no address: source_ip stays empty, the word in
# extra.caller_ip.
CALLER_IP = "coalesce(" + text("caller_ip") + ", " + text("caller_ip_upper") + ")"
IS_ADDRESS = ("regexp_full_match(" + CALLER_IP + ", "
              "'[0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f.]{0,4}){2,}')")

# One row per record: what it means, before it is expanded into one row per member
# (a CTE of MAPPED_SQL).
EVENTS_SQL = f"""
WITH records AS (
  SELECT f.*,
         {text('method')} AS method_text,
         -- The service a call went to; an entry that does not name it still says which
         -- service checked the caller's permission.
         coalesce({text('service')},
                  nullif(trim(f.authorization_info -> '$[0]' ->> '$.resourceAttributes.service'),
                         '')) AS service_text,
         coalesce({text('timestamp')}, {text('receive_timestamp')}) AS time_text,
         coalesce({text('principal_email')},
                  {member_name(text('principal_subject'))},
                  {DELEGATOR},
                  CASE WHEN {SYSTEM_EVENT} THEN '{SYSTEM_ACTOR}' END) AS actor_text,
         TRY_CAST({text('status_code')} AS INTEGER) AS code,
         coalesce(f.deltas, f.metadata_deltas, f.dataset_deltas) AS binding_deltas
  FROM _gcp_fields f),
split AS (
  SELECT r.*,
         CASE WHEN service_text = '{GKE_SERVICE}' OR method_text LIKE 'io.k8s.%'
              THEN string_split(method_text, '.') END AS parts
  FROM records r),
k8s AS (
  SELECT s.*, {_K8S_VERSION_AT} AS version_at
  FROM split s),
judged AS (
  SELECT k.*,
         CASE
           WHEN _bad IS NOT NULL THEN _bad
           WHEN method_text IS NULL THEN 'Cloud Audit Log entry without protoPayload.methodName'
           WHEN time_text IS NULL THEN 'Cloud Audit Log entry without timestamp'
           WHEN actor_text IS NULL
             THEN 'Cloud Audit Log entry without authenticationInfo principal'
         END AS reason,
         coalesce(code <> 0, false) AS failed,
         parts IS NOT NULL AS gke,
         list_last(parts) AS k8s_verb,
         CASE WHEN version_at IS NOT NULL THEN parts[version_at + 1] END AS k8s_resource,
         CASE WHEN version_at IS NOT NULL AND len(parts) > version_at + 2
              THEN parts[version_at + 2] END AS k8s_subresource,
         CASE WHEN parts IS NOT NULL
              THEN nullif(regexp_extract({text('resource_name')},
                                         '(^|/)namespaces/([^/]+)/', 2), '') END
           AS k8s_namespace,
         CASE WHEN (response_role ->> '$.name') IS NOT NULL THEN response_role
              ELSE request_role END AS role,
         CASE WHEN (response_role ->> '$.name') IS NOT NULL THEN response_subjects
              ELSE request_subjects END AS subjects
  FROM k8s k)
SELECT j.*,
       CASE
         WHEN reason IS NOT NULL OR failed THEN 'action'
         WHEN json_type(binding_deltas) = 'ARRAY' AND json_array_length(binding_deltas) > 0
           THEN 'delta'
         WHEN gke AND k8s_resource IN ('rolebindings', 'clusterrolebindings')
              AND k8s_verb IN ('create', 'update', 'patch', 'delete')
              AND (role ->> '$.name') IS NOT NULL
              AND json_type(subjects) = 'ARRAY' AND json_array_length(subjects) > 0
           THEN 'binding'
         ELSE 'action'
       END AS meaning
FROM judged j
"""

# One statement from the fields to the mapped rows: materializing the events in between
# would copy every record's request and response once more.
MAPPED_SQL = f"""
WITH events AS ({EVENTS_SQL}),
counted AS (
  SELECT e.*,
         CASE meaning WHEN 'delta' THEN json_array_length(binding_deltas)
                      WHEN 'binding' THEN json_array_length(subjects) ELSE 1 END AS n
  FROM events e),
expanded AS (
  SELECT c.*, i,
         CASE meaning WHEN 'delta' THEN binding_deltas -> ('$[' || (i - 1) || ']')
                      WHEN 'binding' THEN subjects -> ('$[' || (i - 1) || ']') END AS item
  FROM counted c, range(1, CAST(c.n AS BIGINT) + 1) AS t(i)),
items AS (
  SELECT x.*,
         CASE WHEN meaning = 'delta' THEN nullif(trim(item ->> '$.member'), '') END AS raw_member,
         CASE WHEN meaning = 'delta' THEN upper(nullif(trim(item ->> '$.action'), ''))
         END AS delta_action,
         CASE meaning
           WHEN 'delta' THEN nullif(trim(item ->> '$.role'), '')
           WHEN 'binding' THEN nullif(trim(role ->> '$.name'), '') END AS granted,
         CASE WHEN meaning = 'binding' THEN
           CASE WHEN (item ->> '$.kind') = 'ServiceAccount'
                THEN 'system:serviceaccount:'
                     || coalesce(item ->> '$.namespace', k8s_namespace, 'default')
                     || ':' || (item ->> '$.name')
                ELSE nullif(trim(item ->> '$.name'), '') END END AS binding_subject
  FROM expanded x),
final AS (
  SELECT y.*,
         CASE
           WHEN reason IS NOT NULL THEN reason
           WHEN meaning = 'delta' AND (raw_member IS NULL OR granted IS NULL)
             THEN 'IAM policy delta without member or role'
           WHEN meaning = 'delta' AND coalesce(delta_action, '') NOT IN ('ADD', 'REMOVE')
             THEN 'IAM policy delta with action ' || coalesce(delta_action, 'missing')
                  || ' (expected ADD or REMOVE)'
           WHEN meaning = 'binding' AND (binding_subject IS NULL OR granted IS NULL)
             THEN 'GKE role binding subject without name'
           WHEN meaning = 'action' AND NOT gke AND service_text IS NULL
             THEN 'Cloud Audit Log entry without protoPayload.serviceName (no service to '
                  || 'name as its system)'
         END AS row_reason
  FROM items y)
SELECT
  _row,
  CASE WHEN n > 1 THEN _loc || CASE WHEN meaning = 'binding' THEN ' subject ' ELSE ' delta ' END || i
       ELSE _loc END AS _loc,
  _raw,
  row_reason AS _bad,
  CASE WHEN meaning IN ('delta', 'binding') AND row_reason IS NULL THEN 'privileges'
       ELSE 'actions' END AS _kind,
  CASE WHEN i = 1 THEN {text('insert_id')} ELSE {text('insert_id')} || '/' || i END AS event_id,
  -- Cloud Logging writes UTC; an export that dropped the zone still means UTC.
  CASE WHEN regexp_full_match(time_text,
                              '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}})?(\\.[0-9]+)?')
       THEN time_text || 'Z' ELSE time_text END AS ts,
  actor_text AS actor,
  -- A principalSubject (`principal://...`, `user:...`) in member normal form: as written.
  CASE WHEN {text('principal_email')} IS NULL
       THEN nullif(coalesce({text('principal_subject')},
                            delegation ->> '$.firstPartyPrincipal.principalEmail',
                            delegation ->> '$.principalSubject'), actor_text) END AS actor_raw,
  CASE WHEN actor_text LIKE '%.gserviceaccount.com' OR actor_text LIKE 'system:serviceaccount:%'
       THEN 'service'
       WHEN actor_text LIKE 'system:%' OR actor_text = '{SYSTEM_ACTOR}' THEN 'system'
  END AS actor_type,
  CASE meaning WHEN 'delta' THEN {member_name('raw_member')}
               WHEN 'binding' THEN binding_subject END AS subject,
  granted AS privilege,
  CASE WHEN meaning = 'delta' THEN CASE delta_action WHEN 'REMOVE' THEN 'revoke' ELSE 'grant' END
       WHEN k8s_verb = 'delete' THEN 'revoke' ELSE 'grant' END AS operation,
  CASE WHEN meaning = 'binding' THEN 'kubernetes'
       WHEN meaning = 'delta' THEN NULL
       WHEN gke THEN 'kubernetes' ELSE service_text END AS system,
  {text('resource_name')} AS scope,
  raw_member AS member,
  CASE WHEN meaning = 'delta' THEN {member_type('raw_member')}
       WHEN meaning = 'binding' THEN item ->> '$.kind' END AS member_type,
  CASE WHEN meaning = 'binding' THEN role ->> '$.kind' END AS role_kind,
  CASE WHEN meaning = 'binding'
       THEN regexp_extract({text('resource_name')}, '[^/]+$') END AS binding,
  k8s_namespace AS namespace,
  CASE WHEN meaning = 'delta' THEN item -> '$.condition' END AS condition,
  false AS source_carries_approval,
  CASE
    WHEN gke AND k8s_resource IS NULL THEN k8s_verb
    WHEN gke THEN k8s_verb || ' ' || concat_ws('/', k8s_resource, k8s_subresource)
    ELSE method_text END AS action,
  CASE WHEN method_text IN ({CREDENTIALS}) THEN
         coalesce(resource -> '$.labels' ->> '$.email_id',
                  nullif(regexp_extract(coalesce({text('request_name')}, ''),
                                        'serviceAccounts/([^/]+)', 1), ''))
       WHEN gke AND k8s_resource = 'serviceaccounts' AND k8s_subresource = 'token'
         THEN 'system:serviceaccount:' || coalesce(k8s_namespace, 'default') || ':'
              || regexp_extract({text('resource_name')}, 'serviceaccounts/([^/]+)', 1)
  END AS target_account,
  {text('resource_name')} AS object,
  -- The Cloud Console says so in its user agent ("GoogleCloudConsole"); a browser's
  -- agent alone does not tell the console from any other web client.
  CASE WHEN coalesce({text('user_agent')}, '') ILIKE '%console%' THEN 'console'
       ELSE 'api' END AS channel,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  CASE WHEN {IS_ADDRESS} THEN {CALLER_IP} END AS source_ip,
  CASE WHEN NOT {IS_ADDRESS} THEN {CALLER_IP} END AS caller_ip,
  request, response, service_data, metadata, authorization_info,
  CASE WHEN gke THEN k8s_verb END AS verb,
  k8s_resource, k8s_subresource,
  {text('insert_id')} AS insert_id,
  {text('log_name')} AS log_name,
  {text('severity')} AS severity,
  resource ->> '$.type' AS resource_type,
  resource -> '$.labels' AS resource_labels,
  method_text AS method_name,
  service_text AS service_name,
  {text('resource_name')} AS resource_name,
  code AS status_code,
  {text('status_message')} AS status_message,
  {text('user_agent')} AS user_agent,
  authentication, operation_info, labels
FROM final
"""
