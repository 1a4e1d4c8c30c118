"""Okta System Log events (`/api/v1/logs`, event hooks' `data.events[]`) → privileges and
actions.

Records are LogEvents as `/api/v1/logs` answers them (an array, or one per line as
collectors write them), or event hook deliveries (`{"eventType": "com.okta.event_hook",
"data": {"events": [...]}}`), read as their events, located "line 2 event 3".

One LogEvent (`uuid`, `published`, `eventType`, `actor`, `target[]`, `outcome`, ...) is
one row, except a privilege grant naming several roles (below). Data lakes and SIEM
exports (Panther, Snowflake) give LogEvents back with their top-level keys lower-cased
(`eventtype`, `displaymessage`, `debugcontext`); they are read the same.

* A successful **grant**: `user.account.privilege.grant` (admin roles given to a user),
  `group.privilege.grant` (admin roles given to a group), `group.user_membership.add`,
  `application.user_membership.add`, and `iam.*` events that add or assign a role or
  binding (`iam.role.*`/`iam.resourceset.bindings.*` ending in add/assign/grant). The
  matching remove/revoke/unassign events are **revokes**. subject = the User target's
  login (`alternateId`), for a group grant the UserGroup's name; privilege = the role
  (a target whose type names a role, else each role listed in
  `debugContext.debugData.privilegeGranted`/`privilegeRevoked`), the group (UserGroup
  target) or the application (AppInstance target), by displayName, else id. An event
  that names no subject or no privilege is kept as an action, as a Kubernetes binding
  logged without its subjects is.
* Account lifecycle (`user.lifecycle.create/activate/deactivate/suspend/unsuspend/
  delete`, ...) and everything else are **actions**: action = eventType, target_account
  = the User target's login (the account concerned), object = the first target's
  displayName. The accounts kind is a directory snapshot keyed by account, so a
  lifecycle event is an action, not a directory row.
* `outcome.result` FAILURE or DENY is result `failure`; a failed grant granted nothing,
  so it is such an action.

**Principals.** An Okta principal has an id (`00u…`) and a login (`alternateId`, an
email-like name); the login is what admins, other logs and the accounts directory use,
so actor and subject are the login, lowercased (Okta logins are case-insensitive), with
the id as fallback when the login is missing or `unknown`. The Okta id is kept in
`extra.actor_okta_id` / `extra.subject_okta_id` and the whole actor object in
`extra.actor_raw`: never a JSON object as an id. actor_type: `system` for Okta's
SystemPrincipal, `service` for API clients (PublicClientApp, OAuth2Client, apps).

**Several roles, several rows.** `privilegeGranted` lists the roles of one grant
("Organization administrator, Application administrator (all)"); each is a row sharing
the record's `_row`, located "line 3 privilege 2" and identified `uuid` (first) and
`uuid/k` (k-th, k >= 2), as Kubernetes bindings are.

Okta grants carry no approval ticket or approver, so privilege rows say so
(`extra.source_carries_approval` false) and grant_without_approval does not read them
as unapproved. `published` is UTC (Okta writes it so; an export that dropped the `Z` is
read as UTC). A record without eventType, published or an actor is quarantined with that
reason.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import DOCS, Staged, extract, key, split_by_kind, text

NAME = "okta"
SYSTEM = "okta"

GRANT_TYPES = ("user.account.privilege.grant", "group.privilege.grant",
               "group.user_membership.add", "application.user_membership.add")
REVOKE_TYPES = ("user.account.privilege.revoke", "group.privilege.revoke",
                "group.user_membership.remove", "application.user_membership.remove")

FIELDS = {
    "uuid": key("uuid"),
    "published": key("published"),
    "event_type": key("eventType"),
    "display_message": key("displayMessage"),
    "legacy_event_type": key("legacyEventType"),
    "severity": key("severity"),
    "actor": key("actor"),
    "targets": key("target"),
    "outcome_result": "$.outcome.result",
    "outcome_reason": "$.outcome.reason",
    "source_ip": "$.client.ipAddress",
    "user_agent": "$.client.userAgent.rawUserAgent",
    "session_id": "$.authenticationContext.externalSessionId",
    "transaction_id": "$.transaction.id",
    "transaction_type": "$.transaction.type",
    "debug_data": "$.debugContext.debugData",
}

# Okta writes camelCase keys; data lakes and SIEM exports (Panther's, Snowflake's) hand
# LogEvents back with their top-level keys lower-cased (`eventtype`, `displaymessage`,
# `debugcontext`), the nested ones as Okta wrote them. A field is read under either.
def _lowered(path: str) -> str:
    """`path` (a JSON pointer `/key` or `$.key.rest`) with its top-level key lower-cased."""
    if path.startswith("/"):
        return path.lower()
    top, _, rest = path.removeprefix("$.").partition(".")
    return "$." + top.lower() + ("." + rest if rest else "")


LOWERED = {f"{name}_lc": _lowered(path) for name, path in FIELDS.items()
           if _lowered(path) != path}
FIELDS_SQL = (
    "SELECT * EXCLUDE (" + ", ".join(LOWERED) + ") REPLACE ("
    + ", ".join(f"coalesce({n.removesuffix('_lc')}, {n}) AS {n.removesuffix('_lc')}"
                for n in LOWERED) + ") FROM ({extracted})")

EXTRA_COMMON = ["event_type", "display_message", "legacy_event_type", "severity",
                "outcome_result", "outcome_reason", "actor_okta_id", "actor_raw",
                "targets", "user_agent", "transaction_id", "debug_data"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "actor_type", "subject", "privilege",
                   "operation", "system", "source_ip", "subject_okta_id", "privilege_id",
                   "source_carries_approval", *EXTRA_COMMON],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system",
                "target_account", "object", "channel", "result", "source_ip", "session_id",
                *EXTRA_COMMON],
}


# Members only a LogEvent has (lower-cased), beside eventType and actor: what tells one
# that lost its uuid (or its time) from another log's record.
_LOGEVENT_OWN = frozenset({"legacyeventtype", "displaymessage", "outcome", "client",
                           "debugcontext", "authenticationcontext", "securitycontext"})


class Okta:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        # LogEvents, or event hook deliveries wrapping them (`data.events`).
        # LogEvents (their top-level keys in any case: see LOWERED), also those a copy
        # left without its time or actor (quarantined saying so), or event hook
        # deliveries wrapping them (`data.events`).
        lowered = {k.lower() for k in keys}
        return ({"eventtype", "uuid"} <= lowered
                or ({"eventtype", "actor"} <= lowered
                    and bool(lowered & _LOGEVENT_OWN))
                or {"eventType", "cloudEventsVersion", "data"} <= keys)

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        # Unwrapping deliveries parses every record once more; a file holds none unless
        # some record's text names the envelope's key, which is much cheaper to look for.
        (hooks,) = con.execute(f"SELECT count(*) FROM {DOCS} "
                               "WHERE _raw LIKE '%\"cloudEventsVersion\"%'").fetchone() or (0,)
        source = "_okta_docs" if hooks else DOCS
        if hooks:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _okta_docs AS {DELIVERIES_SQL}")
        con.execute("CREATE OR REPLACE TEMP TABLE _okta_fields AS " + FIELDS_SQL.format(
            extracted=extract({**FIELDS, **LOWERED}, source=source)))
        con.execute("DROP TABLE IF EXISTS _okta_docs")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _okta_events AS {EVENTS_SQL}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _okta_mapped AS {MAPPED_SQL}")
        con.execute("DROP TABLE _okta_fields")
        con.execute("DROP TABLE _okta_events")
        return split_by_kind(con, "_okta_mapped", NAME, COLUMNS, default_kind="actions")


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _target(types: str) -> str:
    """SQL: the first target whose type is one of `types` (an SQL list), as JSON."""
    return (f"list_filter(tlist, lambda t: (t ->> '$.type') IN ({types}))[1]")


# A principal's normal form: its login lowercased, else its id (see "Principals").
def _login(obj: str) -> str:
    return (f"lower(nullif(nullif(trim({obj} ->> '$.alternateId'), ''), 'unknown'))")


def _name(obj: str) -> str:
    return (f"coalesce(nullif(trim({obj} ->> '$.displayName'), ''), "
            f"nullif(trim({obj} ->> '$.id'), ''))")


# The LogEvents of `DOCS`: an event hook delivery (`{"eventType": "com.okta.event_hook",
# "data": {"events": [...]}}`) gives one per event, located "line 2 event 3"; a LogEvent
# is itself. A delivery without events still gives one row, to be quarantined.
DELIVERIES_SQL = f"""
WITH typed AS (
  -- A malformed record (`_bad`) is not parsed: its reason stands.
  SELECT *, CASE WHEN _bad IS NULL THEN json_type(_raw, '$.data.events') END = 'ARRAY'
              AND CASE WHEN _bad IS NULL THEN json_type(_raw, '$.uuid') END IS NULL
              AS is_hook
  FROM {DOCS}),
