-- Every charge with its causal action, whether a customer authorized it, and whether it
-- is anomalous (attribution.md). actor/cause_time are the responsible account and moment.
-- The causes carry their action's columns (event ids are unique), so `actions` is not
-- joined again by event_id.
WITH causes AS (
    SELECT * FROM order_causes
    UNION ALL
    SELECT * FROM unordered_causes
),
customer_orders AS (
    -- Orders a customer itself took part in: it placed or confirmed them (an order
    -- action of its own). Its other actions on an order (a cancel_order, a complaint,
    -- an unsubscribe) do not authorize it.
    SELECT DISTINCT actor AS customer, order_id
    FROM order_actions
    WHERE order_id IS NOT NULL
),
joined AS (
    SELECT
        c.*, k.cause_event_id, k.cause_ts, k.cause_actor, k.cause_action, k.cause_system,
        k.cause_change_id, k.cause_order_id, k.cause_channel,
        (k.cause_actor = c.account OR own.customer IS NOT NULL
         OR own_cause.customer IS NOT NULL) AS authorized_raw
    FROM sale_charges AS c
    LEFT JOIN causes AS k ON k.charge_id = c.charge_id
    LEFT JOIN customer_orders AS own
      ON own.customer = c.account AND own.order_id = c.order_id
    LEFT JOIN customer_orders AS own_cause
      ON own_cause.customer = c.account AND own_cause.order_id = k.cause_order_id
)
SELECT
    j.*,
    coalesce(j.authorized_raw, false) AS customer_authorized,
    j.charge_type = 'one_time' AND NOT coalesce(j.authorized_raw, false) AS anomalous,
    coalesce(j.cause_actor, j.initiated_by) AS actor,
    coalesce(j.cause_ts, j.ts) AS cause_time
FROM joined AS j
