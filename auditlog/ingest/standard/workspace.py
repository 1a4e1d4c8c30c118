"""Google Workspace Admin SDK Reports activities (`admin#reports#activity`) → privileges
and actions.

An activity (`kind`, `id{time, uniqueQualifier, applicationName, customerId}`,
`actor{email, profileId, callerType}`, `ipAddress`, `events[]{type, name, parameters[]}`)
holds one or more events; **each event is one row**. Collectors that split activities
(Filebeat/Elastic Agent write one event per line, `events` then an object) give one
event per record, read the same way; so does Panther's GSuite.ActivityEvent, whose
record is one event flattened into its activity (`name`, `type` and `parameters` beside
`id` and `actor`, the parameters an object `{"ROLE_NAME": "x"}` rather than the API's
list). `id.time` is UTC (also when an export dropped its zone). A saved `activities.list` answer (`{"kind":
"admin#reports#activities", "items": [...]}`) is read as its items, located "element 1
item 3"; a record of another `kind` is quarantined with that reason.

* A **grant**: `ASSIGN_ROLE` (role `ROLE_NAME` to `USER_EMAIL`), `ADD_GROUP_MEMBER`
  (group `GROUP_EMAIL` to `USER_EMAIL`, or `MEMBER_EMAIL`), `GRANT_ADMIN_PRIVILEGE`
  (super administrator to `USER_EMAIL`; privilege "Super Admin") and
  `GRANT_DELEGATED_ADMIN_PRIVILEGES`. **Revokes**: `UNASSIGN_ROLE`,
  `REMOVE_GROUP_MEMBER`, `REVOKE_ADMIN_PRIVILEGE`, `REVOKE_DELEGATED_ADMIN_PRIVILEGES`.
  An event without its user or role/group parameter is kept as an action.
* Account lifecycle (`CREATE_USER`, `DELETE_USER`, `SUSPEND_USER`, `UNSUSPEND_USER`,
  `UNDELETE_USER`, ...) and everything else are **actions**: action = the event name,
  target_account = `USER_EMAIL`, object = the group, role, application, setting or
  domain the event names. (The accounts kind is a directory snapshot; a lifecycle event
  is an action on the account.)
* system: `google-workspace/<applicationName>` for actions ("google-workspace/admin",
  "google-workspace/login"). A privilege has none ("any system", as the privilege rules
  read it): a Workspace role or Super Admin applies to every application of the tenant,
  not to one of them (as an IAM policy applies to a whole AWS account in the CloudTrail
  adapter), and a group membership to whatever the group is used for; naming one system
  would keep the rules from ever joining a role to the admin actions it allows.

**Event ids.** `uniqueQualifier` tells apart activities logged at the same `time`, and
the events of one activity share it, so an event of an `events` array is
`<uniqueQualifier>/<index>` (index from 0, its place in the array). A split record
(`events` an object) has lost its index; its event is `<uniqueQualifier>/<first 12 hex
of md5 of the event>`, so the same event split twice is a duplicate, and two events of
one activity are not taken for a conflict.

**Principals.** actor = `actor.email` lowercased (Google account emails are
case-insensitive), else the API key (`actor.key`) or `profileId` for callers without
an email; subject = `USER_EMAIL` lowercased. `profileId`, `callerType` and the raw
actor are kept in `extra`; every event's `parameters` too.

Workspace grants carry no ticket or approver, so privilege rows say
`extra.source_carries_approval` false (grant_without_approval skips them). A record
without `id.time`, without events or without an actor is quarantined with that reason.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import DOCS, Staged, extract, key, split_by_kind, text

NAME = "workspace"
SYSTEM = "google-workspace"

# event name → (operation, the parameter naming the privilege, or "=" and the privilege)
GRANTS = {
    "ASSIGN_ROLE": ("grant", "ROLE_NAME"),
    "UNASSIGN_ROLE": ("revoke", "ROLE_NAME"),
    "ADD_GROUP_MEMBER": ("grant", "GROUP_EMAIL"),
    "REMOVE_GROUP_MEMBER": ("revoke", "GROUP_EMAIL"),
    "GRANT_ADMIN_PRIVILEGE": ("grant", "=Super Admin"),
    "REVOKE_ADMIN_PRIVILEGE": ("revoke", "=Super Admin"),
    "GRANT_DELEGATED_ADMIN_PRIVILEGES": ("grant", "=Delegated Admin"),
    "REVOKE_DELEGATED_ADMIN_PRIVILEGES": ("revoke", "=Delegated Admin"),
}

FIELDS = {
    "kind": key("kind"),
    "time": "$.id.time",
    "unique_qualifier": "$.id.uniqueQualifier",
    "application_name": "$.id.applicationName",
    "customer_id": "$.id.customerId",
    "actor": key("actor"),
    "source_ip": key("ipAddress"),
    "source_ip_lc": key("ipaddress"),
    # Panther's GSuite.ActivityEvent: one event per record, its members at the top.
    "flat_name": key("name"),
    "flat_type": key("type"),
    "flat_parameters": key("parameters"),
    "owner_domain": key("ownerDomain"),
    "events": key("events"),
    "network_info": key("networkInfo"),
}

EXTRA_COMMON = ["event_type", "application_name", "customer_id", "caller_type",
                "profile_id", "actor_raw", "owner_domain", "parameters", "network_info"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "actor_type", "subject", "privilege",
                   "operation", "system", "source_ip", "event_name", "org_unit",
                   "source_carries_approval", *EXTRA_COMMON],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system",
                "target_account", "object", "channel", "result", "source_ip",
                *EXTRA_COMMON],
}


class GoogleWorkspace:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        # An activity, or a page of them as activities.list answers (`items`).
        if {"kind", "id", "actor", "events"} <= keys or {"kind", "items"} <= keys:
            return True
        # One event flattened into its activity (Panther's GSuite.ActivityEvent: `name`,
        # `type`, `parameters` as an object, beside `id` and `actor`).
        return ({"id", "name"} <= keys and "events" not in keys
                and bool("kind" in keys or "parameters" in keys or {"actor", "type"} <= keys))

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _workspace_grants AS {_grants_values()}")
        # Unwrapping pages parses every record once more; a file holds none unless some
        # record's text names the page's key, which is much cheaper to look for.
        (pages,) = con.execute(f"SELECT count(*) FROM {DOCS} "
                               "WHERE _raw LIKE '%\"items\"%'").fetchone() or (0,)
        source = "_workspace_docs" if pages else DOCS
        if pages:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _workspace_docs AS {ACTIVITIES_SQL}")
        con.execute("CREATE OR REPLACE TEMP TABLE _workspace_fields AS "
                    + extract(FIELDS, source=source))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _workspace_mapped AS {MAPPED_SQL}")
        con.execute("DROP TABLE _workspace_fields")
        con.execute("DROP TABLE IF EXISTS _workspace_docs")
        con.execute("DROP TABLE _workspace_grants")
        return split_by_kind(con, "_workspace_mapped", NAME, COLUMNS, default_kind="actions")


def _grants_values() -> str:
    rows = ", ".join(
        f"('{name}', '{op}', "
        + (f"NULL, '{source[1:]}'" if source.startswith("=") else f"'{source}', NULL") + ")"
        for name, (op, source) in GRANTS.items()
    )
    return (f"SELECT * FROM (VALUES {rows}) "
            "AS t(event_name, operation, privilege_param, privilege_constant)")


def _param(name: str) -> str:
    """SQL: the value of the event's parameter `name` as text (value, intValue,
    boolValue, or a multiValue's JSON), NULL when absent."""
    found = f"list_filter(params, lambda p: (p ->> '$.name') = '{name}')[1]"
    return (f"nullif(trim(coalesce({found} ->> '$.value', {found} ->> '$.intValue', "
            f"{found} ->> '$.boolValue', CAST({found} -> '$.multiValue' AS VARCHAR))), '')")


