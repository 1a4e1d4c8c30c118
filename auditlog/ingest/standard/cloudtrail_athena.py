"""CloudTrail records as Athena and AWS Glue store them: in Parquet (a CTAS or UNLOAD of
the `cloudtrail_logs` table AWS documents, a Glue job's conversion), every name in
lower case (the Hive metastore's), `userIdentity` a struct, `resources` a list of
structs, and `requestParameters`, `responseElements`, `additionalEventData` and
`serviceEventDetails` the JSON text of their objects.

Such a row is the record it was made from with its names folded: `record_sql` gives it
back its CloudTrail names (`eventname` → `eventName`, `useridentity.sessioncontext
.sessionissuer.username` → `userIdentity.sessionContext.sessionIssuer.userName`) and its
JSON members their objects, so the CloudTrail adapter reads it as it reads the trail's
own log files. (A CloudTrail Lake query result has these lower-case names too, but its
`useridentity` is text: cloudtrail_lake.py refuses it.)
"""

from __future__ import annotations

import json

from auditlog.sqltext import escape_ident, sql_string

# The table's columns that are the record's top-level members, by their CloudTrail names.
TOP = {name.lower(): name for name in (
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
    "responseElements", "additionalEventData", "requestID", "eventID", "resources",
    "eventType", "apiVersion", "readOnly", "recipientAccountId", "serviceEventDetails",
    "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "eventCategory",
    "managementEvent", "tlsDetails", "sessionCredentialFromConsole", "insightDetails",
    "addendum", "edgeDeviceDetails")}
# Members the table keeps as the JSON text of an object.
JSON_TEXT = frozenset({"requestparameters", "responseelements", "additionaleventdata",
                       "serviceeventdetails", "insightdetails", "addendum",
                       "edgedevicedetails"})
# The CloudTrail names of the members of a struct column, by that column.
_IDENTITY = (
    "principalId", "accountId", "accessKeyId", "userName", "invokedBy", "sessionContext",
    "sessionIssuer", "webIdFederationData", "federatedProvider", "creationDate",
    "mfaAuthenticated", "sourceIdentity", "ec2RoleDelivery", "onBehalfOf", "userId",
    "identityStoreArn", "credentialId", "identityProvider", "inScopeOf", "issuerType",
    "credentialsIssuedTo", "assumedRoot")
NESTED = {
    "useridentity": {name.lower(): name for name in _IDENTITY},
    "resources": {"arn": "ARN", "accountid": "accountId"},
    "tlsdetails": {name.lower(): name for name in ("tlsVersion", "cipherSuite",
                                                   "clientProvidedHostHeader")},
}
# What tells the table: the names the CloudTrail adapter tells a record by, folded, and
# the identity a struct.
REQUIRED = frozenset({"eventversion", "eventsource", "eventname", "useridentity"})


def is_table(types: dict[str, str]) -> bool:
    """Whether columns of these (DuckDB) types are the Athena/Glue CloudTrail table's."""
    return REQUIRED <= set(types) and types["useridentity"].startswith("STRUCT")


def record_sql(types: dict[str, str]) -> str:
    """SQL over the file's columns: each row as the JSON object of the CloudTrail record
    (nulls are left to the caller to strip)."""
    members = []
    for name, kind in types.items():
        column = f'"{escape_ident(name)}"'
        if name in JSON_TEXT and kind == "VARCHAR":
            value = (f"CASE WHEN json_valid({column}) THEN CAST({column} AS JSON) "
                     f"ELSE to_json({column}) END")
        elif name in NESTED:
            value = f"to_json({column})"
            for folded, cased in NESTED[name].items():
                # A key follows `{` or `,` in DuckDB's compact JSON; a quote inside a
                # string is escaped, so never does.
                value = (f"regexp_replace({value}, {sql_string(f'([{{,]){json.dumps(folded)}:')}, "
                         f"{sql_string(chr(92) + '1' + json.dumps(cased) + ':')}, 'g')")
            value = f"CAST({value} AS JSON)"
        else:
            value = column
        members.append(f"{sql_string(TOP.get(name, name))}, {value}")
    return f"json_object({', '.join(members)})"
