-- Temporary grants whose expiry (plus grace) has passed, judged against the latest event
-- in the logs, and that were not revoked by then.
WITH data_end AS (
    SELECT max(ts) AS end_ts FROM (
        SELECT ts FROM privileges UNION ALL SELECT ts FROM actions
        UNION ALL SELECT ts FROM charges) AS all_events
)
SELECT
    g.expires_at AS ts, CAST(NULL AS VARCHAR) AS change_id, g.granter AS actor,
    g.subject AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(g.grant_event_id) AS evidence, g.grant_event_id AS key
FROM privilege_grants AS g
CROSS JOIN data_end AS d
WHERE g.expires_at IS NOT NULL
  AND g.expires_at + CAST($grace_hours AS INTEGER) * INTERVAL 1 HOURS <= d.end_ts
  AND (g.revoked_at IS NULL
       OR g.revoked_at > g.expires_at + CAST($grace_hours AS INTEGER) * INTERVAL 1 HOURS)
