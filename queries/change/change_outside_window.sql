-- Changes that took effect outside their approved maintenance window, beyond the model's
-- grace_minutes: the change-window check of controls/change_controls.sql.
SELECT
    ts, change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount, list_value(change_id) AS evidence, change_id AS key
FROM change_controls
WHERE check_name = 'outside_window'
