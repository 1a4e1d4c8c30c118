-- Grants where the subject granted or approved its own privilege.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, subject AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM privileges
WHERE operation = 'grant' AND (actor = subject OR approver = subject)
