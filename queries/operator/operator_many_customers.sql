-- One account acting on many distinct customers within one clock hour. Customers acting
-- for themselves do not count.
-- The hour is spelled out (not CAST AS VARCHAR) so the key reads the same on Spark.
-- The hours that qualify are found first and only their actions listed: building the
-- evidence list of every (account, hour) and dropping most of them afterwards was most
-- of this rule's time on 10M actions.
WITH acting AS (
    SELECT event_id, ts, actor, target_account, date_trunc('hour', ts) AS hour
    FROM actions
    WHERE target_account IS NOT NULL AND target_account <> actor
      AND coalesce(actor_type, 'human') <> 'customer'
      AND result = 'success'
),
busy AS (
    SELECT actor, hour
    FROM acting
    GROUP BY actor, hour
    HAVING count(DISTINCT target_account) >= CAST($customers_per_hour AS INTEGER)
)
SELECT
    min(a.ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, a.actor,
    CAST(NULL AS VARCHAR) AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list(a.event_id ORDER BY a.ts, a.event_id) AS evidence,
    a.actor || '|' || strftime(a.hour, '%Y-%m-%d %H:%M:%S') || '+00' AS key
FROM acting AS a
JOIN busy AS b ON b.actor = a.actor AND b.hour = a.hour
GROUP BY a.actor, a.hour
