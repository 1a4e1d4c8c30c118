-- Separation of duties between a change and the privileges it ran on: the change's
-- implementer also granted an account the privilege that account used when it caused
-- the change's anomalous charges (held at a causal action's time, on that action's
-- system or on none in particular: "held" is privilege_intervals', the one definition,
-- so an expired grant or a disabled account's does not count). One row per change and
-- grant, with its reason; the accountability report reads these rows (docs/controls.md).
SELECT DISTINCT
    c.change_id, g.grant_event_id, g.account AS subject, g.privilege, g.granted_at AS ts,
    g.granter AS actor, 'separation-of-duties' AS control, 'implementer_granted' AS check_name,
    'The implementer also granted ' || g.account || ' the privilege ' || g.privilege
    || ' it used (' || g.grant_event_id || ').' AS reason
FROM changes AS c
JOIN privilege_intervals AS g ON g.granter = c.implementer AND g.account <> g.granter
WHERE EXISTS (
    SELECT 1 FROM anomalous_charges AS a
    WHERE a.change_id = c.change_id AND a.actor = g.account
      AND a.cause_time >= g.held_from
      AND (g.ended_at IS NULL OR a.cause_time < g.ended_at)
      AND (g.system IS NULL OR g.system = a.cause_system))
