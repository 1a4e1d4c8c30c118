-- The remediation list: every anomalous charge with the change, account and moment
-- responsible and its refund state. change_id is the causal action's own change when it
-- names one, otherwise the blamed change of its service account's episode on that system.
SELECT
    cc.charge_id, cc.ts AS charged_at, cc.account, cc.product, cc.amount, cc.currency,
    cc.order_id, cc.initiated_by, cc.cause_event_id, cc.cause_system, cc.cause_order_id,
    cc.actor, cc.cause_time,
    coalesce(cc.cause_change_id, b.change_id) AS change_id,
    coalesce(r.refunded_amount, CAST(0 AS DECIMAL(18, 4))) AS refunded_amount,
    coalesce(r.refunded_amount >= cc.amount, false) AS refunded,
    r.first_refund_id AS refund_id
FROM charge_causes AS cc
LEFT JOIN change_blame AS b
  ON cc.cause_change_id IS NULL
 AND b.actor = cc.actor AND b.system = cc.cause_system
 AND cc.cause_time >= b.t0 AND (b.ends_at IS NULL OR cc.cause_time < b.ends_at)
LEFT JOIN charge_refunds AS r ON r.charge_id = cc.charge_id
WHERE cc.anomalous
