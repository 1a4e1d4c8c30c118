"""Who an AWS call opens a resource to, read from its `requestParameters`: the CloudTrail
adapter keeps it as `extra.access_opened_to` (a list of `"*"` and 12-digit account ids),
and the exposure rules judge it (public, or an account other than the one logging).

What is read, per call:

* a **resource or trust policy** (POLICY_CALLS: a role's trust policy, a bucket, key,
  secret, repository, queue, topic or search domain policy; the document is a JSON
  object or a JSON string): the principals of each `Allow` statement that has no
  `Condition` (a condition usually narrows a `*` to an organization, VPC, account or
  source: telling which narrow enough is IAM Access Analyzer's job, not a log reader's).
  `"Principal": "*"`, `{"AWS": "*"}` and an `Allow` with `NotPrincipal` are `"*"`; an
  `AWS` principal as an account id or an IAM/STS ARN is its account; service,
  federated and canonical-user principals are left out (they are not another account);
* a **Lambda permission** (`AddPermission*`, `AddLayerVersionPermission*`, with their
  API version suffixes): its `principal`, unless `sourceArn`, `sourceAccount`,
  `principalOrgID` or `organizationId` restricts it;
* a **snapshot or image shared** (SHARE_CALLS): the accounts added (`userId`, or
  `valuesToAdd` of an RDS `restore` attribute), the group `all` as `"*"`;
* an **S3 ACL** (`PutBucketAcl`, `PutObjectAcl`): `"*"` for a canned `public-read`,
  `public-read-write` or `authenticated-read` ACL, or a grant to the AllUsers or
  AuthenticatedUsers group (any AWS account is as good as anyone).

A call whose parameters name none of these gets no list (NULL). A document that is not
JSON opens nothing that can be read, so it gets none either.
"""

from __future__ import annotations

from auditlog.sqltext import sql_string

# (eventSource, eventName, path of the policy document inside requestParameters).
POLICY_CALLS: tuple[tuple[str, str, str], ...] = (
    ("iam", "UpdateAssumeRolePolicy", "policyDocument"),
    ("iam", "CreateRole", "assumeRolePolicyDocument"),
    ("s3", "PutBucketPolicy", "bucketPolicy"),
    ("kms", "PutKeyPolicy", "policy"),
    ("kms", "CreateKey", "policy"),
    ("secretsmanager", "PutResourcePolicy", "resourcePolicy"),
    ("ecr", "SetRepositoryPolicy", "policyText"),
    ("sqs", "SetQueueAttributes", "attributes.Policy"),
    ("sns", "SetTopicAttributes", "attributeValue"),
    ("es", "CreateElasticsearchDomain", "accessPolicies"),
    ("es", "UpdateElasticsearchDomainConfig", "accessPolicies"),
)

# (eventSource, eventName, path of the list of what is added, member naming an account
# or '' when the list holds the accounts themselves).
SHARE_CALLS: tuple[tuple[str, str, str, str], ...] = (
    ("ec2", "ModifySnapshotAttribute", "createVolumePermission.add.items", "userId"),
    ("ec2", "ModifyImageAttribute", "launchPermission.add.items", "userId"),
    ("rds", "ModifyDBSnapshotAttribute", "valuesToAdd", ""),
    ("rds", "ModifyDBClusterSnapshotAttribute", "valuesToAdd", ""),
)

PUBLIC_ACL = r"public-read|public-read-write|authenticated-read"
PUBLIC_GROUP = r"acs\.amazonaws\.com/groups/global/(AllUsers|AuthenticatedUsers)"


def _values(rows: list[str], columns: str) -> str:
    return f"(SELECT * FROM (VALUES {', '.join(rows)}) AS t({columns}))"


def _policy_calls() -> str:
    return _values([f"({sql_string(s + '.amazonaws.com')}, {sql_string(n)}, "
                    f"{sql_string('$.' + p)})" for s, n, p in POLICY_CALLS],
                   "service, name, path")


