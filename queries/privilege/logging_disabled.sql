-- Audit logging turned off or reduced: a successful action named in $logging_actions
-- (comma-separated, case-insensitive).
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM actions
WHERE result = 'success'
  AND list_contains(
        list_transform(string_split(lower(CAST($logging_actions AS VARCHAR)), ','),
                       lambda x: trim(x)),
        lower(trim(action)))
