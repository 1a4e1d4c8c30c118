-- A credential created or reset for another account: a successful action named in
-- $credential_actions (comma-separated, case-insensitive) whose target_account (the
-- account owning the credential, as the adapters write it) is not its actor. A
-- platform component (actor_type 'system': Kubernetes nodes requesting their pods'
-- service-account tokens, AWS services) minting credentials is the platform's own work.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, target_account AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM actions
WHERE result = 'success'
  AND target_account IS NOT NULL
  AND actor IS NOT NULL
  AND coalesce(actor_type, '') <> 'system'
  AND lower(trim(target_account)) <> lower(trim(actor))
  AND list_contains(
        list_transform(string_split(lower(CAST($credential_actions AS VARCHAR)), ','),
                       lambda x: trim(x)),
        lower(trim(action)))
