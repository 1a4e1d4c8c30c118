"""CloudWatch Logs subscription payloads: records in the envelope a subscription filter
delivers them in, unwrapped into the records they hold.

A log group's subscription filter (to Lambda, Kinesis, Firehose and from there S3)
sends its events as `{"messageType": "DATA_MESSAGE", "owner", "logGroup", "logStream",
"subscriptionFilters": [...], "logEvents": [{"id", "timestamp", "message"}, ...]}`,
gzip-compressed; Firehose writes such objects one after another into one S3 object.
CloudTrail delivered to CloudWatch Logs comes this way, each event's `message` one
CloudTrail record as a JSON string. `CONTROL_MESSAGE` objects, sent when a
subscription is set up to check that its destination is reachable, hold no log events.

`unwrap` rewrites `DOCS` with each event of a DATA_MESSAGE in place of its envelope:
the message's text is the record (`_raw`, byte for byte what CloudWatch Logs received,
so the record kept is the record as written), located `line 3 event 2`; the rows are
numbered again, in file order, one per record. The envelope less its events, with the
event's `id` and `timestamp`, goes to `CWL_ENVELOPES` by the record's new row, for an
adapter to keep (the CloudTrail adapter's `extra.cloudwatch_logs`). A message that is
not a JSON object is quarantined saying so; which format a JSON message is, is told by
its keys as for every record (sources.stage_records).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from auditlog.ingest.staging import CWL_ENVELOPES, DOCS, drop

# The members that make a record a subscription message (sources.is_standard).
KEYS = frozenset({"messageType", "logEvents"})
DATA = "DATA_MESSAGE"
CONTROL = "CONTROL_MESSAGE"


@dataclass(frozen=True)
class Unwrapped:
    """What `unwrap` found: how many subscription messages, of which control messages,
    and how many records their events gave."""

    messages: int
    control: int
    events: int

    @property
    def no_events(self) -> str | None:
        """What the file is when its subscription messages were all it held and they
        held no events (Staged.no_events), else None."""
        if not self.messages or self.events:
            return None
        if self.control == self.messages:
            return ("CloudWatch Logs control messages (a subscription filter's checks that "
                    "its destination is reachable, no log events)")
        return "CloudWatch Logs subscription messages without log events"


_TEMP = "_cwl_docs"

# Each record of DOCS; a subscription message's events in its place (see the module
# docstring). `_k` orders a message's events; other records have none.
UNWRAP_SQL = f"""
CREATE TEMP TABLE {_TEMP} AS
WITH docs AS (
  SELECT d.*, CASE WHEN _bad IS NULL AND contains(_raw, '"messageType"')
                   THEN json_extract_string(_raw, '$.messageType') END AS _type
  FROM {DOCS} d),
events AS (
  SELECT _row, _loc, unnest(json_extract(_raw, '$.logEvents[*]')) AS e,
         unnest(range(1, CAST(json_array_length(_raw, '$.logEvents') AS BIGINT) + 1)) AS _k,
         json_merge_patch(_raw, '{{"logEvents": null, "messageType": null}}') AS envelope
  FROM docs WHERE _type = '{DATA}' AND json_type(_raw, '$.logEvents') = 'ARRAY'),
messages AS (
  SELECT _row, _k, _loc || ' event ' || _k AS _loc, e, envelope,
         CASE WHEN json_type(e, '$.message') = 'VARCHAR'
              THEN json_extract_string(e, '$.message') END AS message
  FROM events),
records AS (
  SELECT _row, 0 AS _k, _loc, _raw,
         CASE WHEN _type = '{DATA}' THEN 'CloudWatch Logs DATA_MESSAGE without a logEvents '
                                         || 'array: no log events can be read from it'
              ELSE _bad END AS _bad,
         CAST(NULL AS JSON) AS _envelope
  FROM docs WHERE _type IS NULL OR _type NOT IN ('{DATA}', '{CONTROL}')
     OR (_type = '{DATA}' AND json_type(_raw, '$.logEvents') IS DISTINCT FROM 'ARRAY')
  UNION ALL
  SELECT _row, _k, _loc, coalesce(message, CAST(e AS VARCHAR)),
         CASE WHEN message IS NULL
                THEN 'CloudWatch Logs event without a message (a text member)'
              WHEN NOT coalesce(json_valid(message), false)
                OR json_type(message) <> 'OBJECT'
                THEN 'CloudWatch Logs event of log group '
                     || coalesce('"' || (envelope ->> '$.logGroup') || '"', 'unnamed')
                     || ' whose message is not a CloudTrail record: it is not a JSON '
                     || 'object (CloudTrail writes one JSON record per event)'
         END,
         json_merge_patch(envelope, json_object('id', e -> '$.id',
                                                'timestamp', e -> '$.timestamp'))
  FROM messages)
SELECT row_number() OVER (ORDER BY _row, _k) AS _row, _loc, _raw, _bad, _envelope
FROM records
"""


def unwrap(con: duckdb.DuckDBPyConnection) -> Unwrapped:
    """`DOCS` with the events of every CloudWatch Logs subscription message in place of
    the message, their envelopes in `CWL_ENVELOPES` (see the module docstring). A file
    without such messages (a text scan tells, no JSON parse) is left as it is."""
    drop(con, CWL_ENVELOPES)
    found = con.execute(
        f"""SELECT count(*) FILTER (WHERE t IN ($data, $control)),
                   count(*) FILTER (WHERE t = $control)
            FROM (SELECT json_extract_string(_raw, '$.messageType') AS t FROM {DOCS}
                  WHERE _bad IS NULL AND contains(_raw, '"messageType"')
                    AND json_exists(_raw, '$.logEvents'))""",
        {"data": DATA, "control": CONTROL}).fetchone()
    messages, control = (int(found[0]), int(found[1])) if found else (0, 0)
    if not messages:
        return Unwrapped(0, 0, 0)
    con.execute(UNWRAP_SQL)
    con.execute(f"CREATE TEMP TABLE {CWL_ENVELOPES} AS SELECT _row, _envelope FROM {_TEMP} "
                "WHERE _envelope IS NOT NULL")
    con.execute(f"DROP TABLE {DOCS}")
    con.execute(f"CREATE TEMP TABLE {DOCS} AS SELECT _row, _loc, _raw, _bad FROM {_TEMP} "
                "ORDER BY _row")
    con.execute(f"DROP TABLE {_TEMP}")
    ((events,),) = con.execute(f"SELECT count(*) FROM {CWL_ENVELOPES}").fetchall()
    return Unwrapped(messages, control, int(events))


def unclaimed(con: duckdb.DuckDBPyConnection, shapes: list[tuple[str, ...]]) -> None:
    """The records unwrapped from CloudWatch Logs events whose keys (`shapes`, sorted key
    sets) no format auditlog reads claims, quarantined naming the log group: a
    subscription of another log group (a Lambda's own log, flow logs as JSON) holds no
    CloudTrail record."""
    if not shapes:
        return
    con.execute(
        f"""
        UPDATE {DOCS} SET _bad = 'CloudWatch Logs event of log group '
            || coalesce('"' || (e._envelope ->> '$.logGroup') || '"', 'unnamed')
            || ' whose message is not a CloudTrail record (nor a record of another log '
            || 'auditlog reads): its keys are ' || array_to_string(list_sort(json_keys(_raw)), ', ')
        FROM {CWL_ENVELOPES} e
        WHERE e._row = {DOCS}._row AND {DOCS}._bad IS NULL
          AND list_contains($shapes, list_sort(json_keys({DOCS}._raw)))
        """,
        {"shapes": [list(shape) for shape in shapes]},
    )
