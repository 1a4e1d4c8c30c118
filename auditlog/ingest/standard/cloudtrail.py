"""AWS CloudTrail records → privileges and actions.

Records come as `{"Records": [...]}` (S3 objects, gzipped or not), bare arrays or one per
line; the readers unwrap them all into `_docs` (staging.DOCS). A record in an EventBridge
envelope (`detail-type` "... via CloudTrail", the record as `detail`) is read as its
`detail` (UNWRAPPED_SQL), the envelope less `detail` kept as `extra.eventbridge` and the
record itself as the row's source record (kept.py); an envelope of another detail-type is
quarantined saying so. One record is one row:

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
* A *failed* call (errorCode set, a ConsoleLogin answered `Failure`, a sign-in step whose
  serviceEventDetails says `Failure` under its eventName) has result `failure`, its
  errorCode/errorMessage kept in `extra`; a failed privilege call granted nothing, so it
  is not a grant but such an action. An errorCode that is an HTTP 2xx status (Amazon
  Managed Grafana's "200") is no error.
* An Insights event (`insightDetails`) is CloudTrail's measure of call rates, no one's
  action: quarantined with that reason.

IAM and SSO privileges apply to a whole AWS account, not to the one service that
granted them, so their `system` is left empty ("any system", as the privilege rules read
it) and the account is kept as `extra.aws_account`; KMS grants apply to KMS.

`userIdentity` of every type becomes one stable account id (`actor`):
IAMUser → userName; AssumedRole → "<role>/<session name>" (the session name is what
tells apart the people behind a shared role, e.g. SSO; without sessionIssuer or userName
the ARN gives the same form, aws.aws_principal); Root → "root/<account>";
AWSService → invokedBy; FederatedUser → its federated name; AWSAccount → principalId;
IdentityCenterUser → onBehalfOf.userId; otherwise userName, arn or principalId (an empty
string is no value: Identity Center writes `"arn": ""`; an ARN taken is written in the
normal form of aws.aws_principal). The
whole `userIdentity` is kept in `extra.user_identity`, the caller's ARN (else principalId
or invokedBy), when not the actor itself, in `extra.actor_raw`. The same ARN met in an
OCSF translation is written in this form too (aws.aws_principal).

Records exported through Logstash lose `eventTime` to `@timestamp` (OTRF datasets); that
is read when `eventTime` is missing. A record with neither, or without eventName or
userIdentity, is quarantined with that reason.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import (
    CWL_ENVELOPES,
    DOCS,
    Staged,
    extract,
    key,
    kind_table,
    split_by_kind,
    text,
)
from auditlog.ingest.standard.aws import aws_principal, calls_values, credential_values
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
    "service_details": key("serviceEventDetails"),
    "insight": key("insightDetails"),
}

EXTRA_COMMON = ["error_code", "error_message", "user_agent", "aws_region", "aws_account",
                "event_type", "read_only", "request_id", "user_identity", "actor_raw", "actor_role",
                "request_parameters", "response_elements", "resources",
                "additional_event_data", "service_event_details", "eventbridge",
                "cloudwatch_logs"]
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
        return ({"eventVersion", "eventSource", "eventName"} <= keys
                or {"eventVersion", "insightDetails"} <= keys  # an Insights event
                or EVENTBRIDGE_KEYS <= keys)

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_calls AS {calls_values()}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_creds AS {credential_values()}")
        # Records in EventBridge envelopes are unwrapped into a copy of DOCS; a file with
        # none (a text scan tells, no JSON parse) is read as it is, without that copy.
        envelopes = _has_envelopes(con)
        if envelopes:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_docs AS {UNWRAPPED_SQL}")
            con.execute("CREATE OR REPLACE TEMP TABLE _ct_envelopes AS "
                        "SELECT _row, _outer, _envelope FROM _ct_docs WHERE _outer IS NOT NULL")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_envelopes AS SELECT _row, "
                        f"CAST(NULL AS VARCHAR) AS _outer, CAST(NULL AS JSON) AS _envelope "
                        f"FROM {DOCS} WHERE false")
        source = "_ct_docs" if envelopes else DOCS
        # Records unwrapped from CloudWatch Logs subscription messages (cloudwatch.py):
        # their envelopes, by row.
        subscribed = _exists(con, CWL_ENVELOPES)
        con.execute("CREATE OR REPLACE TEMP TABLE _ct_cwl AS "
                    + (f"SELECT _row, _envelope FROM {CWL_ENVELOPES}" if subscribed else
                       "SELECT CAST(NULL AS BIGINT) AS _row, CAST(NULL AS JSON) AS _envelope "
                       "WHERE false"))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_fields AS {extract(FIELDS, source)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_access AS {access_sql(ACCESS_CALLS)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ct_mapped AS {MAPPED_SQL}")
        if envelopes:
            # The source record kept of an EventBridge delivery (kept.py) is the
            # CloudTrail record, as from S3: Sigma rules and traces read its fields where
            # they are in every CloudTrail record; the envelope is in extra.eventbridge.
            con.execute(f"UPDATE {DOCS} SET _raw = d._raw FROM _ct_docs d "
                        f"WHERE d._row = {DOCS}._row AND d._outer IS NOT NULL "
                        f"AND d._bad IS NULL")
            con.execute("DROP TABLE _ct_docs")
        con.execute("DROP TABLE _ct_fields")
        con.execute("DROP TABLE _ct_envelopes")
        con.execute("DROP TABLE _ct_cwl")
        con.execute("DROP TABLE _ct_calls")
        con.execute("DROP TABLE _ct_creds")
        con.execute("DROP TABLE _ct_access")
        return split_by_kind(con, "_ct_mapped", NAME, COLUMNS, default_kind="actions")


# The envelope EventBridge puts around a CloudTrail record (`detail`), as a rule's target
# or a Firehose stream receives it: {version, id, detail-type, source, account, time,
# region, resources, detail}. Its `account` column would otherwise pass for the
# accounts kind.
EVENTBRIDGE_KEYS = {"version", "detail-type", "source", "detail"}

# DOCS with each EventBridge envelope's `detail` in place of the envelope (the rest of
# the envelope in `_envelope`, the envelope's text in `_outer`): an envelope of another
# detail-type than CloudTrail's ("AWS API Call via CloudTrail", "AWS Console Sign In via
# CloudTrail", "AWS Service Event via CloudTrail", ...) holds no CloudTrail record and
# is quarantined, saying which it is.
UNWRAPPED_SQL = f"""
SELECT _row, _loc,
       CASE WHEN envelope THEN CAST(json_extract(_raw, '$.detail') AS VARCHAR)
            ELSE _raw END AS _raw,
       CASE WHEN NOT envelope THEN _bad
            WHEN NOT coalesce(ends_with(detail_type, ' via CloudTrail'), false)
              OR json_type(_raw, '$.detail') IS DISTINCT FROM 'OBJECT'
            THEN 'EventBridge event of detail-type '
                 || coalesce('"' || detail_type || '"', 'none')
                 || coalesce(' from ' || nullif(trim(json_extract_string(_raw, '$.source')), ''),
                             '')
                 || ' is not a CloudTrail record (those come as "... via CloudTrail")'
       END AS _bad,
       CASE WHEN envelope THEN _raw END AS _outer,
       CASE WHEN envelope
            THEN json_merge_patch(_raw, '{{"detail": null}}') END AS _envelope
