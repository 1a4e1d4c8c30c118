-- One-time charges caused by a service account for a product it did not charge during the
-- first baseline_hours of the billing data (the baseline). Recurring fees are the batch
-- accounts' established pattern and never count.
-- svc_charges names the columns it needs: read twice, it is computed once, and a copy of
-- every column of charge_causes for millions of charges was most of this rule's time.
WITH svc_charges AS (
    SELECT cc.charge_id, cc.ts, cc.actor, cc.account, cc.product, cc.amount,
           cc.cause_event_id
    FROM charge_causes AS cc
    JOIN service_accounts AS s ON s.account = cc.actor
    WHERE cc.charge_type = 'one_time'
),
baseline AS (
    SELECT min(ts) + CAST($baseline_hours AS INTEGER) * INTERVAL 1 HOURS AS until_ts
    FROM sale_charges
),
established AS (
    SELECT DISTINCT c.actor, c.product
    FROM svc_charges AS c
    CROSS JOIN baseline AS b
    WHERE c.ts < b.until_ts
)
SELECT
    c.ts, a.change_id, c.actor, c.account, c.amount,
    list_value(c.charge_id, c.cause_event_id) AS evidence,
    c.charge_id AS key
FROM svc_charges AS c
CROSS JOIN baseline AS b
LEFT JOIN established AS e ON e.actor = c.actor AND e.product = c.product
LEFT JOIN anomalous_charges AS a ON a.charge_id = c.charge_id
WHERE e.actor IS NULL
  AND c.ts >= b.until_ts
