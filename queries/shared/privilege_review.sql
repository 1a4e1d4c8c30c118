-- The access review's facts about each held interval of a privilege (privilege_intervals,
-- one row per interval): who reviews it and the flags a reviewer must see, each with the
-- reason it reads (docs/access-review.md). Where a control already computes a check
-- (queries/controls/) the flag reads it there, so the review and the rules agree.
--   reviewer            the account's manager; for a service account its owner (the
--                       accounts directory), the other one when that one is missing
--   no_approval         the grant that opened it fails access-approval (grant_controls)
--   self_granted        the holder granted or approved it itself (grant_controls)
--   granter_approved    its granter was also its approver: one person decided alone
--   held_when_disabled  still granted when the account was disabled (never revoked)
--   deploy_and_approve  a deploy privilege (model_params.deploy_privileges) held while
--                       its holder approved others' changes on the same system
--   self_approved       its holder implemented and approved a change on its system
--                       while holding it (change_controls self_approval)
-- Whether it was used depends on the period reviewed: analysis/access_review.py.
WITH approval AS (
    SELECT grant_event_id, max(reason) AS reason
    FROM grant_controls WHERE control = 'access-approval' GROUP BY grant_event_id
),
self_granted AS (
    SELECT DISTINCT grant_event_id FROM grant_controls WHERE check_name = 'self_grant'
),
approvals AS (  -- changes approved by a holder of a deploy privilege on their system
    SELECT i.account, i.privilege, i.system, i.held_from,
           count(*) AS changes, min(c.change_id) AS first_change
    FROM privilege_intervals AS i
    JOIN model_params AS p ON i.privilege LIKE p.deploy_privileges
    JOIN changes AS c ON c.approver = i.account AND c.implementer <> i.account
     AND c.system = i.system AND c.started_at >= i.held_from AND (i.ended_at IS NULL OR c.started_at < i.ended_at)
    GROUP BY i.account, i.privilege, i.system, i.held_from
),
self_approvals AS (
    SELECT i.account, i.privilege, i.system, i.held_from,
           count(*) AS changes, min(cc.change_id) AS first_change
    FROM privilege_intervals AS i
    JOIN change_controls AS cc ON cc.check_name = 'self_approval' AND cc.actor = i.account
     AND cc.ts >= i.held_from AND (i.ended_at IS NULL OR cc.ts < i.ended_at)
    JOIN changes AS c ON c.change_id = cc.change_id AND c.system = i.system
    GROUP BY i.account, i.privilege, i.system, i.held_from
)
SELECT
    i.account, i.privilege, i.system, i.held_from, i.ended_at, i.end_reason,
    i.grant_event_id, i.granted_at, i.granter, i.approver, i.ticket, i.expires_at,
    d.account_type,
    CASE WHEN d.account_type = 'service' OR s.account IS NOT NULL
         THEN coalesce(d.owner, d.manager) ELSE coalesce(d.manager, d.owner) END AS reviewer,
    a.reason AS no_approval,
    CASE WHEN sg.grant_event_id IS NOT NULL
         THEN i.account || ' granted or approved its own privilege.' END AS self_granted,
    CASE WHEN i.approver = i.granter AND i.granter <> i.account
         THEN 'Granted and approved by the same person, ' || i.granter || '.'
         END AS granter_approved,
    CASE WHEN i.end_reason = 'account_disabled'
         THEN 'Still granted when the account was disabled ('
              || strftime(i.ended_at, '%Y-%m-%d %H:%M') || ' UTC); never revoked.'
         END AS held_when_disabled,
    CASE WHEN ap.changes IS NOT NULL
         THEN 'Can deploy on ' || i.system || ' and approved ' || CAST(ap.changes AS VARCHAR)
              || ' change(s) of others there (' || ap.first_change || ').' END AS deploy_and_approve,
    CASE WHEN sa.changes IS NOT NULL
         THEN 'Implemented and approved ' || CAST(sa.changes AS VARCHAR) || ' change(s) on '
              || i.system || ' while holding it (' || sa.first_change || ').'
         END AS self_approved
FROM privilege_intervals AS i
LEFT JOIN accounts AS d ON d.account = i.account
LEFT JOIN service_accounts AS s ON s.account = i.account
LEFT JOIN approval AS a ON a.grant_event_id = i.grant_event_id
LEFT JOIN self_granted AS sg ON sg.grant_event_id = i.grant_event_id
LEFT JOIN approvals AS ap ON ap.account = i.account AND ap.privilege = i.privilege
 AND ap.system IS NOT DISTINCT FROM i.system AND ap.held_from = i.held_from
LEFT JOIN self_approvals AS sa ON sa.account = i.account AND sa.privilege = i.privilege
 AND sa.system IS NOT DISTINCT FROM i.system AND sa.held_from = i.held_from