def _shares(calls: str) -> str:
    """One SELECT per SHARE_CALLS entry (a wildcard path must be a constant to give a
    list): each account added, the group `all` as '*'."""
    selects = []
    for service, name, path, member in SHARE_CALLS:
        items = sql_string(f"$.{path}[*]")
        added = (f"json_extract_string(rp, {items})" if not member else
                 f"list_transform(json_extract(rp, {items}), lambda x: coalesce("
                 f"x ->> {sql_string('$.' + member)}, "
                 f"CASE WHEN (x ->> '$.group') = 'all' THEN '*' END))")
        restore = ("" if member else
                   " AND coalesce(rp ->> '$.attributeName', 'restore') = 'restore'")
        selects.append(
            f"SELECT _row, unnest({added}) AS principal FROM {calls} "
            f"WHERE service = {sql_string(service + '.amazonaws.com')} "
            f"AND name = {sql_string(name)}{restore}")
    return "\n  UNION ALL\n  ".join(selects)


def access_sql(calls: str) -> str:
    """SELECT `_row, access_opened_to` (a JSON list) over `calls`, a table with one row
    per record: `_row`, `service` and `name` (text) and `rp` (requestParameters, JSON).
    Only records that open something are returned."""
    return f"""
WITH docs AS (
  SELECT c._row,
         CASE json_type(c.rp, p.path)
           WHEN 'VARCHAR' THEN TRY_CAST(json_extract_string(c.rp, p.path) AS JSON)
           ELSE json_extract(c.rp, p.path) END AS doc
  FROM {calls} c JOIN {_policy_calls()} p ON p.service = c.service AND p.name = c.name),
statements AS (
  SELECT _row, unnest(CASE json_type(doc, '$.Statement')
                        WHEN 'ARRAY' THEN json_extract(doc, '$.Statement[*]')
                        WHEN 'OBJECT' THEN [json_extract(doc, '$.Statement')]
                        ELSE CAST([] AS JSON[]) END) AS st
  FROM docs WHERE json_type(doc) = 'OBJECT'),
principals AS (
  SELECT _row, unnest(list_concat(
           CASE WHEN json_type(st, '$.Principal') = 'VARCHAR'
                  THEN [json_extract_string(st, '$.Principal')]
                WHEN json_type(st, '$.Principal.AWS') = 'VARCHAR'
                  THEN [json_extract_string(st, '$.Principal.AWS')]
                WHEN json_type(st, '$.Principal.AWS') = 'ARRAY'
                  THEN json_extract_string(st, '$.Principal.AWS[*]')
                ELSE CAST([] AS VARCHAR[]) END,
           CASE WHEN json_type(st, '$.NotPrincipal') IS NOT NULL THEN ['*']
                ELSE CAST([] AS VARCHAR[]) END)) AS principal
  FROM statements
  WHERE json_extract_string(st, '$.Effect') = 'Allow'
    AND json_type(st, '$.Condition') IS NULL
  UNION ALL
  SELECT _row, rp ->> '$.principal'
  FROM {calls}
  WHERE service = 'lambda.amazonaws.com'
    AND (name LIKE 'AddPermission%' OR name LIKE 'AddLayerVersionPermission%')
    AND coalesce(rp ->> '$.sourceArn', rp ->> '$.sourceAccount', rp ->> '$.principalOrgID',
                 rp ->> '$.organizationId') IS NULL
  UNION ALL
  {_shares(calls)}
  UNION ALL
  SELECT _row, '*'
  FROM {calls}
  WHERE service = 's3.amazonaws.com' AND name IN ('PutBucketAcl', 'PutObjectAcl')
    AND (regexp_matches(coalesce(CAST(rp -> '$."x-amz-acl"' AS VARCHAR), ''),
                        '{PUBLIC_ACL}')
         OR regexp_matches(CAST(rp AS VARCHAR), '{PUBLIC_GROUP}'))),
opened AS (
  SELECT _row,
         CASE WHEN trim(principal) IN ('*', 'all') THEN '*'
              WHEN regexp_full_match(trim(principal), '[0-9]{{12}}') THEN trim(principal)
              ELSE nullif(regexp_extract(trim(principal),
                                         '^arn:aws[a-z-]*:(iam|sts)::([0-9]{{12}}):', 2), '')
         END AS who
  FROM principals)
SELECT _row, to_json(list(DISTINCT who ORDER BY who)) AS access_opened_to
FROM opened WHERE who IS NOT NULL
GROUP BY _row
"""
