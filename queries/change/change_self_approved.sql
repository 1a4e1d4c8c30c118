-- Changes approved by the account that implemented them.
SELECT
    started_at AS ts, change_id, implementer AS actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount, list_value(change_id) AS evidence, change_id AS key
FROM changes
WHERE approver = implementer
