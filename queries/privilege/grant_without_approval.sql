-- Grants that name no approval ticket or no approver.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, subject AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM privileges
WHERE operation = 'grant' AND (ticket IS NULL OR approver IS NULL)
