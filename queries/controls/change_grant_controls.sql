-- Separation of duties between a change and the privileges it ran on: the change's
-- implementer also granted an account the privilege that account used when it caused
-- the change's anomalous charges (held at a causal action's time, on that action's
-- system or on none in particular). One row per change and grant, with its reason; the
-- accountability report reads these rows (docs/controls.md).
SELECT
    c.change_id, g.grant_event_id, g.subject, g.privilege, g.granted_at AS ts,
    g.granter AS actor, 'separation-of-duties' AS control, 'implementer_granted' AS check_name,
    'The implementer also granted ' || g.subject || ' the privilege ' || g.privilege
    || ' it used (' || g.grant_event_id || ').' AS reason
FROM changes AS c
JOIN privilege_grants AS g ON g.granter = c.implementer AND g.subject <> g.granter
WHERE EXISTS (
    SELECT 1 FROM anomalous_charges AS a
    WHERE a.change_id = c.change_id AND a.actor = g.subject
      AND a.cause_time >= g.granted_at
      AND (g.revoked_at IS NULL OR a.cause_time < g.revoked_at)
      AND (g.system IS NULL OR g.system = a.cause_system))
