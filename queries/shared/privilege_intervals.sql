-- Who held what, when: one row per interval in which an account held a privilege on a
-- system (system NULL: on any system), so "held at instant t" is
--     held_from <= t AND (ended_at IS NULL OR t < ended_at)
-- and "held during [t1, t2)" is held_from < t2 AND (ended_at IS NULL OR ended_at > t1).
-- `auditlog privileges`, the access review and the privilege controls read it; what it
-- counts is defined in docs/privileges.md:
--   * a grant holds from its instant until the next revocation of the same account,
--     privilege and system, or its expires_at, whichever comes first (end_reason
--     'revoked' / 'expired'); a Kubernetes binding deleted without its subjects logged
--     (an action 'delete rolebindings' / 'delete clusterrolebindings') revokes what that
--     binding granted, as does a deletecollection of its bindings (no selector) or the
--     deletion of its namespace, and a later state of the binding (an update or patch
--     logged with it) that no longer names the subject;
--   * a grant while the privilege is already held (a regrant, a duplicate grant) joins
--     that interval: the interval is named by its first grant, counts its grants and
--     lasts while any of them holds;
--   * an account holds nothing while disabled (account_disabled_periods): an interval is
--     cut at the disabling (end_reason 'account_disabled') and, when the account is
--     enabled again while a grant still holds, goes on from the enabling
--     (start_reason 'account_enabled', same grant);
--   * group membership and role bindings are privileges like any other (the group or
--     the role is the privilege, the member or subject the account); nested groups are
--     not expanded.
WITH events AS (
    SELECT
        event_id, ts, actor, subject, privilege, system, ticket, approver, expires_at,
        operation, coalesce(system, '') AS system_key,
        coalesce(source_format, 'native') AS source_format,
        -- A source whose records have no place for an approval says so (the adapter's
        -- extra.source_carries_approval = false): no ticket there is not a missing one.
        coalesce(CAST(extra ->> '$.source_carries_approval' AS VARCHAR), 'true') <> 'false'
            AS carries_approval,
        CAST(extra ->> '$.binding' AS VARCHAR) AS binding,
        CAST(extra ->> '$.namespace' AS VARCHAR) AS binding_namespace,
        CAST(extra ->> '$.audit_id' AS VARCHAR) AS request_id
    FROM privileges_with_record
),
binding_states AS (  -- each logged state of a Kubernetes binding (one request)
    SELECT DISTINCT request_id, ts, binding, binding_namespace, system
    FROM events
    WHERE operation = 'grant' AND binding IS NOT NULL AND request_id IS NOT NULL
),
binding_drops AS (
    -- A later state of a binding (an update or patch logged with the whole binding, or
    -- its re-creation) that no longer names a subject ends that subject's grant.
    SELECT DISTINCT
        u.request_id AS event_id, u.ts, g.subject, g.privilege, g.system, g.system_key,
        g.source_format
    FROM events AS g
    JOIN binding_states AS u
      ON g.operation = 'grant' AND g.binding = u.binding AND g.system = u.system
     AND coalesce(g.binding_namespace, '') = coalesce(u.binding_namespace, '')
     AND u.ts > g.ts
    WHERE NOT EXISTS (SELECT 1 FROM events AS n
                      WHERE n.request_id = u.request_id AND n.operation = 'grant'
                        AND n.subject = g.subject AND n.privilege = g.privilege)
),
binding_deletes AS (
    -- A binding's deletion ends the grants it made; so does the deletion of every binding
    -- of its kind (in its namespace: deletecollection without a label or field selector,
    -- which would delete only some) and that of its namespace (its bindings go with it).
    SELECT DISTINCT
        a.event_id, a.ts, g.subject, g.privilege, g.system, g.system_key,
        g.source_format
    FROM actions AS a
    JOIN events AS g
      ON g.operation = 'grant' AND g.binding IS NOT NULL AND g.system = a.system
     AND a.object IN (
           CASE WHEN g.binding_namespace IS NULL
                THEN 'clusterrolebindings/' || g.binding
                ELSE 'namespaces/' || g.binding_namespace || '/rolebindings/'
                     || g.binding END,
           CASE WHEN a.action LIKE 'deletecollection %' THEN
             CASE WHEN g.binding_namespace IS NULL THEN 'clusterrolebindings'
                  ELSE 'namespaces/' || g.binding_namespace || '/rolebindings' END END,
           CASE WHEN a.action = 'delete namespaces'
                THEN 'namespaces/' || g.binding_namespace END)
     AND a.ts >= g.ts
    WHERE a.result = 'success'
      AND a.action IN ('delete rolebindings', 'delete clusterrolebindings',
                       'deletecollection rolebindings', 'deletecollection clusterrolebindings',
                       'delete namespaces')
      AND NOT (a.action LIKE 'deletecollection %'
               AND regexp_matches(coalesce(CAST(a.extra ->> '$.request_uri' AS VARCHAR), ''),
                                  '[?&](labelSelector|fieldSelector)='))
),
changes AS (
    SELECT event_id, ts, actor, subject, privilege, system, system_key, ticket, approver,
           expires_at, operation, source_format, carries_approval
    FROM events
    UNION ALL
    SELECT event_id, ts, CAST(NULL AS VARCHAR) AS actor, subject, privilege, system,
           system_key, CAST(NULL AS VARCHAR) AS ticket, CAST(NULL AS VARCHAR) AS approver,
           CAST(NULL AS TIMESTAMPTZ) AS expires_at, 'revoke' AS operation, source_format,
           false AS carries_approval
    FROM binding_deletes
    UNION ALL
    SELECT event_id, ts, CAST(NULL AS VARCHAR) AS actor, subject, privilege, system,
           system_key, CAST(NULL AS VARCHAR) AS ticket, CAST(NULL AS VARCHAR) AS approver,
           CAST(NULL AS TIMESTAMPTZ) AS expires_at, 'revoke' AS operation, source_format,
           false AS carries_approval
    FROM binding_drops
),
revoked AS (  -- each grant with the first revocation after it
    SELECT
        c.*,
        first_value(CASE WHEN operation = 'revoke' THEN ts END IGNORE NULLS) OVER w
            AS revoked_at,
        first_value(CASE WHEN operation = 'revoke' THEN event_id END IGNORE NULLS) OVER w
            AS revoke_event_id
    FROM changes AS c
    WINDOW w AS (PARTITION BY subject, privilege, system_key ORDER BY ts, event_id
                 ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
),
spans AS (  -- what each grant alone holds: [ts, span_end), span_end NULL = still held
    SELECT
        *,
        CASE WHEN revoked_at IS NOT NULL AND (expires_at IS NULL OR revoked_at <= expires_at)
             THEN revoked_at ELSE expires_at END AS span_end,
        CASE WHEN revoked_at IS NOT NULL AND (expires_at IS NULL OR revoked_at <= expires_at)
             THEN 'revoked' WHEN expires_at IS NOT NULL THEN 'expired' END AS span_end_reason
    FROM revoked
    WHERE operation = 'grant'
),
marked AS (  -- a grant starts a new interval unless an earlier one still holds at its ts
    SELECT
        *,
        max(CASE WHEN span_end IS NULL THEN 1 ELSE 0 END) OVER earlier AS earlier_open,
        max(span_end) OVER earlier AS earlier_end
    FROM spans
    WINDOW earlier AS (PARTITION BY subject, privilege, system_key ORDER BY ts, event_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
starts AS (  -- (over no earlier grant, max() is NULL: the first grant starts one)
    SELECT
        *,
        CASE WHEN earlier_open = 1 THEN 0
             WHEN earlier_end IS NULL OR ts > earlier_end THEN 1 ELSE 0 END AS starts_interval
    FROM marked
),
numbered AS (
    SELECT
        *,
        sum(starts_interval) OVER (PARTITION BY subject, privilege, system_key
                                   ORDER BY ts, event_id ROWS UNBOUNDED PRECEDING) AS island
    FROM starts
),
ranked AS (  -- the interval's latest grant, and the grant that holds longest (ties: the
             -- revocation before the expiry, then the latest grant), as rank 1
    SELECT
        *,
        row_number() OVER (PARTITION BY subject, privilege, system_key, island
                           ORDER BY ts DESC, event_id DESC) AS latest,
        row_number() OVER (PARTITION BY subject, privilege, system_key, island
                           ORDER BY CASE WHEN span_end IS NULL THEN 0 ELSE 1 END,
                                    span_end DESC, span_end_reason DESC, ts DESC,
                                    event_id DESC) AS longest
    FROM numbered
),
islands AS (
    SELECT
        subject, privilege, system_key, island,
        min(ts) AS held_from, count(*) AS grants,
        max(CASE WHEN span_end IS NULL THEN 1 ELSE 0 END) AS still_held,
        max(span_end) AS last_end,
        max(CASE WHEN longest = 1 THEN span_end_reason END) AS last_end_reason,
        max(CASE WHEN longest = 1 THEN revoke_event_id END) AS last_revoke_event_id,
        max(CASE WHEN latest = 1 THEN event_id END) AS last_grant_event_id
    FROM ranked
    GROUP BY subject, privilege, system_key, island
),
held AS (  -- each interval named by its first grant
    SELECT
        n.subject AS account, n.privilege, n.system, i.held_from,
        n.ts AS granted_at, n.event_id AS grant_event_id, n.actor AS granter, n.approver,
        n.ticket, n.expires_at, i.grants, i.last_grant_event_id, n.source_format,
        n.carries_approval,
        CASE WHEN i.still_held = 1 THEN NULL ELSE i.last_end END AS ended_at,
        CASE WHEN i.still_held = 1 THEN NULL ELSE i.last_end_reason END AS end_reason,
        CASE WHEN i.still_held = 1 OR i.last_end_reason <> 'revoked' THEN NULL
             ELSE i.last_revoke_event_id END AS end_event_id
    FROM islands AS i
    JOIN numbered AS n
      ON n.subject = i.subject AND n.privilege = i.privilege
     AND n.system_key = i.system_key AND n.island = i.island
    WHERE n.starts_interval = 1
),
enabled_periods AS (  -- the complement of account_disabled_periods, per account
    SELECT
        account,
        lag(disabled_until) OVER (PARTITION BY account ORDER BY disabled_from)
            AS enabled_from,
        disabled_from AS enabled_until, disable_event_id
    FROM account_disabled_periods
    UNION ALL
    SELECT account, disabled_until AS enabled_from, CAST(NULL AS TIMESTAMPTZ) AS enabled_until,
           CAST(NULL AS VARCHAR) AS disable_event_id
    FROM (
        SELECT account, disabled_until,
               row_number() OVER (PARTITION BY account ORDER BY disabled_from DESC) AS nth
        FROM account_disabled_periods
    ) AS last_period
    WHERE nth = 1 AND disabled_until IS NOT NULL
),
ever_disabled AS (
    SELECT DISTINCT account FROM account_disabled_periods
)
SELECT
    account, privilege, system, held_from, ended_at, end_reason, end_event_id,
    'granted' AS start_reason, granted_at, grant_event_id, granter, approver, ticket,
    expires_at, grants, last_grant_event_id, source_format, carries_approval
FROM held
WHERE account NOT IN (SELECT account FROM ever_disabled)
UNION ALL
SELECT
    h.account, h.privilege, h.system,
    CASE WHEN e.enabled_from IS NOT NULL AND e.enabled_from > h.held_from
         THEN e.enabled_from ELSE h.held_from END AS held_from,
    CASE WHEN e.enabled_until IS NOT NULL AND (h.ended_at IS NULL OR e.enabled_until < h.ended_at)
         THEN e.enabled_until ELSE h.ended_at END AS ended_at,
    CASE WHEN e.enabled_until IS NOT NULL AND (h.ended_at IS NULL OR e.enabled_until < h.ended_at)
         THEN 'account_disabled' ELSE h.end_reason END AS end_reason,
    CASE WHEN e.enabled_until IS NOT NULL AND (h.ended_at IS NULL OR e.enabled_until < h.ended_at)
         THEN e.disable_event_id ELSE h.end_event_id END AS end_event_id,
    CASE WHEN e.enabled_from IS NOT NULL AND e.enabled_from > h.held_from
         THEN 'account_enabled' ELSE 'granted' END AS start_reason,
    h.granted_at, h.grant_event_id, h.granter, h.approver, h.ticket, h.expires_at, h.grants,
    h.last_grant_event_id, h.source_format, h.carries_approval
FROM held AS h
JOIN enabled_periods AS e
  ON e.account = h.account
 AND (e.enabled_from IS NULL OR h.ended_at IS NULL OR e.enabled_from < h.ended_at)
 AND (e.enabled_until IS NULL OR e.enabled_until > h.held_from)
