-- A grant followed, within $window_hours, by a new credential for the grant's subject: an
-- action named in $credential_actions (comma-separated, case-insensitive) whose
-- target_account (or, when it names none, its actor) is the subject.
SELECT
    min(a.ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, p.actor AS actor,
    p.subject AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_concat(list_value(p.event_id), list(a.event_id ORDER BY a.ts, a.event_id)) AS evidence,
    p.event_id AS key
FROM privileges AS p
JOIN actions AS a
  ON coalesce(a.target_account, a.actor) = p.subject
 AND a.ts >= p.ts
 AND a.ts <= p.ts + CAST($window_hours AS INTEGER) * INTERVAL 1 HOURS
WHERE p.operation = 'grant'
  AND a.result = 'success'
  AND list_contains(
        list_transform(string_split(lower(CAST($credential_actions AS VARCHAR)), ','),
                       lambda x: trim(x)),
        lower(trim(a.action)))
GROUP BY p.event_id, p.actor, p.subject