FROM (SELECT d.*,
             CASE WHEN _bad IS NULL
                  THEN json_exists(_raw, '$."detail-type"') AND json_exists(_raw, '$.detail')
                       AND NOT json_exists(_raw, '$.eventName')
                  ELSE false END AS envelope,
             CASE WHEN _bad IS NULL
                  THEN nullif(trim(json_extract_string(_raw, '$."detail-type"')), '')
             END AS detail_type
      FROM {DOCS} d)
"""

def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary "
                      "AND table_name = $name", {"name": table}).fetchone()
    return bool(row and row[0])


def _has_envelopes(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a record of DOCS may be an EventBridge envelope (its text names a
    `detail-type`; UNWRAPPED_SQL tells which are)."""
    row = con.execute(f"""SELECT EXISTS (SELECT 1 FROM {DOCS} WHERE _bad IS NULL
                          AND contains(CAST(_raw AS VARCHAR), '"detail-type"'))""").fetchone()
    return bool(row and row[0])


# The records as aws_access reads them: who a policy, permission or share call opens to.
ACCESS_CALLS = f"""(SELECT _row, {text('event_source')} AS service, {text('event_name')} AS name,
                          rp
                   FROM _ct_fields WHERE _bad IS NULL AND rp IS NOT NULL)"""


