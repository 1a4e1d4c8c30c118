-- Grants of an administrator-level privilege. A privilege is admin-level when its name,
-- or the last segment of its path, ARN or Windows name ("arn:aws:iam::aws:policy/
-- AdministratorAccess", "roles/owner", "BUILTIN\Administrators"), is one of the
-- comma-separated $admin_privileges (case-insensitive).
SELECT
    ts, CAST(NULL AS VARCHAR) AS change_id, actor, subject AS account,
    CAST(NULL AS DECIMAL(18, 4)) AS amount,
    list_value(event_id) AS evidence, event_id AS key
FROM privileges
WHERE operation = 'grant'
  AND (list_contains(
           list_transform(string_split(lower(CAST($admin_privileges AS VARCHAR)), ','),
                          lambda x: trim(x)),
           lower(trim(privilege)))
       OR list_contains(
           list_transform(string_split(lower(CAST($admin_privileges AS VARCHAR)), ','),
                          lambda x: trim(x)),
           lower(regexp_extract(trim(privilege), '([^/:\\]+)$', 1))))
