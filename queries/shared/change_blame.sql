-- The change blamed for a service account's anomalous charges on a system (attribution.md).
-- The actor's anomalous causes on the system fall into episodes: a cause more than
-- episode_gap_hours (model_params: 168, 7 days) after the one before it starts a new one,
-- and so does a cause more than episode_pause_hours (24) after the one before it and at
-- most episode_pause_hours after the start of a change on that system, not a rollback, that started in between (its start less the model's
-- clock skew, as change records and actions keep their own clocks): anomalies that
-- stopped and began again right after a change are a new incident, however close to the
-- last one, while a pause without a change (a weekend), a change made a day or more
-- before they resumed, or a change amid the anomalies does not part them. An episode's
-- change is the non-rollback change on that system, started from 168 hours before the
-- episode's first cause until its last, across which the episode's anomalies rose the
-- most: its causes in the 168 hours from the change's start, less those in the 168 hours
-- before (the rise must be positive; a tie goes to the later change; the start less the
-- skew). So neither a stray anomaly days before an incident, nor a steady trickle of
-- them, nor a routine change deployed in the middle of the incident takes the blame from
-- the change after which the anomalies began. The change explains the episode's charges
-- caused from its start (less the skew; t0, never before the episode's first cause) until
-- the next episode's first cause (ends_at; NULL for the last). Human operators' actions
-- are never blamed on a change.
WITH causes AS (
    SELECT cc.actor, cc.cause_system AS system, cc.cause_time
    FROM charge_causes AS cc
    JOIN service_accounts AS s ON s.account = cc.actor
    WHERE cc.anomalous AND cc.cause_system IS NOT NULL
),
-- The changes that can be blamed, with from_at, where a change's reach begins: its start
-- less the clock skew.
blamable AS (
    SELECT ch.change_id, ch.system, ch.started_at,
           ch.started_at - m.clock_skew_minutes * INTERVAL 1 MINUTE AS from_at
    FROM changes AS ch
    CROSS JOIN model_params AS m
    WHERE coalesce(ch.kind, 'other') <> 'rollback'
),
-- Each cause with the cause before it and the latest reach begun at or before it, from
-- one sort of the causes among the reaches of their system's changes (a reach sorts
-- before a cause at its instant, which it covers): a change started between two causes
-- when that reach is later than the earlier one, and the latest such change is the one
-- the anomalies resumed after.
marked AS (
    SELECT actor, system, t AS cause_time, is_cause,
           max(CASE WHEN is_cause = 1 THEN t END) OVER (
               PARTITION BY actor, system ORDER BY t, is_cause
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous,
           max(CASE WHEN is_cause = 0 THEN t END) OVER (
               PARTITION BY actor, system ORDER BY t, is_cause
               ROWS UNBOUNDED PRECEDING) AS reach_begun
    FROM (
        SELECT actor, system, cause_time AS t, 1 AS is_cause FROM causes
        UNION ALL
        SELECT p.actor, p.system, b.from_at, 0
        FROM (SELECT DISTINCT actor, system FROM causes) AS p
        JOIN blamable AS b ON b.system = p.system
    ) AS q
),
numbered AS (
    -- RANGE: causes at one instant share an episode whichever of them sorted first.
    SELECT actor, system, cause_time,
           sum(CASE WHEN previous IS NULL
                         OR previous < cause_time - m.episode_gap_hours * INTERVAL 1 HOUR
                         OR (previous < cause_time - m.episode_pause_hours * INTERVAL 1 HOUR
                             AND reach_begun > previous
                             AND reach_begun >= cause_time
                                                - m.episode_pause_hours * INTERVAL 1 HOUR)
                    THEN 1 ELSE 0 END) OVER (
               PARTITION BY actor, system ORDER BY cause_time
               RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS episode
    FROM marked
    CROSS JOIN model_params AS m
    WHERE is_cause = 1
),
episodes AS (
    SELECT actor, system, episode, min(cause_time) AS first_cause,
           max(cause_time) AS last_cause
    FROM numbered
    GROUP BY actor, system, episode
),
candidates AS (
    SELECT e.actor, e.system, e.episode, b.change_id, b.started_at, b.from_at
    FROM episodes AS e
    JOIN blamable AS b
      ON b.system = e.system
     AND b.started_at >= e.first_cause - INTERVAL 168 HOURS
     AND b.started_at <= e.last_cause
),
-- Three probes per candidate (168 hours before from_at, from_at, 168 hours after),
-- sorted among the episode's causes: the causes counted before a probe are those
-- strictly earlier (a probe sorts before a cause at its instant), with one sort instead
-- of a range join of every cause with every candidate.
points AS (
    SELECT actor, system, episode, cause_time AS t, 1 AS is_cause,
           CAST(NULL AS VARCHAR) AS change_id, 0 AS probe
    FROM numbered
    UNION ALL
    SELECT actor, system, episode, from_at - INTERVAL 168 HOURS, 0, change_id, -1
    FROM candidates
    UNION ALL
    SELECT actor, system, episode, from_at, 0, change_id, 0
    FROM candidates
    UNION ALL
    SELECT actor, system, episode, from_at + INTERVAL 168 HOURS, 0, change_id, 1
    FROM candidates
),
counted AS (
    SELECT actor, system, episode, change_id, probe, is_cause,
           sum(is_cause) OVER (
               PARTITION BY actor, system, episode ORDER BY t, is_cause
               ROWS UNBOUNDED PRECEDING) AS earlier
    FROM points
),
rises AS (
    SELECT actor, system, episode, change_id,
           max(CASE WHEN probe = 1 THEN earlier END)
           - 2 * max(CASE WHEN probe = 0 THEN earlier END)
           + max(CASE WHEN probe = -1 THEN earlier END) AS rise
    FROM counted
    WHERE is_cause = 0
    GROUP BY actor, system, episode, change_id
),
picked AS (
    SELECT r.actor, r.system, r.episode, r.change_id, c.started_at, c.from_at,
           row_number() OVER (
               PARTITION BY r.actor, r.system, r.episode
               ORDER BY r.rise DESC, c.started_at DESC, r.change_id DESC
           ) AS pick
    FROM rises AS r
    JOIN candidates AS c
      ON c.actor = r.actor AND c.system = r.system AND c.episode = r.episode
     AND c.change_id = r.change_id
    WHERE r.rise > 0
),
bounds AS (
    SELECT actor, system, episode, first_cause,
           lead(first_cause) OVER (PARTITION BY actor, system ORDER BY first_cause) AS ends_at
    FROM episodes
)
SELECT b.actor, b.system, greatest(b.first_cause, p.from_at) AS t0, b.ends_at,
       p.change_id, p.started_at
FROM bounds AS b
JOIN picked AS p
  ON p.actor = b.actor AND p.system = b.system AND p.episode = b.episode AND p.pick = 1
