-- One-time charges without an order_id that no customer action authorized. Their cause is
-- found by account, product and time (the 24 hours before the charge).
SELECT
    charged_at AS ts, change_id, actor, account, amount,
    list_value(charge_id, cause_event_id, change_id) AS evidence,
    charge_id AS key
FROM anomalous_charges
WHERE order_id IS NULL
