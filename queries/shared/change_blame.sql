-- The change blamed for a service account's anomalous charges on a system (attribution.md).
-- The actor's anomalous causes on the system fall into episodes: a cause more than 168
-- hours (7 days) after the one before it starts a new one, so a stray anomaly weeks
-- before an incident does not decide the incident's blame. An episode's change is the
-- latest non-rollback change on that system that started at or before the episode's
-- first cause_time t0, at most 168 hours before it; it explains the episode's charges,
-- caused from t0 until the next episode's t0 (ends_at; NULL for the last), even when
-- routine changes on the system follow it. Human operators' actions are never blamed
-- on a change.
WITH causes AS (
    SELECT cc.actor, cc.cause_system AS system, cc.cause_time,
           lag(cc.cause_time) OVER (
               PARTITION BY cc.actor, cc.cause_system ORDER BY cc.cause_time) AS previous
    FROM charge_causes AS cc
    JOIN service_accounts AS s ON s.account = cc.actor
    WHERE cc.anomalous AND cc.cause_system IS NOT NULL
),
starts AS (
    SELECT actor, system, cause_time AS t0,
           lead(cause_time) OVER (PARTITION BY actor, system ORDER BY cause_time) AS ends_at
    FROM causes
    WHERE previous IS NULL OR previous < cause_time - INTERVAL 168 HOURS
),
candidates AS (
    SELECT
        st.actor, st.system, st.t0, st.ends_at, ch.change_id, ch.started_at,
        row_number() OVER (
            PARTITION BY st.actor, st.system, st.t0
            ORDER BY ch.started_at DESC, ch.change_id DESC
        ) AS pick
    FROM starts AS st
    JOIN changes AS ch
      ON ch.system = st.system
     AND ch.started_at <= st.t0
     AND ch.started_at >= st.t0 - INTERVAL 168 HOURS
     AND coalesce(ch.kind, 'other') <> 'rollback'
)
SELECT actor, system, t0, ends_at, change_id, started_at
FROM candidates
WHERE pick = 1
