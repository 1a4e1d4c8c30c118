"""GitHub organization and enterprise audit log → privileges and actions.

Records come from the REST API (`/orgs/{org}/audit-log`, `/enterprises/{e}/audit-log`),
the JSON/CSV export, or audit log streaming (S3, Azure Event Hubs, Splunk, ...), one
object per event: `action` ("org.add_member"), `actor` (login), `@timestamp` and/or
`created_at` (epoch milliseconds), `_document_id`, and the event's own fields (`org`,
`business`, `user`, `team` or `data.team`, `repo` or `repository`, `permission`,
`old_permission`, `actor_location`, `actor_ip`, token fields, ...).

* **Privileges.** A change of who holds a role (module table `ROLE_EVENTS`) is one or
  more privilege rows, subject = `user` (or, for a team's repository access, the team):

  | event | rows |
  |---|---|
  | org.add_member / org.remove_member | grant / revoke `org:<org>:<member or admin>` |
  | org.update_member (naming `permission`) | grant the new role, revoke the old one |
  | org.add_billing_manager / org.remove_billing_manager | `org:<org>:billing_manager` |
  | business.add_admin / business.remove_admin | `business:<enterprise>:admin` |
  | business.add_billing_manager / business.remove_billing_manager | `business:<enterprise>:billing_manager` |
  | team.add_member / team.remove_member | `team:<org>/<team>` |
  | team.promote_maintainer / team.demote_maintainer | `team:<org>/<team>:maintainer` |
  | repo.add_member / repo.remove_member, repo.update_member | `repo:<owner>/<repo>[:<level>]` |
  | team.add_repository / team.remove_repository, team.update_repository_permission | the team gets `repo:<owner>/<repo>[:<level>]` |

  Repository levels are GitHub's (read, triage, write, maintain, admin; the legacy
  pull/push read as read/write); an event naming no level grants `repo:<repo>` (access
  at a level the log does not say). A *removal* naming no role ends every role the
  account can hold there (org: member and admin; team: membership and maintainer;
  repository: every level), so each is a revoke row: the audit event does not say which
  role was held, and leaving an admin grant open after its holder left would be wrong.
  A role change (`permission` + `old_permission`) is a grant of the new role and a
  revoke of the old; an org.update_member naming only `permission` revokes the other org
  role; an update naming no `permission` (it happens) cannot say what changed and is an
  action. An event that names no subject (`user` empty) is an action.
* **Actions**: everything else, action = the event name, system = "github",
  target_account = `user` when the event names one (org.invite_member, user lifecycle
  events such as business.remove_member or user.suspend), object = the repository, team,
  or else org / enterprise. `protected_branch.rejected_ref_update` (a push refused by
  branch protection) has result `failure`; GitHub logs other events only once done.
* **Identity.** GitHub logins are case-insensitive, so `actor` and `subject` are the
  login lowercased (the raw forms kept in `extra.actor_login` / `extra.user_login`, with
  `actor_id` / `user_id`; the actor's login, when lowercasing changed it, also as
  `extra.actor_raw`, the key every adapter keeps a rewritten actor under). Bots
  (`actor_is_bot`, or a login ending in `[bot]`) are `service` accounts, the `github`
  actor itself is `system`. Git events of a public
  repository logged without an actor (anonymous clones) have actor `anonymous`; any
  other record without an actor, action or time is quarantined with that reason.
* **Event id** = `_document_id`; a record without one (older exports) gets
  "github:" + the SHA-256 of its text, so the same line loaded twice is a duplicate. The
  k-th (k >= 2) privilege row of one record takes "<id>/<k>" and location "line N
  change k" (one record, several rows, as in the Kubernetes adapter).
* **Time** = `@timestamp` (Panther's exports: `at_sign_timestamp`), else `created_at`
  (both epoch ms in every export seen; a time written as text without a zone is UTC).
* GitHub records no approval for a membership or role change, so privilege rows carry
  `extra.source_carries_approval = false` (grant_without_approval does not fire on
  them). The record's fields not mapped above are kept in `extra.fields`.
"""

from __future__ import annotations

import json

import duckdb

from auditlog.ingest.staging import Staged, extract, key, split_by_kind, text
from auditlog.sqltext import sql_string

NAME = "github"
SYSTEM = "github"

