"""The native Kubernetes audit event mapping, shared by the adapters of every form that
carries such events: native audit logs (k8s.py) and AKS diagnostic settings, whose
`properties.log` is one (azure.py). What it maps and why is k8s.py's docstring.

`FIELDS` are paths inside one audit event; `events_sql` reads them from a table made by
`staging.extract(FIELDS, source)`, `mapped_sql` turns its result into the mapped table
`staging.split_by_kind` cuts with `COLUMNS`.
"""

from __future__ import annotations

from auditlog.ingest.staging import key, text

SYSTEM = "kubernetes"
# A request logged only at stage RequestReceived: its result is unknown (mapped_sql), so
# the kind's default (success) must not fill it (Staged.no_default).
NO_DEFAULT = frozenset({"result"})

FIELDS = {
    "audit_id": key("auditID"),
    "stage": key("stage"),
    "verb": key("verb"),
    "kind": key("kind"),
    "level": key("level"),
    "username": "$.user.username",
    "groups": "$.user.groups",
    "impersonated_user": "$.impersonatedUser.username",
    "resource": "$.objectRef.resource",
    "subresource": "$.objectRef.subresource",
    "namespace": "$.objectRef.namespace",
    "name": "$.objectRef.name",
    "api_group": "$.objectRef.apiGroup",
    "code": "$.responseStatus.code",
    "response_reason": "$.responseStatus.reason",
    "response_message": "$.responseStatus.message",
    "received": key("requestReceivedTimestamp"),
    "legacy_time": key("timestamp"),
    "stage_time": key("stageTimestamp"),
    "source_ip": "$.sourceIPs[0]",
    "user_agent": key("userAgent"),
    "request_uri": key("requestURI"),
    "request_role": "$.requestObject.roleRef",
    "request_subjects": "$.requestObject.subjects",
    "response_role": "$.responseObject.roleRef",
    "response_subjects": "$.responseObject.subjects",
    "request_rules": "$.requestObject.rules",
    "response_rules": "$.responseObject.rules",
    "annotations": key("annotations"),
    # A service account token Secret (type kubernetes.io/service-account-token): the
    # account whose token it holds is named by an annotation.
    "request_secret_type": "$.requestObject.type",
    "response_secret_type": "$.responseObject.type",
    "request_token_account": '$.requestObject.metadata.annotations'
                             '."kubernetes.io/service-account.name"',
    "response_token_account": '$.responseObject.metadata.annotations'
                              '."kubernetes.io/service-account.name"',
}

EXTRA_COMMON = ["audit_id", "verb", "user_agent", "groups", "impersonated_user",
                "request_uri", "response_code", "annotations"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "role_kind", "binding", "namespace", "subject_kind", "source_ip",
                   "source_carries_approval", *EXTRA_COMMON],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system", "target_account",
                "object",
                "channel", "result", "source_ip", "resource", "subresource", "namespace",
                "name", "api_group", "response_reason", "response_message", "stage",
                "level", "role_rules", "dry_run", *EXTRA_COMMON],
}


def events_sql(fields: str) -> str:
    """One row per record of the extracted `fields` table: what it means, before stages are
    merged and subjects expanded."""
    return f"""
WITH records AS (
  SELECT f.*,
         {text('audit_id')} AS audit,
         {text('verb')} AS verb_text,
         {text('username')} AS actor,
         coalesce({text('received')}, {text('legacy_time')}, {text('stage_time')}) AS ts,
         TRY_CAST({text('code')} AS INTEGER) AS response_code,
         -- A dry run (?dryRun=All: kubectl --dry-run=server) is admitted and answered
         -- like the request, but nothing is stored: no grant, revoke or credential.
         coalesce(regexp_matches({text('request_uri')}, '[?&]dryRun='), false) AS dry_run,
         {text('resource')} AS res,
         {text('namespace')} AS ns,
         -- The binding as stored (response) when logged, else as requested.
         CASE WHEN (response_role ->> '$.name') IS NOT NULL THEN response_role
              ELSE request_role END AS role,
         CASE WHEN (response_role ->> '$.name') IS NOT NULL THEN response_subjects
              ELSE request_subjects END AS subjects
  FROM {fields} f),
judged AS (
  SELECT *,
         CASE
           WHEN _bad IS NOT NULL THEN _bad
           WHEN {text('kind')} IS DISTINCT FROM 'Event' AND {text('kind')} IS NOT NULL
             THEN 'not a Kubernetes audit Event (kind ' || {text('kind')} || ')'
           WHEN verb_text IS NULL THEN 'Kubernetes audit event without verb'
           WHEN ts IS NULL THEN 'Kubernetes audit event without requestReceivedTimestamp'
           WHEN actor IS NULL THEN 'Kubernetes audit event without user.username'
         END AS reason,
         coalesce(response_code >= 400 OR {text('stage')} = 'Panic', false) AS failed
  FROM records)
SELECT *,
       CASE
         WHEN reason IS NOT NULL OR failed OR dry_run THEN 'action'
         -- A binding request nobody saw answered (its record of stage RequestReceived is
         -- its most complete) may not have been carried out: an action of unknown
         -- result, never a grant or revoke (see k8s.py, "Stages").
         WHEN {text('stage')} = 'RequestReceived' THEN 'action'
         WHEN res IN ('rolebindings', 'clusterrolebindings')
              AND coalesce({text('api_group')}, 'rbac.authorization.k8s.io')
                  = 'rbac.authorization.k8s.io'
              AND verb_text IN ('create', 'update', 'patch', 'delete')
              AND (role ->> '$.name') IS NOT NULL
              AND coalesce(json_array_length(subjects), 0) > 0 THEN 'binding'
         ELSE 'action'
       END AS meaning,
       CASE {text('stage')} WHEN 'ResponseComplete' THEN 1 WHEN 'Panic' THEN 2
            WHEN 'ResponseStarted' THEN 3 WHEN 'RequestReceived' THEN 4 ELSE 5 END AS stage_rank
FROM judged
"""

