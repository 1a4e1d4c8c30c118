-- Every charge with its causal action, whether a customer authorized it, and whether it
-- is anomalous (attribution.md). actor/cause_time are the responsible account and moment.
WITH causes AS (
    SELECT charge_id, cause_event_id FROM order_causes
    UNION ALL
    SELECT charge_id, cause_event_id FROM unordered_causes
),
customer_orders AS (
    -- Orders a customer itself took part in: it acted on them (placed or confirmed).
    SELECT DISTINCT actor AS customer, order_id
    FROM actions
    WHERE result = 'success' AND order_id IS NOT NULL
),
joined AS (
    SELECT
        c.*, a.event_id AS cause_event_id, a.ts AS cause_ts, a.actor AS cause_actor,
        a.action AS cause_action, a.system AS cause_system, a.change_id AS cause_change_id,
        a.order_id AS cause_order_id, a.channel AS cause_channel,
        (a.actor = c.account OR own.customer IS NOT NULL OR own_cause.customer IS NOT NULL)
            AS authorized_raw
    FROM sale_charges AS c
    LEFT JOIN causes AS k ON k.charge_id = c.charge_id
    LEFT JOIN order_actions AS a ON a.event_id = k.cause_event_id
    LEFT JOIN customer_orders AS own
      ON own.customer = c.account AND own.order_id = c.order_id
    LEFT JOIN customer_orders AS own_cause
      ON own_cause.customer = c.account AND own_cause.order_id = a.order_id
)
SELECT
    j.*,
    coalesce(j.authorized_raw, false) AS customer_authorized,
    j.charge_type = 'one_time' AND NOT coalesce(j.authorized_raw, false) AS anomalous,
    coalesce(j.cause_actor, j.initiated_by) AS actor,
    coalesce(j.cause_ts, j.ts) AS cause_time
FROM joined AS j
