-- Causal action of a one_time charge without an order_id (attribution.md, rule 2): the
-- charges and the subscribe-like actions of one (customer, product) that lie within 24
-- hours before a charge are paired in time order, n-th charge with n-th action. Actions
-- already causing a charge that has an order_id take no part; actions with no charge in
-- the 24 hours after them (nothing was billed) and charges with no action in the 24 hours
-- before them are left out before pairing so they do not shift the pairs.
WITH free_actions AS (
    SELECT a.event_id, a.ts, a.customer, a.object
    FROM order_actions AS a
    LEFT JOIN order_causes AS oc ON oc.cause_event_id = a.event_id
    WHERE NOT a.is_confirm AND a.object IS NOT NULL AND oc.cause_event_id IS NULL
),
open_charges AS (
    SELECT charge_id, ts, account, product
    FROM sale_charges
    WHERE charge_type = 'one_time' AND order_id IS NULL
),
paired_charges AS (
    SELECT c.charge_id, c.ts, c.account, c.product,
           row_number() OVER (PARTITION BY c.account, c.product ORDER BY c.ts, c.charge_id) AS n
    FROM open_charges AS c
    WHERE EXISTS (
        SELECT 1 FROM free_actions AS a
        WHERE a.customer = c.account AND a.object = c.product
          AND a.ts <= c.ts AND a.ts >= c.ts - INTERVAL 24 HOURS)
),
paired_actions AS (
    SELECT a.event_id, a.ts, a.customer, a.object,
           row_number() OVER (PARTITION BY a.customer, a.object ORDER BY a.ts, a.event_id) AS n
    FROM free_actions AS a
    WHERE EXISTS (
        SELECT 1 FROM open_charges AS c
        WHERE a.customer = c.account AND a.object = c.product
          AND a.ts <= c.ts AND a.ts >= c.ts - INTERVAL 24 HOURS)
)
SELECT c.charge_id, a.event_id AS cause_event_id
FROM paired_charges AS c
JOIN paired_actions AS a
  ON a.customer = c.account AND a.object = c.product AND a.n = c.n
 AND a.ts <= c.ts AND a.ts >= c.ts - INTERVAL 24 HOURS
