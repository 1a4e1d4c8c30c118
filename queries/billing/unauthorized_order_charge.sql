-- One-time charges on an order that no customer action authorized: the charged customer
-- neither placed nor confirmed the order (see docs/attribution.md).
SELECT
    charged_at AS ts, change_id, actor, account, amount,
    list_value(charge_id, cause_event_id, change_id) AS evidence,
    charge_id AS key
FROM anomalous_charges
WHERE order_id IS NOT NULL
