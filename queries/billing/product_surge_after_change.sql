-- A product's charges caused on a system surge right after a change to that system,
-- compared with the same product's own rate before the change.
WITH sales AS (
    SELECT charge_id, ts, product, amount, coalesce(cause_system, system) AS system
    FROM charge_causes
    WHERE charge_type = 'one_time'
),
counted AS (
    SELECT
        ch.change_id, ch.implementer, ch.started_at, s.product,
        sum(CASE WHEN s.ts >= ch.started_at THEN 1 ELSE 0 END) AS after_n,
        sum(CASE WHEN s.ts < ch.started_at THEN 1 ELSE 0 END) AS before_n,
        sum(CASE WHEN s.ts >= ch.started_at THEN s.amount END) AS after_amount,
        list(CASE WHEN s.ts >= ch.started_at THEN s.charge_id END ORDER BY s.charge_id)
            AS after_ids
    FROM changes AS ch
    JOIN sales AS s
      ON s.system = ch.system
     AND s.ts >= ch.started_at - CAST($baseline_hours AS INTEGER) * INTERVAL 1 HOURS
     AND s.ts < ch.started_at + CAST($window_hours AS INTEGER) * INTERVAL 1 HOURS
    WHERE coalesce(ch.kind, 'other') <> 'rollback'
    GROUP BY ch.change_id, ch.implementer, ch.started_at, s.product
)
SELECT
    started_at AS ts, change_id, implementer AS actor, CAST(NULL AS VARCHAR) AS account,
    after_amount AS amount,
    list_concat(list_value(change_id), after_ids) AS evidence,
    change_id || '|' || product AS key
FROM counted
WHERE after_n >= CAST($min_charges AS INTEGER)
  -- rate after > factor x rate before, compared without dividing
  AND after_n * CAST($baseline_hours AS INTEGER)
      > CAST($factor AS INTEGER) * before_n * CAST($window_hours AS INTEGER)
