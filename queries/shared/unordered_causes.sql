-- Causal action of a one_time charge that no order_id ties to an action (attribution.md,
-- rule 2): none, or one that no action carries. The charge bills an *order* of the same
-- customer and product (01_order_actions: order_key) that no other charge names by
-- order_id, from clock_skew_minutes before the order's first action until pairing_hours
-- after its last one. Within one (customer, product) and one stretch of overlapping
-- reach, the n-th such charge bills the n-th such order in time, so one order is billed
-- once and a stacked double charge needs two orders. Orders with no charge in reach
-- (nothing billed) and charges with no order in reach are left out before pairing so
-- they do not shift the pairs. The order's causal action is its earliest subscribe-like
-- action, else its earliest confirmation; it is picked for the paired orders only, which
-- are a small share of all orders, with its columns (charge_causes reads them here).
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
    SELECT c.charge_id, c.ts, c.account, c.product
    FROM open_charges AS c
    WHERE EXISTS (
        SELECT 1 FROM orders AS o
        WHERE o.customer = c.account AND o.object = c.product
          AND c.ts >= o.reach_from AND c.ts <= o.reach_to)
),
reached_orders AS (
    SELECT o.customer, o.object, o.order_key, o.first_ts, o.reach_from, o.reach_to,
           max(o.reach_to) OVER (
               PARTITION BY o.customer, o.object ORDER BY o.reach_from, o.order_key
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached_before
    FROM orders AS o
    WHERE EXISTS (
        SELECT 1 FROM open_charges AS c
        WHERE o.customer = c.account AND o.object = c.product
          AND c.ts >= o.reach_from AND c.ts <= o.reach_to)
),
-- Stretches of overlapping reach (a new one where an order's reach begins after every
-- earlier one's has ended): no charge can pair across two, so the pairs are counted
-- within each, and a surplus order or charge in one stretch (a retried order, a
-- duplicate charge) does not shift the pairs of every later one.
stretched_orders AS (
    SELECT customer, object, order_key, first_ts, reach_from, reach_to,
           sum(CASE WHEN reach_from <= reached_before THEN 0 ELSE 1 END) OVER (
               PARTITION BY customer, object ORDER BY reach_from, order_key
               ROWS UNBOUNDED PRECEDING) AS stretch
    FROM reached_orders
),
paired_orders AS (
    SELECT customer, object, order_key, reach_from, reach_to, stretch,
           row_number() OVER (
               PARTITION BY customer, object, stretch ORDER BY first_ts, order_key) AS n
    FROM stretched_orders
),
-- Each charge's stretch (the last begun at or before it: a charge lies in the reach of
-- an order of it) and the charges counted up to it, sorting the charges among the
-- stretches' beginnings; its rank in the stretch is that count less the count at the
-- stretch's beginning.
marks AS (
    SELECT customer, object, min(reach_from) AS t, 0 AS is_charge,
           CAST(NULL AS VARCHAR) AS charge_id, stretch
    FROM stretched_orders
    GROUP BY customer, object, stretch
    UNION ALL
    SELECT account, product, ts, 1, charge_id, NULL
    FROM paired_charges
),
swept AS (
    SELECT customer, object, t, is_charge, charge_id,
           max(stretch) OVER (
               PARTITION BY customer, object ORDER BY t, is_charge, charge_id
               ROWS UNBOUNDED PRECEDING) AS stretch,
           sum(is_charge) OVER (
               PARTITION BY customer, object ORDER BY t, is_charge, charge_id
               ROWS UNBOUNDED PRECEDING) AS charges_so_far
    FROM marks
),
pairs AS (
    SELECT c.charge_id, o.customer, o.object, o.order_key
    FROM swept AS c
    JOIN swept AS b  -- the stretch's beginning: the charges counted before it
      ON b.is_charge = 0 AND b.customer = c.customer AND b.object = c.object
     AND b.stretch = c.stretch
    JOIN paired_orders AS o
      ON o.customer = c.customer AND o.object = c.object AND o.stretch = c.stretch
     AND o.n = c.charges_so_far - b.charges_so_far
     AND c.t >= o.reach_from AND c.t <= o.reach_to
    WHERE c.is_charge = 1
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
