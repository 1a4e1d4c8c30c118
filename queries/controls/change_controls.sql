-- The controls a change's own record fails: one row per change and failed check, with
-- the reason a reviewer reads (docs/controls.md). The change rules, `trace change` and the
-- accountability report all read these rows, so a check is written here and nowhere else.
--   change-approval       no approver recorded                       no_approval
--   separation-of-duties  approved by its own implementer            self_approval
--   change-window         started before window_start or after window_end by more than
--                         model_params.grace_minutes                outside_window
WITH checked AS (
    SELECT
        c.change_id, c.started_at, c.implementer, c.approver, c.window_start, c.window_end,
        (c.window_start IS NOT NULL
         AND c.started_at < c.window_start - p.grace_minutes * INTERVAL 1 MINUTE)
        OR (c.window_end IS NOT NULL
            AND c.started_at > c.window_end + p.grace_minutes * INTERVAL 1 MINUTE) AS outside,
        -- The gap to the window's nearer edge, as days, hours and minutes (both engines
        -- normalise a difference of instants into days and a time of day).
        CASE WHEN c.window_start IS NOT NULL AND c.started_at < c.window_start
             THEN c.window_start - c.started_at ELSE c.started_at - c.window_end END AS gap,
        c.window_start IS NOT NULL AND c.started_at < c.window_start AS early
    FROM changes AS c, model_params AS p
),
timed AS (
    SELECT
        change_id, started_at, implementer, approver, outside, early,
        strftime(started_at, '%Y-%m-%d %H:%M') || ' UTC' AS started_text,
        coalesce(strftime(window_start, '%Y-%m-%d %H:%M') || ' UTC', '—') AS start_text,
        coalesce(strftime(window_end, '%Y-%m-%d %H:%M') || ' UTC', '—') AS end_text,
        CAST(extract(day FROM gap) AS BIGINT) AS gap_days,
        CAST(extract(hour FROM gap) AS BIGINT) AS gap_hours,
        CAST(extract(minute FROM gap) AS BIGINT) AS gap_minutes
    FROM checked
)
SELECT
    change_id, 'change-approval' AS control, 'no_approval' AS check_name,
    'Deployed without any approval.' AS reason, started_at AS ts, implementer AS actor
FROM timed
WHERE approver IS NULL
UNION ALL
SELECT
    change_id, 'separation-of-duties' AS control, 'self_approval' AS check_name,
    'Approved by its own implementer, ' || implementer || '.' AS reason,
    started_at AS ts, implementer AS actor
FROM timed
WHERE approver = implementer
UNION ALL
SELECT
    change_id, 'change-window' AS control, 'outside_window' AS check_name,
    'Started ' || started_text || ', '
    || CASE WHEN gap_days > 0
            THEN CAST(gap_days AS VARCHAR) || ' d ' || CAST(gap_hours AS VARCHAR) || ' h'
            WHEN gap_hours > 0
            THEN CAST(gap_hours AS VARCHAR) || ' h ' || CAST(gap_minutes AS VARCHAR) || ' min'
            ELSE CAST(gap_minutes AS VARCHAR) || ' min' END
    || CASE WHEN early THEN ' before its window opened' ELSE ' after its window closed' END
    || ' (approved window ' || start_text || ' to ' || end_text || ').' AS reason,
    started_at AS ts, implementer AS actor
FROM timed
WHERE outside
