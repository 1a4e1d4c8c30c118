-- Per charge: how much has been refunded, and the earliest refund of it. Only a refund
-- that pays the charged account back in the charge's currency counts: 5 USD, or 5 EUR
-- to another customer, does not make a 5 EUR charge whole (the refund check lists such
-- refunds as currency_mismatch or account_mismatch). A refund or charge without a
-- currency is taken to be in the other's, as the check takes it. A refund of a charge
-- the logs do not hold counts as it is (no charge to compare it with).
SELECT
    refund_of AS charge_id,
    sum(abs(amount)) AS refunded_amount,
    min(CASE WHEN pick = 1 THEN charge_id END) AS first_refund_id,
    min(ts) AS first_refund_at
FROM (
    SELECT r.refund_of, r.charge_id, r.amount, r.ts,
           row_number() OVER (PARTITION BY r.refund_of ORDER BY r.ts, r.charge_id) AS pick
    FROM charges AS r
    LEFT JOIN charges AS c ON c.charge_id = r.refund_of
    WHERE r.type = 'refund' AND r.refund_of IS NOT NULL
      AND (c.charge_id IS NULL
           OR (c.account = r.account
               AND (c.currency IS NULL OR r.currency IS NULL OR c.currency = r.currency)))
) AS refunds
GROUP BY refund_of
