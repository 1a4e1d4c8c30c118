-- The attribution model's parameters (docs/attribution.md), one row, read by the views
-- that pair charges with orders. Edit them here: the stored attribution's fingerprint
-- covers this SQL, so the next `auditlog run` recomputes with the new values.
--   pairing_hours       how long after an order's last action its charge may come
--   clock_skew_minutes  how long *before* an order's first action its charge may come,
--                       because billing and the order systems keep their own clocks
SELECT 24 AS pairing_hours, 5 AS clock_skew_minutes
