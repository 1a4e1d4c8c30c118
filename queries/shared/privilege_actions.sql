-- Which actions use a privilege, for the access review's "used or not" (docs/access-review.md):
-- one row per (privilege, system, action) named by the model parameter
-- `privilege_actions` ('PRIVILEGE@SYSTEM=ACTION,ACTION;...', PRIVILEGE '*' = every
-- privilege on SYSTEM; the last '@' splits, as a privilege name may hold one). A
-- privilege no entry names is used by any action of its holder on its system, the
-- default because most logs do not say which permission an action exercised; an entry
-- narrows that where the system's permission model is known (`auditlog review access
-- --param privilege_actions='order:bulk_subscribe@order-system=bulk_subscribe'`).
WITH entries AS (
    SELECT trim(entry) AS entry
    FROM model_params AS p, unnest(string_split(p.privilege_actions, ';')) AS e(entry)
),
parsed AS (
    SELECT
        trim(regexp_extract(split_part(entry, '=', 1), '^(.*)@([^@]*)$', 1)) AS privilege,
        trim(regexp_extract(split_part(entry, '=', 1), '^(.*)@([^@]*)$', 2)) AS system,
        split_part(entry, '=', 2) AS actions
    FROM entries
    WHERE entry <> ''
)
SELECT DISTINCT privilege, system, trim(action) AS action
FROM parsed, unnest(string_split(actions, ',')) AS a(action)
WHERE privilege <> '' AND system <> '' AND trim(action) <> ''
