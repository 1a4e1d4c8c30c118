-- Grants made shortly before a change, by or for the change's implementer, or for a
-- service account of the changed system, that do not name the change's own ticket (a
-- grant under the change's ticket was approved with the change).
WITH system_services AS (
    SELECT DISTINCT a.actor AS account, a.system
    FROM actions AS a
    JOIN service_accounts AS s ON s.account = a.actor
)
SELECT
    p.ts, ch.change_id, p.actor, p.subject AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(p.event_id, ch.change_id) AS evidence,
    p.event_id || '|' || ch.change_id AS key
FROM privileges AS p
JOIN changes AS ch
  ON p.ts <= ch.started_at
 AND p.ts >= ch.started_at - CAST($hours AS INTEGER) * INTERVAL 1 HOURS
 AND (p.system IS NULL OR p.system = ch.system)
LEFT JOIN system_services AS ss ON ss.account = p.subject AND ss.system = ch.system
WHERE p.operation = 'grant'
  AND (p.subject = ch.implementer OR p.actor = ch.implementer OR ss.account IS NOT NULL)
  AND (p.ticket IS NULL OR (p.ticket <> coalesce(ch.ticket, '') AND p.ticket <> ch.change_id))
