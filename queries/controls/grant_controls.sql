-- The controls a privilege grant's own record fails: one row per grant and failed check,
-- with the reason a reviewer reads (docs/controls.md). The privilege rules and the
-- accountability report read these rows, so a check is written here and nowhere else.
--   access-approval       no approval ticket or no approver   grant_without_ticket,
--                                                             grant_without_approver,
--                                                             grant_without_ticket_or_approver
--   separation-of-duties  the subject granted or approved its own privilege   self_grant
SELECT
    event_id AS grant_event_id, ts, actor AS granter, subject, 'access-approval' AS control,
    'grant_without_' || CASE WHEN ticket IS NULL AND approver IS NULL THEN 'ticket_or_approver'
                             WHEN ticket IS NULL THEN 'ticket' ELSE 'approver' END AS check_name,
    'Granted without ' || CASE WHEN ticket IS NULL AND approver IS NULL
                               THEN 'ticket or approver' WHEN ticket IS NULL THEN 'ticket'
                               ELSE 'approver' END || '.' AS reason
FROM privileges
WHERE operation = 'grant' AND (ticket IS NULL OR approver IS NULL)
  -- A source whose records have no place for an approval (its adapter sets
  -- extra.source_carries_approval = false) cannot show one: not a failed check.
  AND coalesce(CAST(extra ->> '$.source_carries_approval' AS VARCHAR), 'true') <> 'false'
UNION ALL
SELECT
    event_id AS grant_event_id, ts, actor AS granter, subject,
    'separation-of-duties' AS control, 'self_grant' AS check_name,
    subject || ' granted or approved its own privilege.' AS reason
FROM privileges
WHERE operation = 'grant' AND (actor = subject OR approver = subject)
