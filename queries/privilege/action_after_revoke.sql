-- Successful actions on a system by an account whose privileges there had been revoked
-- and that held no (re)granted privilege there at that moment.
SELECT
    a.ts, a.change_id, a.actor, a.target_account AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(a.event_id) AS evidence, a.event_id AS key
FROM actions AS a
WHERE coalesce(a.result, 'success') = 'success'
  AND EXISTS (
      SELECT 1 FROM privileges AS r
      WHERE r.operation = 'revoke' AND r.subject = a.actor AND r.ts <= a.ts
        AND (r.system IS NULL OR r.system = a.system))
  AND NOT EXISTS (
      SELECT 1 FROM privilege_grants AS g
      WHERE g.subject = a.actor AND g.granted_at <= a.ts
        AND (g.revoked_at IS NULL OR g.revoked_at > a.ts)
        AND (g.system IS NULL OR g.system = a.system))
