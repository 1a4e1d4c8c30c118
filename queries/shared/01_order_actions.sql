-- Successful actions that place or confirm an order for a customer (attribution.md,
-- "order action"). The customer is target_account, or the actor acting for itself.
SELECT
    event_id, ts, actor, actor_type, lower(action) AS action, system,
    coalesce(target_account, actor) AS customer, object, order_id, change_id, channel,
    lower(action) = 'confirm_order' AS is_confirm
FROM actions
WHERE coalesce(result, 'success') = 'success'
  AND lower(action) IN ('subscribe', 'confirm_order', 'change_plan', 'add_package', 'order')
