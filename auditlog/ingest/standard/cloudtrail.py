"""AWS CloudTrail records → privileges and actions.

Records come as `{"Records": [...]}` (S3 objects, gzipped or not), bare arrays or one per
line; the readers unwrap them all into `_docs` (staging.DOCS). One record is one row:

* A successful privilege-changing call (aws.PRIVILEGE_CALLS: IAM policy attach/detach/put/
  delete, group membership, trust policy, SSO account assignments and Identity Center
  group membership, KMS grants) is a **privilege** change: actor = who called, subject =
  the user/role/group/principal in `requestParameters`, privilege = the policy ARN or
  name, group, permission set, ...
* A call on a user's credentials (aws.CREDENTIAL_CALLS: access keys, login profiles,
  service-specific credentials, SSH keys, signing certificates) is an **action** whose
  `target_account` is the user owning the credential (the caller itself when the request
  names no user). A credential lets its owner use privileges it already holds; it adds
  none, so it is not a grant (and a user rotating its own key is not a self-grant).
  Rules that care, such as grant_then_credential, look for these actions by name.
* Everything else is an **action**: action = eventName, system = eventSource.
* A call that opens a resource through a policy, permission, share or ACL (a trust
  policy, a bucket policy, a Lambda permission, a snapshot shared, ...) keeps who it
  opens it to as `extra.access_opened_to`: `"*"` and account ids (aws_access.py says
  what is read); the exposure rules judge it.
* CloudTrail records carry no approval: privilege rows have
  `extra.source_carries_approval = false` (grant_without_approval skips them).
* A *failed* call (errorCode set, or a ConsoleLogin answered `Failure`) has result
  `failure`, its errorCode/errorMessage kept in `extra`; a failed privilege call granted
  nothing, so it is not a grant but such an action.

IAM and SSO privileges apply to a whole AWS account, not to the one service that
granted them, so their `system` is left empty ("any system", as the privilege rules read
it) and the account is kept as `extra.aws_account`; KMS grants apply to KMS.

`userIdentity` of every type becomes one stable account id (`actor`):
IAMUser → userName; AssumedRole → "<role>/<session name>" (the session name is what
tells apart the people behind a shared role, e.g. SSO); Root → "root/<account>";
AWSService → invokedBy; FederatedUser → its federated name; AWSAccount → principalId;
IdentityCenterUser → onBehalfOf.userId; otherwise userName, arn or principalId. The
whole `userIdentity` is kept in `extra.user_identity`, the caller's ARN (else principalId
or invokedBy), when not the actor itself, in `extra.actor_raw`. The same ARN met in an
OCSF translation is written in this form too (aws.aws_principal).

Records exported through Logstash lose `eventTime` to `@timestamp` (OTRF datasets); that
is read when `eventTime` is missing. A record with neither, or without eventName or
userIdentity, is quarantined with that reason.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import DOCS, Staged, extract, key, kind_table, split_by_kind, text
from auditlog.ingest.standard.aws import calls_values, credential_values
from auditlog.ingest.standard.aws_access import access_sql

NAME = "cloudtrail"

FIELDS = {
    "event_id": key("eventID"),
    "event_time": key("eventTime"),
    "logstash_time": key("@timestamp"),
    "event_name": key("eventName"),
    "event_source": key("eventSource"),
    "event_type": key("eventType"),
    "error_code": key("errorCode"),
    "error_message": key("errorMessage"),
    "source_ip": key("sourceIPAddress"),
    "user_agent": key("userAgent"),
    "aws_region": key("awsRegion"),
    "aws_account": key("recipientAccountId"),
    "read_only": key("readOnly"),
    "from_console": key("sessionCredentialFromConsole"),
    "request_id": key("requestID"),
    "ui": key("userIdentity"),
    "rp": key("requestParameters"),
    "re": key("responseElements"),
    "resources": key("resources"),
    "additional": key("additionalEventData"),
}

EXTRA_COMMON = ["error_code", "error_message", "user_agent", "aws_region", "aws_account",
                "event_type", "read_only", "request_id", "user_identity", "actor_raw", "actor_role",
                "request_parameters", "response_elements", "resources",
                "additional_event_data"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "event_name", "event_source", "source_ip", "source_carries_approval",
                   "access_opened_to", *EXTRA_COMMON],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system", "target_account",
                "object", "channel", "result", "source_ip", "session_id", "access_opened_to",
                *EXTRA_COMMON],
}


class CloudTrail:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        return {"eventVersion", "eventSource", "eventName"} <= keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_calls AS {calls_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_creds AS {credential_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_fields AS {extract(FIELDS)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_access AS {access_sql(ACCESS_CALLS)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_mapped AS {MAPPED_SQL}")
        con.execute("DROP TABLE _ct_fields")
        con.execute("DROP TABLE _ct_calls")
        con.execute("DROP TABLE _ct_creds")
        con.execute("DROP TABLE _ct_access")
        return split_by_kind(con, "_ct_mapped", NAME, COLUMNS, default_kind="actions")


# The records as aws_access reads them: who a policy, permission or share call opens to.
ACCESS_CALLS = f"""(SELECT _row, {text('event_source')} AS service, {text('event_name')} AS name,
                          rp
                   FROM _ct_fields WHERE _bad IS NULL AND rp IS NOT NULL)"""

# The identity of the caller, one CASE per userIdentity type (see the module docstring).
ACTOR_SQL = """
CASE ui ->> '$.type'
  WHEN 'IAMUser' THEN coalesce(ui ->> '$.userName', ui ->> '$.arn', ui ->> '$.principalId')
  WHEN 'AssumedRole' THEN coalesce(
      (ui ->> '$.sessionContext.sessionIssuer.userName') || '/'
        || nullif(regexp_extract(ui ->> '$.arn', 'assumed-role/[^/]+/(.+)$', 1), ''),
      ui ->> '$.sessionContext.sessionIssuer.userName', ui ->> '$.arn', ui ->> '$.principalId')
  WHEN 'Root' THEN 'root/' || coalesce(ui ->> '$.accountId', aws_account ->> '$', 'unknown')
  WHEN 'AWSService' THEN coalesce(ui ->> '$.invokedBy', 'aws-service')
  WHEN 'FederatedUser' THEN coalesce(
      nullif(regexp_extract(ui ->> '$.arn', 'federated-user/(.+)$', 1), ''),
      ui ->> '$.principalId')
  WHEN 'AWSAccount' THEN coalesce(ui ->> '$.principalId', ui ->> '$.accountId')
  WHEN 'IdentityCenterUser' THEN coalesce(ui ->> '$.onBehalfOf.userId', ui ->> '$.userName',
      ui ->> '$.principalId')
  ELSE coalesce(ui ->> '$.userName', ui ->> '$.arn', ui ->> '$.principalId',
      ui ->> '$.invokedBy', ui ->> '$.accountId')
