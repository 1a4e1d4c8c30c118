-- Changes that took effect outside their approved maintenance window.
SELECT
    started_at AS ts, change_id, implementer AS actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount, list_value(change_id) AS evidence, change_id AS key
FROM changes
WHERE (window_start IS NOT NULL
       AND started_at < window_start - CAST($grace_minutes AS INTEGER) * INTERVAL 1 MINUTES)
   OR (window_end IS NOT NULL
       AND started_at > window_end + CAST($grace_minutes AS INTEGER) * INTERVAL 1 MINUTES)
