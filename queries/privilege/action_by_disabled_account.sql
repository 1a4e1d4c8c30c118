-- Successful actions by an account at or after the directory says it was disabled.
SELECT
    a.ts, a.change_id, a.actor, a.target_account AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(a.event_id) AS evidence, a.event_id AS key
FROM actions AS a
JOIN accounts AS acc ON acc.account = a.actor
WHERE a.result = 'success'
  AND acc.disabled_at IS NOT NULL AND a.ts >= acc.disabled_at
