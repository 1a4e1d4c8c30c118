-- Billed subscriptions an operator placed for a customer that the customer never
-- confirmed: no order action of the customer itself (placing or confirming) references
-- the order. Orders that were never billed (abandoned at the counter) cost nobody
-- anything.
WITH operator_orders AS (
    SELECT o.*
    FROM order_actions AS o
    LEFT JOIN service_accounts AS s ON s.account = o.actor
    LEFT JOIN accounts AS acc ON acc.account = o.actor
    WHERE NOT o.is_confirm AND o.customer <> o.actor AND s.account IS NULL
      AND coalesce(o.actor_type, acc.account_type, 'human') = 'human'
),
billed AS (
    -- Only the operators' orders: listing the charges of every causal action (millions)
    -- to keep a few thousand was most of this rule's time on 10M charges.
    SELECT cause_event_id, sum(amount) AS amount, list(charge_id ORDER BY charge_id) AS ids
    FROM charge_causes
    WHERE cause_event_id IN (SELECT event_id FROM operator_orders)
    GROUP BY cause_event_id
)
SELECT
    o.ts, o.change_id, o.actor, o.customer AS account, b.amount,
    list_concat(list_value(o.event_id), b.ids) AS evidence,
    o.event_id AS key
FROM operator_orders AS o
JOIN billed AS b ON b.cause_event_id = o.event_id
WHERE NOT EXISTS (
    SELECT 1 FROM order_actions AS c
    WHERE c.actor = o.customer AND c.order_id = o.order_id)