hooks AS (
  SELECT *, CASE WHEN is_hook THEN json_array_length(_raw, '$.data.events') ELSE 1 END AS n
  FROM typed)
SELECT _row,
       CASE WHEN is_hook AND n > 0 THEN _loc || ' event ' || (i + 1) ELSE _loc END AS _loc,
       CASE WHEN is_hook AND n > 0
            THEN CAST(json_extract(_raw, '$.data.events[' || i || ']') AS VARCHAR)
            ELSE _raw END AS _raw,
       CASE WHEN _bad IS NOT NULL THEN _bad
            WHEN is_hook AND n = 0 THEN 'Okta event hook delivery without events'
            WHEN is_hook AND json_type(_raw, '$.data.events[' || i || ']') <> 'OBJECT'
              THEN 'not a JSON object'
       END AS _bad
FROM hooks, range(0, CAST(greatest(n, 1) AS BIGINT)) AS t(i)
"""

# One row per record: what it means, before several roles are expanded.
EVENTS_SQL = f"""
WITH records AS (
  SELECT f.*,
         {text('uuid')} AS uid,
         {text('event_type')} AS etype,
         -- Okta publishes UTC; a copy that dropped the zone still means UTC.
         CASE WHEN regexp_full_match({text('published')},
                                     '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}})?(\\.[0-9]+)?')
              THEN {text('published')} || 'Z' ELSE {text('published')} END AS ts,
         CASE WHEN json_type(f.targets) = 'ARRAY' THEN TRY_CAST(f.targets AS JSON[])
              ELSE []::JSON[] END AS tlist,
         CASE WHEN json_type(f.actor) = 'OBJECT'
              THEN coalesce({_login('f.actor')}, nullif(trim(f.actor ->> '$.id'), ''))
         END AS actor_id,
         upper({text('outcome_result')}) IN ('FAILURE', 'DENY') AS failed
  FROM _okta_fields f),
