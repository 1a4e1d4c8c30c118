-- The subject of a grant acting on its system within minutes after the grant.
SELECT
    min(a.ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, p.subject AS actor,
    CAST(NULL AS VARCHAR) AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_concat(list_value(p.event_id), list(a.event_id ORDER BY a.ts, a.event_id)) AS evidence,
    p.event_id AS key
FROM privileges AS p
JOIN actions AS a
  ON a.actor = p.subject
 AND (p.system IS NULL OR a.system = p.system)
 AND a.ts >= p.ts
 AND a.ts <= p.ts + CAST($minutes AS INTEGER) * INTERVAL 1 MINUTES
WHERE p.operation = 'grant' AND a.result = 'success'
GROUP BY p.event_id, p.subject
