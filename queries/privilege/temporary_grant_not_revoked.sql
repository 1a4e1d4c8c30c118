-- Temporary grants not revoked by their expiry (plus grace) whose subject kept doing,
-- after that, what it only started doing under the grant: the expiry was not enforced.
-- Actions older than the grant are routine, and actions covered by another grant held
-- at the time (a new grant for the next change) are not this grant's use.
WITH lapsed AS (
    SELECT g.*, g.expires_at + CAST($grace_hours AS INTEGER) * INTERVAL 1 HOURS AS due_at
    FROM privilege_grants AS g
    WHERE g.expires_at IS NOT NULL
),
late_use AS (
    SELECT g.grant_event_id, g.granter, g.subject, a.event_id, a.ts
    FROM lapsed AS g
    JOIN actions AS a
      ON a.actor = g.subject AND (g.system IS NULL OR a.system = g.system)
     AND a.ts > g.due_at AND (g.revoked_at IS NULL OR a.ts < g.revoked_at)
    WHERE (g.revoked_at IS NULL OR g.revoked_at > g.due_at)
      AND a.result = 'success'
      AND EXISTS (  -- a verb first used under this grant
          SELECT 1 FROM actions AS u
          WHERE u.actor = g.subject AND u.action = a.action AND u.system = a.system
            AND u.ts >= g.granted_at AND u.ts <= g.expires_at)
      AND NOT EXISTS (  -- ... and not before it
          SELECT 1 FROM actions AS b
          WHERE b.actor = g.subject AND b.action = a.action AND b.system = a.system
            AND b.ts < g.granted_at)
      AND NOT EXISTS (  -- no other grant covering the system at that time
          SELECT 1 FROM privilege_grants AS o
          WHERE o.subject = g.subject AND o.grant_event_id <> g.grant_event_id
            AND (o.system IS NULL OR o.system = a.system)
            AND o.granted_at <= a.ts AND (o.revoked_at IS NULL OR o.revoked_at > a.ts)
            AND (o.expires_at IS NULL OR o.expires_at > a.ts))
)
SELECT
    min(ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, granter AS actor,
    subject AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_concat(list_value(grant_event_id), list(event_id ORDER BY ts, event_id)) AS evidence,
    grant_event_id AS key
FROM late_use
GROUP BY grant_event_id, granter, subject
