-- Activity by a human operator in an hour of the day in which that operator almost never
-- works: the hour holds less than percent % of the operator's actions overall.
WITH human_actions AS (
    SELECT a.event_id, a.ts, a.actor, a.change_id, extract(hour FROM a.ts) AS hour_of_day
    FROM actions AS a
    LEFT JOIN service_accounts AS s ON s.account = a.actor
    LEFT JOIN accounts AS acc ON acc.account = a.actor
    WHERE s.account IS NULL
      AND coalesce(a.actor_type, acc.account_type, 'human') = 'human'
),
profile AS (
    SELECT actor, hour_of_day, count(*) AS n,
           sum(count(*)) OVER (PARTITION BY actor) AS total
    FROM human_actions
    GROUP BY actor, hour_of_day
)
SELECT
    min(h.ts) AS ts, CAST(NULL AS VARCHAR) AS change_id, h.actor,
    CAST(NULL AS VARCHAR) AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list(h.event_id ORDER BY h.ts, h.event_id) AS evidence,
    h.actor || '|' || CAST(date_trunc('hour', h.ts) AS VARCHAR) AS key
FROM human_actions AS h
JOIN profile AS p ON p.actor = h.actor AND p.hour_of_day = h.hour_of_day
WHERE p.total >= CAST($min_actions AS INTEGER)
  AND p.n * 100 < CAST($percent AS INTEGER) * p.total
GROUP BY h.actor, date_trunc('hour', h.ts)
