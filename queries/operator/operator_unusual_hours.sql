-- Activity by a human operator in an hour of the day (UTC) in which that operator acted
-- on fewer than min_days days, and that is not next to one of the operator's usual hours
-- (so the edges of a shift are not unusual). Needs an established pattern: at least
-- active_days days of activity.
WITH human_actions AS (
    SELECT a.event_id, a.ts, a.actor, extract(hour FROM a.ts) AS hour_of_day,
           date_trunc('day', a.ts) AS day
    FROM actions AS a
    LEFT JOIN service_accounts AS s ON s.account = a.actor
    LEFT JOIN accounts AS acc ON acc.account = a.actor
    WHERE s.account IS NULL
      AND coalesce(a.actor_type, acc.account_type, 'human') = 'human'
),
hour_days AS (
    SELECT actor, hour_of_day, count(DISTINCT day) AS days
    FROM human_actions GROUP BY actor, hour_of_day
),
active AS (
    SELECT actor FROM human_actions GROUP BY actor
    HAVING count(DISTINCT day) >= CAST($active_days AS INTEGER)
),
odd_hours AS (
    SELECT h.actor, h.hour_of_day
    FROM hour_days AS h
    JOIN active AS act ON act.actor = h.actor
    WHERE h.days < CAST($min_days AS INTEGER)
      AND NOT EXISTS (
          SELECT 1 FROM hour_days AS u
          WHERE u.actor = h.actor AND u.days >= CAST($min_days AS INTEGER)
            AND (abs(u.hour_of_day - h.hour_of_day) <= 1
                 OR abs(u.hour_of_day - h.hour_of_day) >= 23))
)
SELECT
    min(h.ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, h.actor,
    CAST(NULL AS VARCHAR) AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list(h.event_id ORDER BY h.ts, h.event_id) AS evidence,
    h.actor || '|' || strftime(date_trunc('hour', h.ts), '%Y-%m-%d %H:%M:%S') || '+00' AS key
FROM human_actions AS h
JOIN odd_hours AS o ON o.actor = h.actor AND o.hour_of_day = h.hour_of_day
GROUP BY h.actor, date_trunc('hour', h.ts)
