-- Causal action of a one_time charge that no order_id ties to an action (attribution.md,
-- rule 2): none, or one that no action carries. The charge bills an *order* of the same
-- customer and product (01_order_actions: order_key) that no other charge names by
-- order_id, from clock_skew_minutes before the order's first action until pairing_hours
-- after its last one. Within one (customer, product) the n-th such charge bills the n-th
-- such order in time, so one order is billed once and a stacked double charge needs two
-- orders. Orders with no charge in reach (nothing billed) and charges with no order in
-- reach are left out before pairing so they do not shift the pairs. The order's causal
-- action is its earliest subscribe-like action, else its earliest confirmation; it is
-- picked for the paired orders only, which are a small share of all orders, with its
-- columns (charge_causes reads them here).
WITH bound AS (
    SELECT DISTINCT order_id
    FROM sale_charges
    WHERE charge_type = 'one_time' AND order_id IS NOT NULL
),
spans AS (
    SELECT a.customer, a.object, a.order_key, min(a.ts) AS first_ts, max(a.ts) AS last_ts
    FROM order_actions AS a
    LEFT JOIN bound AS b ON b.order_id = a.order_id
    WHERE a.object IS NOT NULL AND b.order_id IS NULL
    GROUP BY a.customer, a.object, a.order_key
),
orders AS (
    SELECT
        s.customer, s.object, s.order_key, s.first_ts,
        s.first_ts - p.clock_skew_minutes * INTERVAL 1 MINUTE AS reach_from,
        s.last_ts + p.pairing_hours * INTERVAL 1 HOUR AS reach_to
    FROM spans AS s
    CROSS JOIN model_params AS p
),
open_charges AS (
    SELECT c.charge_id, c.ts, c.account, c.product
    FROM sale_charges AS c
    LEFT JOIN order_causes AS oc ON oc.charge_id = c.charge_id
    WHERE c.charge_type = 'one_time' AND oc.charge_id IS NULL
),
paired_charges AS (
    SELECT c.charge_id, c.ts, c.account, c.product,
           row_number() OVER (PARTITION BY c.account, c.product ORDER BY c.ts, c.charge_id) AS n
    FROM open_charges AS c
    WHERE EXISTS (
        SELECT 1 FROM orders AS o
        WHERE o.customer = c.account AND o.object = c.product
          AND c.ts >= o.reach_from AND c.ts <= o.reach_to)
),
paired_orders AS (
    SELECT o.customer, o.object, o.order_key, o.reach_from, o.reach_to,
           row_number() OVER (
               PARTITION BY o.customer, o.object ORDER BY o.first_ts, o.order_key) AS n
    FROM orders AS o
    WHERE EXISTS (
        SELECT 1 FROM open_charges AS c
        WHERE o.customer = c.account AND o.object = c.product
          AND c.ts >= o.reach_from AND c.ts <= o.reach_to)
),
pairs AS (
    SELECT c.charge_id, o.customer, o.object, o.order_key
    FROM paired_charges AS c
    JOIN paired_orders AS o
      ON o.customer = c.account AND o.object = c.product AND o.n = c.n
     AND c.ts >= o.reach_from AND c.ts <= o.reach_to
)
SELECT charge_id, event_id AS cause_event_id, ts AS cause_ts, actor AS cause_actor,
       action AS cause_action, system AS cause_system, change_id AS cause_change_id,
       order_id AS cause_order_id, channel AS cause_channel
FROM (
    SELECT p.charge_id, a.event_id, a.ts, a.actor, a.action, a.system, a.change_id,
           a.order_id, a.channel,
           row_number() OVER (
               PARTITION BY p.charge_id
               ORDER BY CASE WHEN a.is_confirm THEN 1 ELSE 0 END, a.ts, a.event_id) AS pick
    FROM pairs AS p
    JOIN order_actions AS a
      ON a.order_key = p.order_key AND a.customer = p.customer AND a.object = p.object
) AS ranked
WHERE pick = 1