FIELDS = {
    "document_id": key("_document_id"),
    "action_name": key("action"),
    "actor_login": key("actor"),
    "actor_id": key("actor_id"),
    "actor_is_bot": key("actor_is_bot"),
    "stamp": key("@timestamp"),
    # Panther's name for @timestamp (its tables allow no `@`), as its exports write it.
    "at_sign_stamp": key("at_sign_timestamp"),
    "created_at": key("created_at"),
    "org": key("org"),
    "org_id": key("org_id"),
    "business": key("business"),
    "business_id": key("business_id"),
    "user_login": key("user"),
    "user_id": key("user_id"),
    "team": key("team"),
    "data_team": "$.data.team",
    "repo": key("repo"),
    "repository": key("repository"),
    "permission": key("permission"),
    "old_permission": key("old_permission"),
    "data_permission": "$.data.permission",
    "data_old_permission": "$.data.old_permission",
    "country_code": "$.actor_location.country_code",
    "actor_ip": key("actor_ip"),
    "user_agent": key("user_agent"),
    "operation_type": key("operation_type"),
    "programmatic_access_type": key("programmatic_access_type"),
    "token_id": key("token_id"),
    "token_scopes": key("token_scopes"),
    "hashed_token": key("hashed_token"),
}

# Keys read into columns above; the rest of a record is kept as `extra.fields`.
MAPPED_KEYS = ("_document_id", "action", "actor", "actor_id", "actor_is_bot", "@timestamp",
               "at_sign_timestamp",
               "created_at", "org", "org_id", "business", "business_id", "user", "user_id",
               "team", "repo", "repository", "permission", "old_permission", "actor_ip",
               "user_agent", "operation_type", "programmatic_access_type", "token_id",
               "token_scopes", "hashed_token")
_DROP_MAPPED = json.dumps(dict.fromkeys(MAPPED_KEYS))

# Keys some GitHub record has and no other source's record has at the top level.
_GITHUB_KEYS = {"_document_id", "org", "org_id", "business", "business_id", "repo",
                "actor_location"}

EXTRA_COMMON = ["actor_raw", "actor_login", "actor_id", "user_login", "user_id", "org",
                "org_id", "business", "business_id", "repo", "team", "permission", "old_permission",
                "country_code", "user_agent", "operation_type", "programmatic_access_type",
                "token_id", "token_scopes", "hashed_token", "fields"]
COLUMNS = {
    "privileges": ["event_id", "ts", "actor", "subject", "privilege", "operation", "system",
                   "actor_type", "event_name", "source_ip", "source_carries_approval",
                   *EXTRA_COMMON],
    "actions": ["event_id", "ts", "actor", "actor_type", "action", "system", "target_account",
                "object", "channel", "result", "source_ip", *EXTRA_COMMON],
}


