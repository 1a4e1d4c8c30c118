-- Successful actions that place or confirm an order for a customer (attribution.md,
-- "order action"). The customer is target_account, or the actor acting for itself.
-- order_key groups them into orders: the actions sharing an order_id are one order, an
-- action without order_id is an order of its own.
SELECT
    event_id, ts, actor, actor_type, lower(action) AS action, system,
    coalesce(target_account, actor) AS customer, object, order_id, change_id, channel,
    lower(action) = 'confirm_order' AS is_confirm,
    coalesce(order_id, event_id) AS order_key
FROM actions
WHERE result = 'success'
  AND lower(action) IN ('subscribe', 'confirm_order', 'change_plan', 'add_package', 'order')
