-- One-time charges caused by a service account for a product it did not charge during the
-- first baseline_hours of the billing data (the baseline). Recurring fees are the batch
-- accounts' established pattern and never count.
WITH svc_charges AS (
    SELECT cc.*
    FROM charge_causes AS cc
    JOIN service_accounts AS s ON s.account = cc.actor
),
baseline AS (
    SELECT min(ts) + CAST($baseline_hours AS INTEGER) * INTERVAL 1 HOURS AS until_ts
    FROM sale_charges
),
established AS (
    SELECT DISTINCT c.actor, c.product
    FROM svc_charges AS c
    CROSS JOIN baseline AS b
    WHERE c.charge_type = 'one_time' AND c.ts < b.until_ts
)
SELECT
    c.ts, a.change_id, c.actor, c.account, c.amount,
    list_value(c.charge_id, c.cause_event_id) AS evidence,
    c.charge_id AS key
FROM svc_charges AS c
CROSS JOIN baseline AS b
LEFT JOIN established AS e ON e.actor = c.actor AND e.product = c.product
LEFT JOIN anomalous_charges AS a ON a.charge_id = c.charge_id
WHERE c.charge_type = 'one_time'
  AND e.actor IS NULL
  AND c.ts >= b.until_ts