def _param_by(column: str) -> str:
    """SQL: the value of the parameter whose name is in `column` (see _param)."""
    found = f"list_filter(params, lambda p: (p ->> '$.name') = {column})[1]"
    return f"nullif(trim({found} ->> '$.value'), '')"


# The activities of `DOCS`: a page (`items`, as the API answers activities.list) gives
# one per item, located "element 2 item 5"; an activity is itself. A page without items
# still gives one row, to be quarantined, so that nothing read goes unaccounted.
ACTIVITIES_SQL = f"""
WITH typed AS (
  -- A malformed record (`_bad`) is not parsed: its reason stands.
  SELECT *, CASE WHEN _bad IS NULL THEN json_type(_raw, '$.items') END = 'ARRAY' AS is_page
  FROM {DOCS}),
pages AS (
  SELECT *, CASE WHEN is_page THEN json_array_length(_raw, '$.items') ELSE 1 END AS n
  FROM typed)
SELECT _row,
       CASE WHEN is_page AND n > 0 THEN _loc || ' item ' || (i + 1) ELSE _loc END AS _loc,
       CASE WHEN is_page AND n > 0
            THEN CAST(json_extract(_raw, '$.items[' || i || ']') AS VARCHAR)
            ELSE _raw END AS _raw,
       CASE WHEN _bad IS NOT NULL THEN _bad
            WHEN is_page AND n = 0 THEN 'Google Workspace activities page without items'
            WHEN is_page AND json_type(_raw, '$.items[' || i || ']') <> 'OBJECT'
              THEN 'not a JSON object'
       END AS _bad
FROM pages, range(0, CAST(greatest(n, 1) AS BIGINT)) AS t(i)
"""

