"""AWS API calls that change privileges or credentials, as data: read by the CloudTrail
adapter and by the OCSF adapter for API activity (see cloudtrail.py for what each
means)."""

from __future__ import annotations

from auditlog.sqltext import sql_string

# (eventSource, eventName, operation, subject key, privilege key or constant).
# Keys are members of requestParameters; a privilege in quotes is a constant.
PRIVILEGE_CALLS: tuple[tuple[str, str, str, str, str], ...] = (
    ("iam", "AttachUserPolicy", "grant", "userName", "policyArn"),
    ("iam", "DetachUserPolicy", "revoke", "userName", "policyArn"),
    ("iam", "AttachRolePolicy", "grant", "roleName", "policyArn"),
    ("iam", "DetachRolePolicy", "revoke", "roleName", "policyArn"),
    ("iam", "AttachGroupPolicy", "grant", "groupName", "policyArn"),
    ("iam", "DetachGroupPolicy", "revoke", "groupName", "policyArn"),
    ("iam", "PutUserPolicy", "grant", "userName", "policyName"),
    ("iam", "DeleteUserPolicy", "revoke", "userName", "policyName"),
    ("iam", "PutRolePolicy", "grant", "roleName", "policyName"),
    ("iam", "DeleteRolePolicy", "revoke", "roleName", "policyName"),
    ("iam", "PutGroupPolicy", "grant", "groupName", "policyName"),
    ("iam", "DeleteGroupPolicy", "revoke", "groupName", "policyName"),
    ("iam", "AddUserToGroup", "grant", "userName", "groupName"),
    ("iam", "RemoveUserFromGroup", "revoke", "userName", "groupName"),
    ("iam", "UpdateAssumeRolePolicy", "grant", "roleName", "'assume-role-policy'"),
    ("sso", "CreateAccountAssignment", "grant", "principalId", "permissionSetArn"),
    ("sso", "DeleteAccountAssignment", "revoke", "principalId", "permissionSetArn"),
    ("identitystore", "CreateGroupMembership", "grant", "memberId.userId", "groupId"),
    ("kms", "CreateGrant", "grant", "granteePrincipal", "keyId"),
    # CloudTrail does not say whose grant RevokeGrant ended; the grant id stands in.
    ("kms", "RevokeGrant", "revoke", "grantId", "keyId"),
)

# Calls on a user's credentials: (eventName, owner key). With no userName in the request
# they act on the caller's own credentials.
CREDENTIAL_CALLS: tuple[tuple[str, str], ...] = tuple(
    (name, "userName") for name in (
        "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
        "CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile",
        "CreateServiceSpecificCredential", "ResetServiceSpecificCredential",
        "DeleteServiceSpecificCredential", "UploadSSHPublicKey", "DeleteSSHPublicKey",
        "UploadSigningCertificate", "DeleteSigningCertificate",
    )
)


def calls_values() -> str:
    """PRIVILEGE_CALLS as a SQL VALUES table (also read by the OCSF adapter for API activity)."""
    rows = []
    for service, name, operation, subject, privilege in PRIVILEGE_CALLS:
        constant = privilege.strip("'") if privilege.startswith("'") else None
        rows.append(
            f"({sql_string(service + '.amazonaws.com')}, {sql_string(name)}, "
            f"{sql_string(operation)}, {sql_string('$.' + subject)}, "
            f"{'NULL' if constant else sql_string('$.' + privilege)}, "
            f"{sql_string(constant) if constant else 'NULL'})"
        )
    return (
        "SELECT * FROM (VALUES\n  " + ",\n  ".join(rows) + "\n) AS t(event_source, "
        "event_name, operation, subject_path, privilege_path, privilege_constant)"
    )


def credential_values() -> str:
    """CREDENTIAL_CALLS as a SQL VALUES table (also read by the OCSF adapter)."""
    rows = [f"('iam.amazonaws.com', {sql_string(name)}, {sql_string('$.' + owner)})"
            for name, owner in CREDENTIAL_CALLS]
    return ("SELECT * FROM (VALUES " + ", ".join(rows)
            + ") AS t(event_source, event_name, owner_path)")


def aws_principal(expr: str) -> str:
    """SQL: an AWS principal in the normal form the CloudTrail adapter gives the actor of
    each userIdentity type, from its ARN: `arn:aws:iam::<acct>:user/<path>/<name>` →
    `<name>`; `arn:aws:sts::<acct>:assumed-role/<role>/<session>` → `<role>/<session>`;
    `arn:aws:iam::<acct>:root` → `root/<acct>`; `...:federated-user/<name>` → `<name>`;
    `...:role/<path>/<name>` → `<name>` (as requestParameters' roleName). Anything else
    (service principals such as ec2.amazonaws.com, account ids, principal ids, other
    ARNs) stays as it is. So an OCSF translation of a CloudTrail event, which writes the
    caller's ARN, names the same account as the native event. `expr` is evaluated once
    per branch; pass a column, not a costly expression."""
    arn = r"^arn:aws[a-z-]*:(iam|sts)::([0-9]*):"
    return f"""CASE
      WHEN NOT regexp_matches({expr}, '{arn}') THEN {expr}
      WHEN regexp_matches({expr}, '{arn}assumed-role/[^/]+/.+$')
        THEN regexp_extract({expr}, 'assumed-role/([^/]+/.+)$', 1)
      WHEN regexp_matches({expr}, '{arn}root$')
        THEN 'root/' || regexp_extract({expr}, '{arn}root$', 2)
      WHEN regexp_matches({expr}, '{arn}federated-user/.+$')
        THEN regexp_extract({expr}, 'federated-user/(.+)$', 1)
      WHEN regexp_matches({expr}, '{arn}(user|role)/(.*/)?[^/]+$')
        THEN regexp_extract({expr}, '/([^/]+)$', 1)
      ELSE {expr} END"""