class GitHubAudit:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        # `action` and `actor` alone are too common (native actions files have both);
        # a GitHub record also has an epoch time key and an org/enterprise/repo key, and
        # never the native columns `ts` and `system`.
        # A record a copy left without any time (Panther's test events) is still GitHub's,
        # to quarantine saying so, when it has no native column beside action and actor.
        if "action" not in keys or not keys & _GITHUB_KEYS:
            return False
        if keys & {"@timestamp", "at_sign_timestamp", "created_at"}:
            return not {"ts", "system"} <= keys
        return "actor" in keys and not keys & {"ts", "system"}

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _github_fields AS {extract(FIELDS)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _github_mapped AS {MAPPED_SQL}")
        con.execute("DROP TABLE _github_fields")
        return split_by_kind(con, "_github_mapped", NAME, COLUMNS, default_kind="actions")


def _level(column: str) -> str:
    """A repository permission as GitHub names it today (pull/push are the REST API's
    older names of read/write)."""
    return (f"CASE lower({text(column)}) WHEN 'pull' THEN 'read' WHEN 'push' THEN 'write' "
            f"ELSE lower({text(column)}) END")


def _org_role(level: str) -> str:
    """An org role from a permission: admin stays admin, the rest is membership."""
    return (f"CASE WHEN {level} IS NULL THEN NULL WHEN {level} = 'admin' THEN 'admin' "
            f"ELSE 'member' END")


def _change(op: str, subject: str, privilege: str) -> str:
    return f"{{'op': '{op}', 'subject': {subject}, 'privilege': {privilege}}}"


_REPO_LEVELS = ["", ":read", ":triage", ":write", ":maintain", ":admin"]


def _revoke_all(subject: str, scope: str, suffixes: list[str]) -> str:
    return "[" + ", ".join(_change("revoke", subject, f"{scope} || {sql_string(s)}")
                           for s in suffixes) + "]"


# Each record → the list of privilege changes it makes (NULL or empty: an action); the
# table in the module docstring, one WHEN per event.
CHANGES_SQL = f"""
CASE act
  WHEN 'org.add_member' THEN [{_change('grant', 'subj', "org_scope || ':' || coalesce(new_org, 'member')")}]
  WHEN 'org.remove_member' THEN CASE
    WHEN new_org IS NOT NULL THEN [{_change('revoke', 'subj', "org_scope || ':' || new_org")}]
    ELSE {_revoke_all('subj', 'org_scope', [':member', ':admin'])} END
  WHEN 'org.update_member' THEN CASE WHEN new_org IS NOT NULL THEN
    [{_change('grant', 'subj', "org_scope || ':' || new_org")},
     {_change('revoke', 'subj', "org_scope || ':' || coalesce(old_org, CASE new_org WHEN 'admin' THEN 'member' ELSE 'admin' END)")}] END
  WHEN 'org.add_billing_manager' THEN [{_change('grant', 'subj', "org_scope || ':billing_manager'")}]
  WHEN 'org.remove_billing_manager' THEN [{_change('revoke', 'subj', "org_scope || ':billing_manager'")}]
  WHEN 'business.add_admin' THEN [{_change('grant', 'subj', "biz_scope || ':admin'")}]
  WHEN 'business.remove_admin' THEN [{_change('revoke', 'subj', "biz_scope || ':admin'")}]
  WHEN 'business.add_billing_manager' THEN [{_change('grant', 'subj', "biz_scope || ':billing_manager'")}]
  WHEN 'business.remove_billing_manager' THEN [{_change('revoke', 'subj', "biz_scope || ':billing_manager'")}]
  WHEN 'team.add_member' THEN [{_change('grant', 'subj', 'team_scope')}]
  WHEN 'team.remove_member' THEN {_revoke_all('subj', 'team_scope', ['', ':maintainer'])}
  WHEN 'team.promote_maintainer' THEN [{_change('grant', 'subj', "team_scope || ':maintainer'")}]
  WHEN 'team.demote_maintainer' THEN [{_change('revoke', 'subj', "team_scope || ':maintainer'")}]
  WHEN 'repo.add_member' THEN [{_change('grant', 'subj', "repo_scope || coalesce(':' || new_level, '')")}]
  WHEN 'repo.remove_member' THEN CASE
    WHEN new_level IS NOT NULL THEN [{_change('revoke', 'subj', "repo_scope || ':' || new_level")}]
    ELSE {_revoke_all('subj', 'repo_scope', _REPO_LEVELS)} END
  WHEN 'repo.update_member' THEN CASE WHEN new_level IS NOT NULL THEN list_filter(
    [{_change('grant', 'subj', "repo_scope || ':' || new_level")},
     {_change('revoke', 'subj', "repo_scope || ':' || old_level")}],
    lambda c: c.privilege IS NOT NULL) END
  WHEN 'team.add_repository' THEN [{_change('grant', 'team_name', "repo_scope || coalesce(':' || new_level, '')")}]
  WHEN 'team.remove_repository' THEN CASE
    WHEN new_level IS NOT NULL THEN [{_change('revoke', 'team_name', "repo_scope || ':' || new_level")}]
    ELSE {_revoke_all('team_name', 'repo_scope', _REPO_LEVELS)} END
  WHEN 'team.update_repository_permission' THEN CASE WHEN new_level IS NOT NULL THEN list_filter(
    [{_change('grant', 'team_name', "repo_scope || ':' || new_level")},
     {_change('revoke', 'team_name', "repo_scope || ':' || old_level")}],
    lambda c: c.privilege IS NOT NULL) END
END"""

MAPPED_SQL = f"""
WITH records AS (
  SELECT f.*,
         {text('action_name')} AS act,
         coalesce({text('stamp')}, {text('at_sign_stamp')}, {text('created_at')}) AS ts_text,
         coalesce(lower({text('actor_login')}),
                  CASE WHEN {text('action_name')} LIKE 'git.%' THEN 'anonymous' END) AS actor,
         lower({text('user_login')}) AS subj,
         {text('org')} AS org_name,
         coalesce({text('team')}, {text('data_team')}) AS team_text,
         coalesce({text('repo')}, {text('repository')}) AS repo_name,
         {_level('coalesce(f.permission, f.data_permission)')} AS new_level,
         {_level('coalesce(f.old_permission, f.data_old_permission)')} AS old_level
  FROM _github_fields f),
timed AS (
  -- GitHub's times are UTC (epoch ms); one rendered as text without its zone is UTC too.
  SELECT r.* EXCLUDE (ts_text),
         CASE WHEN regexp_full_match(ts_text, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}})?(\\.[0-9]+)?')
              THEN ts_text || 'Z' ELSE ts_text END AS ts
  FROM records r),
scoped AS (
  SELECT r.*,
         'org:' || org_name AS org_scope,
         'business:' || {text('business')} AS biz_scope,
         -- A team is named "<org>/<slug>" in REST records, by its slug alone in others.
         CASE WHEN team_text IS NULL OR team_text LIKE '%/%' THEN team_text
              ELSE concat_ws('/', org_name, team_text) END AS team_name,
         'repo:' || repo_name AS repo_scope,
         {_org_role('new_level')} AS new_org,
         {_org_role('old_level')} AS old_org,
         CASE
           WHEN _bad IS NOT NULL THEN _bad
           WHEN act IS NULL THEN 'GitHub audit record without action'
           WHEN ts IS NULL THEN 'GitHub audit record without @timestamp or created_at'
           WHEN actor IS NULL THEN 'GitHub audit record without actor'
         END AS reason
  FROM timed r),
teamed AS (
  SELECT *, 'team:' || team_name AS team_scope FROM scoped),
changed AS (
  SELECT s.*,
         CASE WHEN reason IS NULL
              THEN list_filter({CHANGES_SQL},
                               lambda c: c.subject IS NOT NULL AND c.privilege IS NOT NULL)
         END AS changes
  FROM teamed s),
numbered AS (
  -- unnest in the projection: several times faster than a lateral join on range().
  SELECT c.*, unnest(range(1, greatest(len(coalesce(changes, [])), 1) + 1)) AS i
  FROM changed c),
expanded AS (
  SELECT *, CASE WHEN len(coalesce(changes, [])) > 0 THEN changes[i] END AS change
  FROM numbered)
SELECT
  _row,
  CASE WHEN len(coalesce(changes, [])) > 1 THEN _loc || ' change ' || i ELSE _loc END AS _loc,
  _raw,
  reason AS _bad,
  CASE WHEN change IS NOT NULL THEN 'privileges' ELSE 'actions' END AS _kind,
  coalesce({text('document_id')}, 'github:' || sha256(_raw))
    || CASE WHEN i > 1 THEN '/' || i ELSE '' END AS event_id,
  ts,
  actor,
  CASE WHEN {text('actor_is_bot')} = 'true' OR actor LIKE '%[bot]' THEN 'service'
       WHEN actor = 'github' THEN 'system' END AS actor_type,
  change.subject AS subject,
  change.privilege AS privilege,
  change.op AS operation,
  act AS event_name,
  act AS action,
  '{SYSTEM}' AS system,
  subj AS target_account,
  coalesce(repo_name, team_name, org_name, {text('business')}) AS object,
  CASE WHEN act LIKE 'git.%' THEN 'git'
       WHEN {text('programmatic_access_type')} IS NOT NULL OR {text('token_id')} IS NOT NULL
         THEN 'api' END AS channel,
  CASE WHEN act LIKE '%.rejected_ref_update' THEN 'failure' ELSE 'success' END AS result,
  {text('actor_ip')} AS source_ip,
  false AS source_carries_approval,
  -- The login as written, when lowercasing changed it (the normal form is lowercase).
  nullif({text('actor_login')}, actor) AS actor_raw,
  {text('actor_login')} AS actor_login, actor_id, {text('user_login')} AS user_login, user_id,
  org_name AS org, org_id, {text('business')} AS business, business_id,
  repo_name AS repo, team_name AS team,
  coalesce({text('permission')}, {text('data_permission')}) AS permission,
  coalesce({text('old_permission')}, {text('data_old_permission')}) AS old_permission,
  {text('country_code')} AS country_code, {text('user_agent')} AS user_agent,
  {text('operation_type')} AS operation_type,
  {text('programmatic_access_type')} AS programmatic_access_type,
  token_id, {text('token_scopes')} AS token_scopes, {text('hashed_token')} AS hashed_token,
  CASE WHEN _bad IS NULL THEN json_merge_patch(_raw, {sql_string(_DROP_MAPPED)}) END AS fields
FROM expanded
"""