END"""

MAPPED_SQL = f"""
WITH records AS (
  SELECT f.*,
         {text('event_name')} AS name,
         {text('event_source')} AS service,
         coalesce({text('event_time')}, {text('logstash_time')}) AS ts,
         nullif(trim({ACTOR_SQL}), '') AS actor,
         -- A failed console sign-in says so in its response, often without errorCode.
         ({text('error_code')} IS NOT NULL
          OR coalesce(f.re ->> '$.ConsoleLogin', '') = 'Failure') AS failed,
         CASE
           WHEN f._bad IS NOT NULL THEN f._bad
           WHEN {text('event_name')} IS NULL THEN 'CloudTrail record without eventName'
           WHEN coalesce({text('event_time')}, {text('logstash_time')}) IS NULL
             THEN 'CloudTrail record without eventTime'
           WHEN json_type(f.ui) IS DISTINCT FROM 'OBJECT'
             THEN 'CloudTrail record without userIdentity'
         END AS reason
  FROM _ct_fields f),
classified AS (
  SELECT r.*, c.operation, x.access_opened_to,
         json_extract_string(r.rp, c.subject_path) AS subject,
         coalesce(c.privilege_constant, json_extract_string(r.rp, c.privilege_path)) AS privilege,
         CASE WHEN k.event_name IS NOT NULL
              THEN coalesce(json_extract_string(r.rp, k.owner_path),
                            CASE WHEN (r.ui ->> '$.type') = 'IAMUser'
                                 THEN r.ui ->> '$.userName' END) END AS target_account,
         CASE WHEN c.event_name IS NOT NULL AND r.reason IS NULL AND NOT r.failed
              THEN 'privileges' ELSE 'actions' END AS _kind
  FROM records r
  LEFT JOIN _ct_calls c ON c.event_source = r.service AND c.event_name = r.name
  LEFT JOIN _ct_creds k ON k.event_source = r.service AND k.event_name = r.name
  LEFT JOIN _ct_access x ON x._row = r._row)
