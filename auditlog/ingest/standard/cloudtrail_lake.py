"""What CloudTrail Lake gives its users, told apart from CloudTrail records.

CloudTrail Lake keeps events in event data stores that are queried in SQL; nothing it
writes out is a CloudTrail record as a trail writes one:

* **Saved query results** (StartQuery's DeliveryS3Uri, the console's "Save results"):
  `AWSLogs/<account>/CloudTrail-Lake/Query/<y>/<m>/<d>/<query id>/result_1.csv.gz`,
  ... (CSV, gzip) beside `result_sign.json`. A result's columns are what the query
  selected; `SELECT *` gives the event data store's columns (eventversion,
  useridentity, eventtime, eventsource, eventname, ...; for an integration's events
  `eventdata`), nested fields flattened to text, not the JSON objects of a record.
* **GetQueryResults** (`aws cloudtrail get-query-results > out.json`):
  `{"QueryStatus", "QueryStatistics", "QueryResultRows": [[{"column": "text"}, ...]]}`,
  each row the query's columns as strings.
* **The sign file** `result_sign.json`: `{version, region, files: [{fileName,
  fileHashValue}], hashAlgorithm, signatureAlgorithm, queryCompleteTime,
  hashSignature, publicKeyFingerprint}`, hashes and a signature, no events (as a
  trail's digest file).

So a sign file is said to hold no events (a synced query-results folder loads as a
whole), and a result is refused in one sentence saying what it is and what to load
instead: the trail's own log files, or a result whose query selected the columns of a
kind (`eventTime AS ts, userIdentity.arn AS actor, eventName AS action, eventSource AS
system`), which then loads as that kind.
"""

from __future__ import annotations

import duckdb

from auditlog.errors import InputError
from auditlog.ingest.staging import Staged
from auditlog.ingest.standard.cloudtrail import stage_no_events

# Columns of an event data store that only a CloudTrail Lake result has together (the
# SQL schema's names, lower case as CloudTrail Lake writes them).
EVENT_COLUMNS = frozenset({"eventsource", "eventname", "eventtime"})
INTEGRATION_COLUMNS = frozenset({"eventdata", "eventtime"})

INSTEAD = ("load the trail's own log files from its S3 bucket (AWSLogs/<account>/"
           "CloudTrail/), or run the query again selecting the columns of a kind "
           "(eventTime AS ts, userIdentity.arn AS actor, eventName AS action, eventSource "
           "AS system for actions) and load its saved CSV result")


def result_columns(columns: list[str]) -> str | None:
    """Why a file with these columns (of no kind) cannot be read, when they are a
    CloudTrail Lake query result's, else None. The names are matched as CloudTrail Lake
    writes them, in lower case: a CloudTrail record's own (`eventName`) are not."""
    present = {c.strip() for c in columns}
    if not (EVENT_COLUMNS <= present or INTEGRATION_COLUMNS <= present):
        return None
    shown = ", ".join(sorted(present & (EVENT_COLUMNS | INTEGRATION_COLUMNS
                                        | {"eventversion", "useridentity", "eventid"})))
    return (f"this is a CloudTrail Lake query result (its columns {shown}): its rows are "
            "the columns the query selected, nested fields such as userIdentity "
            "flattened to text, not CloudTrail records; " + INSTEAD)


class CloudTrailLakeResults:
    """A GetQueryResults answer saved as JSON: refused, saying what it is (see the module
    docstring); its rows are no records auditlog can map."""

    name = "cloudtrail-lake-results"

    def matches(self, keys: set[str]) -> bool:
        return "QueryResultRows" in keys or {"QueryStatus", "QueryStatistics"} <= keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        raise InputError(
            "this is a CloudTrail Lake query result as GetQueryResults returns it "
            "(QueryStatus, QueryResultRows: each row the query's columns as text), not "
            "CloudTrail records; " + INSTEAD)


class CloudTrailLakeSign:
    """The sign file of saved CloudTrail Lake query results: no events, said so (as
    cloudtrail.CloudTrailDigest)."""

    name = "cloudtrail-lake-sign"

    def matches(self, keys: set[str]) -> bool:
        return {"queryCompleteTime", "hashSignature", "files"} <= keys

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        return stage_no_events(con, "sign", self.name,
                               "the sign file of CloudTrail Lake query results (hashes and "
                               "a signature of the result files, no events)")
