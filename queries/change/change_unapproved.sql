-- Changes that record no approver: the change-approval check of
-- controls/change_controls.sql.
SELECT
    ts, change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount, list_value(change_id) AS evidence, change_id AS key
FROM change_controls
WHERE check_name = 'no_approval'
