-- The change blamed for a service account's anomalous charges on a system (attribution.md):
-- the latest non-rollback change on that system that started at or before the first
-- anomalous cause_time t0, at most 168 hours (7 days) before it. It explains the charges
-- caused at or after its start. Human operators' actions are never blamed on a change.
WITH starts AS (
    SELECT cc.actor, cc.cause_system AS system, min(cc.cause_time) AS t0
    FROM charge_causes AS cc
    JOIN service_accounts AS s ON s.account = cc.actor
    WHERE cc.anomalous AND cc.cause_system IS NOT NULL
    GROUP BY cc.actor, cc.cause_system
),
candidates AS (
    SELECT
        st.actor, st.system, st.t0, ch.change_id, ch.started_at,
        row_number() OVER (
            PARTITION BY st.actor, st.system ORDER BY ch.started_at DESC, ch.change_id DESC
        ) AS pick
    FROM starts AS st
    JOIN changes AS ch
      ON ch.system = st.system
     AND ch.started_at <= st.t0
     AND ch.started_at >= st.t0 - INTERVAL 168 HOURS
     AND coalesce(ch.kind, 'other') <> 'rollback'
)
SELECT actor, system, t0, change_id, started_at
FROM candidates
WHERE pick = 1