def mapped_sql(events: str) -> str:
    """The mapped table (staging.split_by_kind) of an `events_sql` table: stages merged,
    one row per binding subject (see k8s.py)."""
    return f"""
WITH canon AS (
  -- Each record → the record of its auditID it is mapped from (see "Stages").
  -- Stages of one request share its auditID *and* what the request was; records that
  -- only share the auditID are other requests, mapped on their own (see "Stages").
  SELECT _row AS own_row,
         first_value(_row) OVER (PARTITION BY coalesce(audit, '#' || _row),
                                              {text('received')}, verb_text,
                                              {text('request_uri')}, actor
                                 ORDER BY stage_rank, _row) AS canon_row
  FROM {events}),
merged AS (
  SELECT own._row, own._loc, own._raw,
         coalesce(own.reason, e.reason) AS reason,
         e.* EXCLUDE (_row, _loc, _raw, _bad, reason),
         CASE WHEN e.meaning = 'binding' THEN json_array_length(e.subjects) ELSE 1 END AS n
  FROM {events} own
  JOIN canon ON canon.own_row = own._row
  JOIN {events} e ON e._row = canon.canon_row),
expanded AS (
  SELECT m.*, i,
         CASE WHEN m.meaning = 'binding'
              THEN json_extract(m.subjects, '$[' || (i - 1) || ']') END AS s
  FROM merged m, range(1, CAST(m.n AS BIGINT) + 1) AS t(i))
SELECT
  _row,
  CASE WHEN n > 1 THEN _loc || ' subject ' || i ELSE _loc END AS _loc,
  _raw,
  reason AS _bad,
  CASE WHEN meaning = 'action' OR reason IS NOT NULL THEN 'actions'
       ELSE 'privileges' END AS _kind,
  CASE WHEN i = 1 THEN audit ELSE audit || '/' || i END AS event_id,
  ts,
  actor,
  CASE WHEN actor LIKE 'system:serviceaccount:%' THEN 'service'
       WHEN actor LIKE 'system:node:%' OR actor LIKE 'system:kube-%'
            OR actor = 'system:apiserver' THEN 'system'
  END AS actor_type,
  CASE WHEN meaning = 'binding' THEN
    CASE WHEN (s ->> '$.kind') = 'ServiceAccount'
         THEN 'system:serviceaccount:' || coalesce(s ->> '$.namespace', ns, 'default')
              || ':' || (s ->> '$.name')
         ELSE s ->> '$.name' END
  END AS subject,
  CASE WHEN meaning = 'binding' THEN role ->> '$.name' END AS privilege,
  CASE WHEN verb_text = 'delete' THEN 'revoke' ELSE 'grant' END AS operation,
  role ->> '$.kind' AS role_kind,
  -- An RBAC binding has no place for an approval (controls/grant_controls.sql).
  CASE WHEN meaning = 'binding' THEN false END AS source_carries_approval,
  -- What a role or cluster role allows, as stored (response) when logged, else as
  -- requested: the Kubernetes rules read its verbs and resources.
  CASE WHEN res IN ('roles', 'clusterroles')
       THEN coalesce(response_rules, request_rules) END AS role_rules,
  {text('name')} AS binding,
  s ->> '$.kind' AS subject_kind,
  CASE WHEN res IS NULL THEN verb_text
       ELSE verb_text || ' ' || concat_ws('/', res, {text('subresource')}) END
    || CASE WHEN dry_run THEN ' (dry run)' ELSE '' END AS action,
  '{SYSTEM}' AS system,
  CASE WHEN dry_run THEN NULL
       WHEN res = 'serviceaccounts' AND {text('subresource')} = 'token'
        AND {text('name')} IS NOT NULL
       THEN 'system:serviceaccount:' || coalesce(ns, 'default') || ':' || {text('name')}
       -- A legacy token Secret created for a service account: a credential of it.
       WHEN res = 'secrets' AND verb_text = 'create'
        AND coalesce({text('response_secret_type')}, {text('request_secret_type')})
            = 'kubernetes.io/service-account-token'
        AND coalesce({text('response_token_account')}, {text('request_token_account')})
            IS NOT NULL
       THEN 'system:serviceaccount:' || coalesce(ns, 'default') || ':'
            || coalesce({text('response_token_account')}, {text('request_token_account')})
  END AS target_account,
  CASE WHEN res IS NULL THEN {text('request_uri')}
       ELSE concat_ws('/',
              CASE WHEN ns IS NOT NULL AND res <> 'namespaces' THEN 'namespaces/' || ns END,
              res, {text('name')}, {text('subresource')}) END AS object,
  'api' AS channel,
  -- A request logged only when received has no response: its outcome is unknown
  -- (NULL, kept so by k8s.NO_DEFAULT), never the kind's default, success.
  CASE WHEN failed THEN 'failure' WHEN {text('stage')} = 'RequestReceived' THEN NULL
       ELSE 'success' END AS result,
  {text('source_ip')} AS source_ip,
  res AS resource, {text('subresource')} AS subresource, ns AS namespace,
  {text('name')} AS name, {text('api_group')} AS api_group,
  response_reason, response_message, {text('stage')} AS stage, level,
  audit AS audit_id, verb_text AS verb, user_agent, groups, impersonated_user, request_uri,
  response_code, annotations, CASE WHEN dry_run THEN true END AS dry_run
FROM expanded
"""