SELECT
  _row, _loc, _raw, reason AS _bad, _kind,
  {text('event_id')} AS event_id,
  ts,
  actor,
  CASE WHEN (ui ->> '$.type') = 'AWSService' THEN 'system' END AS actor_type,
  subject,
  privilege,
  operation,
  name AS action,
  target_account,
  name AS event_name,
  service AS event_source,
  CASE WHEN _kind = 'actions' THEN service
       WHEN service = 'kms.amazonaws.com' THEN service END AS system,
  coalesce(resources ->> '$[0].ARN', rp ->> '$.roleArn', rp ->> '$.bucketName',
           rp ->> '$.userName', rp ->> '$.roleName', rp ->> '$.groupName',
           rp ->> '$.policyArn', rp ->> '$.name', rp ->> '$.keyId',
           rp ->> '$.instancesSet.items[0].instanceId') AS object,
  CASE WHEN {text('user_agent')} ILIKE '%console%'
         OR {text('event_type')} = 'AwsConsoleSignIn'
         OR {text('from_console')} = 'true' THEN 'console' ELSE 'api' END AS channel,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  {text('source_ip')} AS source_ip,
  ui ->> '$.accessKeyId' AS session_id,
  -- CloudTrail has no place for an approval (controls/grant_controls.sql).
  CASE WHEN _kind = 'privileges' THEN false END AS source_carries_approval,
  access_opened_to,
  error_code, error_message, user_agent, aws_region, aws_account, event_type, read_only,
  request_id,
  ui AS user_identity,
  -- The caller as AWS writes it (its ARN), beside the normal form in actor.
  nullif(coalesce(ui ->> '$.arn', ui ->> '$.principalId', ui ->> '$.invokedBy'), actor)
    AS actor_raw,
  ui -> '$.sessionContext.sessionIssuer.arn' AS actor_role,
  rp AS request_parameters,
  -- Temporary credentials' session tokens are secrets; the key id is enough to trace.
  CASE WHEN (re -> '$.credentials.sessionToken') IS NOT NULL
       THEN json_merge_patch(re, '{{"credentials": {{"sessionToken": null}}}}')
       ELSE re END AS response_elements,
  resources,
  additional AS additional_event_data
FROM classified
"""


class CloudTrailDigest:
    """CloudTrail digest files (`CloudTrail-Digest/...json.gz`, delivered beside the logs):
    integrity data about log files, holding no events. Recognized so that a synced
    `AWSLogs/` folder loads as a whole; a digest stages no rows (rows_read 0) and is still
    listed, with its SHA-256, among the ingested files."""

    name = "cloudtrail-digest"

    def matches(self, keys: set[str]) -> bool:
        return {"digestStartTime", "digestEndTime", "logFiles"} <= keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        table = kind_table(NAME, "digest")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                    f"SELECT _row, _loc, _raw, _bad FROM {DOCS} WHERE false")
        return [Staged(columns=[], style="json", table=table, kind="actions",
                       source_format=self.name)]