def _id(expr: str) -> str:
    """SQL: an identity's text, NULL when empty (Identity Center writes `"arn": ""`)."""
    return f"nullif(trim({expr}), '')"


def _ui(path: str) -> str:
    return _id(f"ui ->> '$.{path}'")


# The identity of the caller, one CASE per userIdentity type (see the module docstring).
ACTOR_SQL = f"""
CASE ui ->> '$.type'
  WHEN 'IAMUser' THEN coalesce({_ui('userName')}, {aws_principal(_ui('arn'))},
                                {_ui('principalId')})
  WHEN 'AssumedRole' THEN coalesce(
      {_ui('sessionContext.sessionIssuer.userName')} || '/'
        || nullif(regexp_extract(ui ->> '$.arn', 'assumed-role/[^/]+/(.+)$', 1), ''),
      -- Without sessionIssuer, the ARN gives the same <role>/<session>.
      {aws_principal(_ui('arn'))}, {_ui('sessionContext.sessionIssuer.userName')},
      {_ui('principalId')})
  WHEN 'Root' THEN 'root/' || coalesce({_ui('accountId')}, {_id("aws_account ->> '$'")},
                                       'unknown')
  WHEN 'AWSService' THEN coalesce({_ui('invokedBy')}, 'aws-service')
  WHEN 'FederatedUser' THEN coalesce(
      nullif(regexp_extract(ui ->> '$.arn', 'federated-user/(.+)$', 1), ''),
      {_ui('principalId')})
  WHEN 'AWSAccount' THEN coalesce({_ui('principalId')}, {_ui('accountId')})
  WHEN 'IdentityCenterUser' THEN coalesce({_ui('onBehalfOf.userId')}, {_ui('userName')},
      {aws_principal(_ui('arn'))}, {_ui('principalId')})
  ELSE coalesce({_ui('userName')}, {aws_principal(_ui('arn'))}, {_ui('principalId')},
                {_ui('invokedBy')}, {_ui('accountId')})
END"""