targeted AS (
  SELECT r.*,
         {_target("'User'")} AS user_t,
         {_target("'UserGroup'")} AS group_t,
         {_target("'AppInstance'")} AS app_t,
         list_filter(tlist, lambda t: (t ->> '$.type') ILIKE '%role%')[1] AS role_t,
         CASE
           WHEN etype IN ({_listed(GRANT_TYPES)})
             OR regexp_matches(etype, '^iam\\.(role|resourceset\\.bindings)\\..*(add|assign|grant)$')
             THEN 'grant'
           WHEN etype IN ({_listed(REVOKE_TYPES)})
             OR regexp_matches(etype,
                               '^iam\\.(role|resourceset\\.bindings)\\..*(remove|unassign|revoke)$')
             THEN 'revoke'
         END AS op
  FROM records r),
meant AS (
  SELECT t.*,
         -- The account whose privileges changed: a user, or for a group grant the group.
         CASE WHEN etype LIKE 'group.privilege.%' THEN {_name('group_t')}
              ELSE coalesce({_login('user_t')}, nullif(trim(user_t ->> '$.id'), ''))
         END AS subj,
         CASE WHEN etype LIKE 'group.privilege.%' THEN group_t ->> '$.id'
              ELSE user_t ->> '$.id' END AS subj_id,
         CASE
           WHEN role_t IS NOT NULL THEN [{_name('role_t')}]
           WHEN etype LIKE '%.privilege.%' THEN list_filter(list_transform(
               string_split(coalesce(debug_data ->> '$.privilegeGranted',
                                     debug_data ->> '$.privilegeRevoked', ''), ','),
               lambda p: trim(p)), lambda p: p <> '')
           WHEN etype LIKE 'group.user_membership.%' AND group_t IS NOT NULL
             THEN [{_name('group_t')}]
           WHEN etype LIKE 'application.user_membership.%' AND app_t IS NOT NULL
             THEN [{_name('app_t')}]
           ELSE []
         END AS privs,
         CASE WHEN role_t IS NOT NULL THEN role_t ->> '$.id'
              WHEN etype LIKE 'group.user_membership.%' THEN group_t ->> '$.id'
              WHEN etype LIKE 'application.user_membership.%' THEN app_t ->> '$.id'
         END AS priv_id,
         CASE
           WHEN _bad IS NOT NULL THEN _bad
           WHEN etype IS NULL THEN 'Okta System Log event without eventType'
           WHEN ts IS NULL THEN 'Okta System Log event without published'
           WHEN actor_id IS NULL THEN 'Okta System Log event without an actor'
         END AS reason
  FROM targeted t)
