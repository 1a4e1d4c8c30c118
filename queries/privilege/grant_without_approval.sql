-- Grants that name no approval ticket or no approver: the access-approval check of
-- controls/grant_controls.sql.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, granter AS actor, subject AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(grant_event_id) AS evidence, grant_event_id AS key
FROM grant_controls
WHERE control = 'access-approval'
