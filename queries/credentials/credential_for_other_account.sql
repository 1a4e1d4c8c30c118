-- A credential created or reset for another account: a successful action named in
-- $credential_actions (comma-separated, case-insensitive) whose target_account (the
-- account owning the credential, as the adapters write it) is not its actor. A
-- platform component (actor_type 'system': Kubernetes nodes requesting their pods'
-- service-account tokens, AWS services) minting credentials is the platform's own work,
-- as is an Entra activity initiated by an app named in $platform_initiators.
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, target_account AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM actions
WHERE result = 'success'
  AND target_account IS NOT NULL
  AND actor IS NOT NULL
  AND coalesce(actor_type, '') <> 'system'
  -- Entra names the first-party app behind a service's own work (Managed Service
  -- Identity provisioning and rotating a managed identity's credentials).
  AND NOT list_contains(
        list_transform(string_split(lower(CAST($platform_initiators AS VARCHAR)), ','),
                       lambda x: trim(x)),
        lower(trim(coalesce(CAST(extra ->> '$.initiated_by.app.displayName' AS VARCHAR), ''))))
  AND lower(trim(target_account)) <> lower(trim(actor))
  AND list_contains(
        list_transform(string_split(lower(CAST($credential_actions AS VARCHAR)), ','),
                       lambda x: trim(x)),
        lower(trim(action)))
