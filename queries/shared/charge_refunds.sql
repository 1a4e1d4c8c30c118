-- Per charge: how much has been refunded, and the earliest refund of it.
SELECT
    refund_of AS charge_id,
    sum(abs(amount)) AS refunded_amount,
    min(CASE WHEN pick = 1 THEN charge_id END) AS first_refund_id,
    min(ts) AS first_refund_at
FROM (
    SELECT refund_of, charge_id, amount, ts,
           row_number() OVER (PARTITION BY refund_of ORDER BY ts, charge_id) AS pick
    FROM charges
    WHERE type = 'refund' AND refund_of IS NOT NULL
) AS refunds
GROUP BY refund_of
