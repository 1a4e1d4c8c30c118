-- When each account was disabled: it holds no privilege from disabled_from until
-- disabled_until (NULL: still disabled). docs/privileges.md says which records count:
--   * the accounts directory's disabled_at (a snapshot: disabled from then on);
--   * successful account-lifecycle actions on target_account of the standard sources:
--     disabling or deleting an account starts a period, enabling or restoring ends it.
-- Consecutive records of the same state are one period (a second disable changes
-- nothing); a disable and an enable at the same instant leave the account enabled.
WITH lifecycle AS (
    SELECT
        target_account AS account, ts, event_id,
        CASE WHEN lower(action) IN (
                 'disabled-user-account', 'deleted-user-account',          -- Windows 4725, 4726
                 'user.lifecycle.deactivate', 'user.lifecycle.suspend',    -- Okta
                 'user.lifecycle.delete.initiated', 'user.lifecycle.delete.completed',
                 'disable account', 'delete user',                         -- Entra ID
                 'suspend_user', 'delete_user',                            -- Google Workspace
                 'user.suspend')                                           -- GitHub
             THEN 'disabled' ELSE 'enabled' END AS state
    FROM actions
    WHERE result = 'success' AND target_account IS NOT NULL
      AND lower(action) IN (
          'disabled-user-account', 'deleted-user-account', 'enabled-user-account',
          'user.lifecycle.deactivate', 'user.lifecycle.suspend',
          'user.lifecycle.delete.initiated', 'user.lifecycle.delete.completed',
          'user.lifecycle.activate', 'user.lifecycle.reactivate', 'user.lifecycle.unsuspend',
          'disable account', 'delete user', 'enable account', 'restore user',
          'suspend_user', 'delete_user', 'unsuspend_user', 'undelete_user',
          'user.suspend', 'user.unsuspend')
    UNION ALL
    SELECT account, disabled_at AS ts, CAST(NULL AS VARCHAR) AS event_id, 'disabled' AS state
    FROM accounts
    WHERE disabled_at IS NOT NULL
),
sequenced AS (
    SELECT
        account, ts, event_id, state,
        lag(state) OVER (PARTITION BY account
                         ORDER BY ts, state, coalesce(event_id, '')) AS state_before
    FROM lifecycle
),
turns AS (  -- the records that change the account's state
    SELECT
        account, ts, event_id, state,
        lead(ts) OVER (PARTITION BY account ORDER BY ts, state, coalesce(event_id, ''))
            AS next_turn
    FROM sequenced
    WHERE state_before IS NULL OR state_before <> state
)
SELECT account, ts AS disabled_from, next_turn AS disabled_until, event_id AS disable_event_id
FROM turns
WHERE state = 'disabled'
