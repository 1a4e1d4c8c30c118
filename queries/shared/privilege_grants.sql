-- Every grant with the revocation that ended it (the next revoke of the same subject,
-- privilege and system), so "held at time t" is granted_at <= t < coalesce(revoked_at, ...).
SELECT
    event_id AS grant_event_id, ts AS granted_at, actor AS granter, subject, privilege,
    system, ticket, approver, expires_at, revoked_at
FROM (
    SELECT
        p.*,
        min(CASE WHEN operation = 'revoke' THEN ts END) OVER (
            PARTITION BY subject, privilege, coalesce(system, '')
            ORDER BY ts, event_id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
        ) AS revoked_at
    FROM privileges AS p
) AS events
WHERE operation = 'grant'
