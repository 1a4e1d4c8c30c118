-- Charges proper (one_time and recurring), without refunds; a missing type is one_time.
SELECT
    charge_id, ts, account, product, amount, currency,
    type AS charge_type, order_id, initiated_by, system, channel
FROM charges
WHERE type IN ('one_time', 'recurring')