def _pointer(key_sql: str) -> str:
    return f"'/' || replace(replace({key_sql}, '~', '~0'), '/', '~1')"


# A flattened event (flat_*) as the event object an activity's `events` holds, its
# parameters map ({"ROLE_NAME": "x"}) as the API's list ([{"name": ..., "value": ...}]).
_FLAT_PARAMETERS = f"""CASE json_type(f.flat_parameters)
  WHEN 'ARRAY' THEN f.flat_parameters
  WHEN 'OBJECT' THEN to_json(list_transform(json_keys(f.flat_parameters), lambda k:
    CASE WHEN json_type(json_extract(f.flat_parameters, {_pointer('k')})) = 'ARRAY'
         THEN json_object('name', k, 'multiValue',
                          json_extract(f.flat_parameters, {_pointer('k')}))
         ELSE json_object('name', k, 'value',
                          json_extract_string(f.flat_parameters, {_pointer('k')})) END))
END"""
_EVENTS = f"""CASE WHEN f.events IS NULL AND {text('f.flat_name')} IS NOT NULL
  THEN json_object('type', {text('f.flat_type')}, 'name', {text('f.flat_name')},
                   'parameters', {_FLAT_PARAMETERS})
  ELSE f.events END"""

MAPPED_SQL = f"""
WITH flattened AS (
  SELECT f.* REPLACE ({_EVENTS} AS events,
                      coalesce(f.source_ip, f.source_ip_lc) AS source_ip)
  FROM _workspace_fields f),
records AS (
  SELECT f.*,
         -- The Reports API writes UTC; an export that dropped the zone still means UTC.
         CASE WHEN regexp_full_match({text('time')},
                '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}})?(\\.[0-9]+)?')
              THEN {text('time')} || 'Z' ELSE {text('time')} END AS ts,
         {text('unique_qualifier')} AS uq,
         {text('application_name')} AS app,
         json_type(f.events) AS events_type,
         CASE json_type(f.events) WHEN 'ARRAY' THEN json_array_length(f.events)
                                  WHEN 'OBJECT' THEN 1 ELSE 0 END AS n_events,
         CASE WHEN json_type(f.actor) = 'OBJECT'
              THEN coalesce(lower(nullif(trim(f.actor ->> '$.email'), '')),
                            nullif(trim(f.actor ->> '$.key'), ''),
                            nullif(trim(f.actor ->> '$.profileId'), '')) END AS actor_id
  FROM flattened f),
expanded AS (
  -- An activity with no events still stages one row, to be quarantined: none is lost.
  SELECT r.*, i,
         CASE WHEN events_type = 'ARRAY' THEN json_extract(r.events, '$[' || i || ']')
              WHEN events_type = 'OBJECT' THEN r.events END AS e
  FROM records r, range(0, CAST(greatest(r.n_events, 1) AS BIGINT)) AS t(i)),
evented AS (
  SELECT x.*,
         nullif(trim(e ->> '$.name'), '') AS ename,
         CASE WHEN json_type(e -> '$.parameters') = 'ARRAY'
              THEN TRY_CAST(e -> '$.parameters' AS JSON[]) ELSE []::JSON[] END AS params
  FROM expanded x),
classified AS (
  SELECT v.*, g.operation,
         lower({_param('USER_EMAIL')}) AS user_email,
         coalesce(g.privilege_constant, {_param_by('g.privilege_param')}) AS priv,
         CASE
           WHEN v._bad IS NOT NULL THEN v._bad
           WHEN {text('v.kind')} <> 'admin#reports#activity'
             THEN 'not a Google Workspace activity (kind ' || {text('v.kind')} || ')'
           WHEN v.ts IS NULL THEN 'Google Workspace activity without id.time'
           WHEN v.n_events = 0 THEN 'Google Workspace activity without events'
           WHEN v.ename IS NULL THEN 'Google Workspace event without name'
           WHEN v.actor_id IS NULL THEN 'Google Workspace activity without an actor'
         END AS reason
  FROM evented v
  LEFT JOIN _workspace_grants g ON g.event_name = v.ename)
SELECT
  _row,
  CASE WHEN n_events > 1 THEN _loc || ' event ' || (i + 1) ELSE _loc END AS _loc,
  _raw,
  reason AS _bad,
  CASE WHEN reason IS NULL AND operation IS NOT NULL
        AND coalesce(user_email, lower({_param('MEMBER_EMAIL')})) IS NOT NULL
        AND priv IS NOT NULL
       THEN 'privileges' ELSE 'actions' END AS _kind,
  coalesce(uq, ts) || '/' || CASE WHEN events_type = 'ARRAY' THEN CAST(i AS VARCHAR)
                                  ELSE substr(md5(CAST(e AS VARCHAR)), 1, 12) END
    AS event_id,
  ts,
  actor_id AS actor,
  CASE WHEN (actor ->> '$.callerType') = 'KEY' THEN 'service' END AS actor_type,
  coalesce(user_email, lower({_param('MEMBER_EMAIL')})) AS subject,
  priv AS privilege,
  operation,
  CASE WHEN operation IS NOT NULL THEN NULL
       ELSE '{SYSTEM}/' || coalesce(app, 'unknown') END AS system,
  {text('source_ip')} AS source_ip,
  ename AS event_name,
  {_param('ORG_UNIT_NAME')} AS org_unit,
  false AS source_carries_approval,
  ename AS action,
  user_email AS target_account,
  coalesce({_param('GROUP_EMAIL')}, {_param('ROLE_NAME')}, {_param('APPLICATION_NAME')},
           {_param('SETTING_NAME')}, {_param('DOMAIN_NAME')}, {_param('DOC_ID')},
           {_param('doc_id')})
    AS object,
  CASE WHEN (actor ->> '$.callerType') = 'KEY' THEN 'api' END AS channel,
  'success' AS result,
  e ->> '$.type' AS event_type,
  application_name, customer_id,
  actor -> '$.callerType' AS caller_type,
  actor -> '$.profileId' AS profile_id,
  actor AS actor_raw,
  owner_domain,
  e -> '$.parameters' AS parameters,
  network_info
FROM classified
"""
