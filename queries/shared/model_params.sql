-- The model's parameters (docs/attribution.md, docs/controls.md), one row, read by the
-- views that pair charges with orders and by the controls. Each is also a run parameter:
-- `auditlog run --param grace_minutes=30` installs this view with the run's value as a
-- typed literal (pack/params.py), the run records it, and traces and reports read the
-- values of the latest run. The stored attribution's fingerprint covers this SQL as
-- installed, so a run with other values recomputes it.
--   pairing_hours       how long after an order's last action its charge may come
--   clock_skew_minutes  how long *before* an order's first action its charge may come,
--                       because billing and the order systems keep their own clocks
--   grace_minutes       how far outside its approved window a change may start and still
--                       count as within it (controls/change_controls.sql)
--   privilege_actions   which actions use a privilege, for the access review
--                       (shared/privilege_actions.sql): '' = any action of the holder
--                       on the privilege's system; else entries 'PRIVILEGE@SYSTEM=ACTION,
--                       ACTION' separated by ';' (PRIVILEGE '*' = every privilege on it)
--   deploy_privileges   LIKE pattern of the privileges that let their holder deploy
--                       (separation of duties in shared/privilege_review.sql)
--   episode_gap_hours   a service account's anomalies resuming after a pause this long
--                       are a new incident, blamed on a change of their own
--                       (shared/change_blame.sql)
--   episode_pause_hours and so are anomalies resuming after a pause this long, within
--                       this long of a change started in the pause
SELECT 24 AS pairing_hours, 5 AS clock_skew_minutes, 0 AS grace_minutes,
       '' AS privilege_actions, '%deploy%' AS deploy_privileges,
       168 AS episode_gap_hours, 24 AS episode_pause_hours
