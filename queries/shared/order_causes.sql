-- Causal action of a one_time charge that carries an order_id: the earliest subscribe-like
-- action of that order, or failing one, its earliest order action of any kind. The action's
-- columns come along (charge_causes reads them here, not by a second join on event_id).
SELECT charge_id, event_id AS cause_event_id, ts AS cause_ts, actor AS cause_actor,
       action AS cause_action, system AS cause_system, change_id AS cause_change_id,
       order_id AS cause_order_id, channel AS cause_channel
FROM (
    SELECT
        c.charge_id, a.event_id, a.ts, a.actor, a.action, a.system, a.change_id,
        a.order_id, a.channel,
        row_number() OVER (
            PARTITION BY c.charge_id
            ORDER BY CASE WHEN a.is_confirm THEN 1 ELSE 0 END, a.ts, a.event_id
        ) AS pick
    FROM sale_charges AS c
    JOIN order_actions AS a ON a.order_id = c.order_id
    WHERE c.charge_type = 'one_time' AND c.order_id IS NOT NULL
) AS ranked
WHERE pick = 1
