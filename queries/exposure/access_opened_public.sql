-- A resource opened to everyone: a successful policy, permission, share or ACL call whose
-- extra.access_opened_to (who the call opens it to, as the CloudTrail adapter reads its
-- requestParameters: "*" and account ids, ingest/standard/aws_access.py) holds "*".
-- Privilege rows are read too: a trust policy update (UpdateAssumeRolePolicy) is loaded
-- as a grant.
WITH opened AS (
    SELECT event_id, ts, actor, 'success' AS result,
           CAST(extra ->> '$.access_opened_to' AS VARCHAR) AS opened_to
    FROM privileges
    UNION ALL
    SELECT event_id, ts, actor, result, CAST(extra ->> '$.access_opened_to' AS VARCHAR)
    FROM actions
)
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM opened
WHERE result = 'success'
  AND opened_to IS NOT NULL
  AND list_contains(string_split(regexp_replace(opened_to, '[^0-9*,]', '', 'g'), ','), '*')
