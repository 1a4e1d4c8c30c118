-- Anomalous charges that are still not covered by refunds.
SELECT
    charged_at AS ts, change_id, actor, account, amount - refunded_amount AS amount,
    list_value(charge_id, cause_event_id, change_id) AS evidence,
    charge_id AS key
FROM anomalous_charges
WHERE NOT refunded
