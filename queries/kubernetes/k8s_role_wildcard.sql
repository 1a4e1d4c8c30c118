-- A Kubernetes role or cluster role created or changed to allow every verb or every
-- resource: a successful create/update/patch of roles or clusterroles whose rules
-- (extra.role_rules, as the audit event logged them) hold "*" among a rule's verbs or
-- resources.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM actions
WHERE system = 'kubernetes'
  AND result = 'success'
  AND action IN ('create roles', 'update roles', 'patch roles',
                 'create clusterroles', 'update clusterroles', 'patch clusterroles')
  AND (regexp_matches(coalesce(CAST(extra ->> '$.role_rules' AS VARCHAR), ''),
                      '"verbs":\[[^\]]*"\*"')
       OR regexp_matches(coalesce(CAST(extra ->> '$.role_rules' AS VARCHAR), ''),
                         '"resources":\[[^\]]*"\*"'))
