-- A customer charged again for the same product within a short time while the earlier
-- charge stands unrefunded: a duplicate ("stacked") subscription.
WITH ordered AS (
    SELECT
        charge_id, ts, account, product, amount,
        lag(charge_id) OVER (PARTITION BY account, product ORDER BY ts, charge_id) AS prev_id,
        lag(ts) OVER (PARTITION BY account, product ORDER BY ts, charge_id) AS prev_ts
    FROM sale_charges
    WHERE charge_type = 'one_time'
)
SELECT
    o.ts, a.change_id, coalesce(a.actor, cc.actor) AS actor, o.account, o.amount,
    list_value(o.prev_id, o.charge_id, cc.cause_event_id) AS evidence,
    o.charge_id AS key
FROM ordered AS o
JOIN charge_causes AS cc ON cc.charge_id = o.charge_id
LEFT JOIN anomalous_charges AS a ON a.charge_id = o.charge_id
LEFT JOIN charge_refunds AS r ON r.charge_id = o.prev_id AND r.first_refund_at <= o.ts
WHERE o.prev_id IS NOT NULL
  AND o.ts <= o.prev_ts + CAST($window_hours AS INTEGER) * INTERVAL 1 HOURS
  AND r.charge_id IS NULL
