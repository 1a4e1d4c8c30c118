-- A resource opened to another AWS account: a successful policy, permission, share or
-- ACL call whose extra.access_opened_to (see access_opened_public.sql) names an account
-- that is neither the one the record was logged in (extra.aws_account) nor one of
-- $trusted_accounts (comma-separated account ids: the organization's own, partners).
WITH opened AS (
    SELECT event_id, ts, actor, 'success' AS result,
           CAST(extra ->> '$.access_opened_to' AS VARCHAR) AS opened_to,
           coalesce(CAST(extra ->> '$.aws_account' AS VARCHAR), '') AS own_account
    FROM privileges
    UNION ALL
    SELECT event_id, ts, actor, result, CAST(extra ->> '$.access_opened_to' AS VARCHAR),
           coalesce(CAST(extra ->> '$.aws_account' AS VARCHAR), '')
    FROM actions
),
accounts AS (
    SELECT event_id, ts, actor,
           list_filter(string_split(regexp_replace(opened_to, '[^0-9,]', '', 'g'), ','),
                       lambda x: x <> '' AND x <> own_account
                                 AND NOT list_contains(
                                     list_transform(
                                         string_split(CAST($trusted_accounts AS VARCHAR), ','),
                                         lambda t: trim(t)),
                                     x)) AS outside
    FROM opened
    WHERE result = 'success' AND opened_to IS NOT NULL
)
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM accounts
WHERE array_length(outside) > 0