SELECT *,
       CASE WHEN reason IS NULL AND NOT failed AND op IS NOT NULL AND subj IS NOT NULL
             AND len(privs) > 0 THEN 'privilege' ELSE 'action' END AS meaning
FROM meant
"""

MAPPED_SQL = f"""
WITH sized AS (
  SELECT *, CASE WHEN meaning = 'privilege' THEN len(privs) ELSE 1 END AS n
  FROM _okta_events),
expanded AS (
  SELECT s.*, i FROM sized s, range(1, CAST(s.n AS BIGINT) + 1) AS t(i))
SELECT
  _row,
  CASE WHEN n > 1 THEN _loc || ' privilege ' || i ELSE _loc END AS _loc,
  _raw,
  reason AS _bad,
  CASE WHEN meaning = 'privilege' THEN 'privileges' ELSE 'actions' END AS _kind,
  CASE WHEN i = 1 THEN uid ELSE uid || '/' || i END AS event_id,
  ts,
  actor_id AS actor,
  CASE WHEN (actor ->> '$.type') = 'SystemPrincipal' THEN 'system'
       WHEN (actor ->> '$.type') IN ('PublicClientApp', 'OAuth2Client', 'AppInstance',
                                     'Client', 'API_TOKEN') THEN 'service'
  END AS actor_type,
  subj AS subject,
  CASE WHEN meaning = 'privilege' THEN privs[i] END AS privilege,
  op AS operation,
  -- Okta admin roles apply to Okta; a group or app membership to what it is assigned to.
  CASE WHEN meaning = 'action' OR etype LIKE '%.privilege.%' OR etype LIKE 'iam.%'
       THEN '{SYSTEM}' END AS system,
  subj_id AS subject_okta_id,
  priv_id AS privilege_id,
  false AS source_carries_approval,
  etype AS action,
  coalesce({_login('user_t')}, nullif(trim(user_t ->> '$.id'), '')) AS target_account,
  CASE WHEN len(tlist) > 0 THEN {_name('tlist[1]')} END AS object,
  -- A JOB transaction is Okta's own batch (imports, workflows); WEB is a request.
  CASE upper({text('transaction_type')}) WHEN 'JOB' THEN 'batch' WHEN 'WEB' THEN 'api'
  END AS channel,
  CASE WHEN failed THEN 'failure' ELSE 'success' END AS result,
  {text('source_ip')} AS source_ip,
  {text('session_id')} AS session_id,
  etype AS event_type,
  display_message, legacy_event_type, severity, outcome_result, outcome_reason,
  actor -> '$.id' AS actor_okta_id,
  actor AS actor_raw,
  targets, user_agent, transaction_id, debug_data
FROM expanded
"""
