-- Changes blamed for anomalous charges (docs/attribution.md): the link from a change to
-- the money it cost customers.
SELECT
    ch.started_at AS ts, ch.change_id, ch.implementer AS actor,
    CAST(NULL AS VARCHAR) AS account, sum(a.amount) AS amount,
    list_concat(list_value(ch.change_id), list(a.charge_id ORDER BY a.charge_id)) AS evidence,
    ch.change_id AS key
FROM anomalous_charges AS a
JOIN changes AS ch ON ch.change_id = a.change_id
GROUP BY ch.change_id, ch.started_at, ch.implementer