MAPPED_SQL = f"""
WITH records AS (
  SELECT f.*, u._outer, u._envelope, w._envelope AS _subscription,
         {text('event_name')} AS name,
         {text('event_source')} AS service,
         coalesce({text('event_time')}, {text('logstash_time')}) AS ts,
         nullif(trim({ACTOR_SQL}), '') AS actor,
         -- A failed console sign-in says so in its response, often without errorCode;
         -- a failed sign-in step (CredentialVerification, ...) in serviceEventDetails,
         -- under the event's name.
         -- Amazon Managed Grafana writes its HTTP status as errorCode, "200" for a
         -- success: a 2xx status is no error.
         (coalesce(NOT regexp_full_match({text('error_code')}, '2[0-9][0-9]'), false)
          OR coalesce(f.re ->> '$.ConsoleLogin', '') = 'Failure'
          OR coalesce(json_extract_string(f.service_details,
                                          '$."' || {text('event_name')} || '"'), '')
             = 'Failure') AS failed,
         CASE
           WHEN f._bad IS NOT NULL THEN f._bad
           -- CloudTrail's own measure of unusual call or error rates: no one acted.
           WHEN json_type(f.insight) = 'OBJECT'
             THEN 'CloudTrail Insights event'
                  || coalesce(' (' || nullif(concat_ws(' ', f.insight ->> '$.insightType',
                                                       f.insight ->> '$.state', 'on',
                                                       f.insight ->> '$.eventSource',
                                                       f.insight ->> '$.eventName'), 'on') || ')',
                              '')
                  || ': a measure of unusual API call or error rates, not an action by an '
                  || 'account; the calls themselves are in the trail''s records'
           WHEN {text('event_name')} IS NULL THEN 'CloudTrail record without eventName'
           WHEN coalesce({text('event_time')}, {text('logstash_time')}) IS NULL
             THEN 'CloudTrail record without eventTime'
           WHEN json_type(f.ui) IS DISTINCT FROM 'OBJECT'
             THEN 'CloudTrail record without userIdentity'
         END AS reason
  FROM _ct_fields f LEFT JOIN _ct_envelopes u ON u._row = f._row
  LEFT JOIN _ct_cwl w ON w._row = f._row),
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
  _row, _loc, coalesce(_outer, _raw) AS _raw, reason AS _bad, _kind,
  {text('event_id')} AS event_id,
  ts,
  actor,
  -- AWS itself: an AWSService caller, or a service event's typeless identity naming only
  -- the service that acted (`{{"accountId": ..., "invokedBy": "kms.amazonaws.com"}}`).
  CASE WHEN (ui ->> '$.type') = 'AWSService'
         OR ((ui ->> '$.type') IS NULL AND {_ui('invokedBy')} IS NOT NULL
             AND coalesce({_ui('userName')}, {_ui('arn')}, {_ui('principalId')}) IS NULL)
       THEN 'system' END AS actor_type,
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
         -- Sign-in records before eventVersion 1.05 carry no eventType.
         OR service = 'signin.amazonaws.com'
         OR {text('from_console')} = 'true' THEN 'console' ELSE 'api' END AS channel,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  {text('source_ip')} AS source_ip,
  {_id("ui ->> '$.accessKeyId'")} AS session_id,
  -- CloudTrail has no place for an approval (controls/grant_controls.sql).
  CASE WHEN _kind = 'privileges' THEN false END AS source_carries_approval,
  access_opened_to,
  error_code, error_message, user_agent, aws_region, aws_account, event_type, read_only,
  request_id,
  ui AS user_identity,
  -- The caller as AWS writes it (its ARN), beside the normal form in actor.
  nullif(coalesce({_id("ui ->> '$.arn'")}, {_id("ui ->> '$.principalId'")},
                  {_id("ui ->> '$.invokedBy'")}), actor) AS actor_raw,
  ui -> '$.sessionContext.sessionIssuer.arn' AS actor_role,
  rp AS request_parameters,
  -- Temporary credentials' session tokens are secrets; the key id is enough to trace.
  CASE WHEN (re -> '$.credentials.sessionToken') IS NOT NULL
       THEN json_merge_patch(re, '{{"credentials": {{"sessionToken": null}}}}')
       ELSE re END AS response_elements,
  resources,
  additional AS additional_event_data,
  service_details AS service_event_details,
  -- The EventBridge envelope a record came in, less the record itself (its `detail`).
  _envelope AS eventbridge,
  -- The CloudWatch Logs subscription message a record came in (owner, logGroup,
  -- logStream, subscriptionFilters) with its event's id and timestamp.
  _subscription AS cloudwatch_logs
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
        return stage_no_events(con, "digest", self.name,
                               "a CloudTrail digest file (hashes and signatures of the "
                               "trail's log files, no events)")


def stage_no_events(con: duckdb.DuckDBPyConnection, part: str, source_format: str,
                    what: str) -> list[Staged]:
    """A file of AWS's that holds no events (a digest, a sign file): no rows staged, the
    file still listed with `what` it is."""
    table = kind_table(NAME, part)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                f"SELECT _row, _loc, _raw, _bad FROM {DOCS} WHERE false")
    return [Staged(columns=[], style="json", table=table, source_format=source_format,
                   no_events=what)]
