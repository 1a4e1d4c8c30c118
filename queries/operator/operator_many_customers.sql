-- One account acting on many distinct customers within one clock hour. Customers acting
-- for themselves do not count.
-- The hour is spelled out (not CAST AS VARCHAR) so the key reads the same on Spark.
SELECT
    min(ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list(event_id ORDER BY ts, event_id) AS evidence,
    actor || '|' || strftime(date_trunc('hour', ts), '%Y-%m-%d %H:%M:%S') || '+00' AS key
FROM actions
WHERE target_account IS NOT NULL AND target_account <> actor
  AND coalesce(actor_type, 'human') <> 'customer'
  AND result = 'success'
GROUP BY actor, date_trunc('hour', ts)
HAVING count(DISTINCT target_account) >= CAST($customers_per_hour AS INTEGER)
