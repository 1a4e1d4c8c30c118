-- A Kubernetes role binding created or changed whose audit event does not say who it
-- binds: a successful create/update/patch of rolebindings or clusterrolebindings that
-- the Kubernetes adapter kept as an action (an event with the binding's subjects is a
-- grant per subject, a privilege row), e.g. logged at level Metadata.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, CAST(NULL AS VARCHAR) AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM actions
WHERE system = 'kubernetes'
  AND result = 'success'
  AND action IN ('create rolebindings', 'update rolebindings', 'patch rolebindings',
                 'create clusterrolebindings', 'update clusterrolebindings',
                 'patch clusterrolebindings')
