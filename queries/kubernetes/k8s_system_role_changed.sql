-- A built-in Kubernetes RBAC object changed by someone other than the control plane:
-- a successful create/update/patch/delete of a role, cluster role or binding whose name
-- starts with "system:", by an actor that is not a platform component (actor_type
-- 'system': nodes and kube-* components) nor the API server reconciling its defaults
-- ($reconcilers, comma-separated).
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM actions
WHERE system = 'kubernetes'
  AND result = 'success'
  AND split_part(action, ' ', 1) IN ('create', 'update', 'patch', 'delete')
  AND split_part(action, ' ', 2) IN ('roles', 'clusterroles', 'rolebindings',
                                     'clusterrolebindings')
  AND starts_with(coalesce(CAST(extra ->> '$.name' AS VARCHAR), ''), 'system:')
  AND coalesce(actor_type, '') <> 'system'
  AND NOT list_contains(
        list_transform(string_split(CAST($reconcilers AS VARCHAR), ','), lambda x: trim(x)),
        actor)
UNION ALL
-- A binding logged with its subjects is a grant (a privilege row) per subject.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, subject AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM privileges
WHERE system = 'kubernetes'
  AND starts_with(coalesce(CAST(extra ->> '$.binding' AS VARCHAR), ''), 'system:')
  AND NOT list_contains(
        list_transform(string_split(CAST($reconcilers AS VARCHAR), ','), lambda x: trim(x)),
        actor)
  AND NOT starts_with(actor, 'system:node:')
  AND NOT starts_with(actor, 'system:kube-')
