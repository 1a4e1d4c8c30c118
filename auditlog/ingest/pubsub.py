"""Records delivered through Google Cloud Pub/Sub, as a Cloud Logging sink to a topic
hands them on: each message's `data` is the base64 of one record (a `LogEntry`'s JSON).
Saved in any of the shapes Pub/Sub gives them out:

* a push subscription's request body: `{"message": {"data": ..., "attributes": {...},
  "messageId": ..., "publishTime": ...}, "subscription": "projects/p/subscriptions/s"}`;
* a pull (`gcloud pubsub subscriptions pull --format=json`, the REST `receivedMessages`):
  `{"ackId": ..., "message": {...}}`;
* the message itself: `{"data": ..., "attributes": {...}, "messageId": ...}`.

Each is decoded here into the record it carries, which is then told by its own keys
(a `protoPayload` entry by the GCP adapter), as cloudwatch.py's payloads are. The
message's metadata (id, publish time, attributes) says how the record travelled, not
what happened; the record is kept as its source wrote it.

Why in Python: the data is base64 (sometimes of gzip), which DuckDB's SQL cannot
decode into text safely. Only records whose keys are a Pub/Sub shape's are looked at.

A message that cannot be decoded is quarantined at its own place (`line 3`), its text as
the file holds it, the reason saying which step failed: no `data` text, not base64, not
UTF-8 (or gzip of it), not a JSON object.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

import duckdb

from auditlog.ingest.files import MAX_LINE_BYTES
from auditlog.ingest.staging import DOCS, replace_docs
from auditlog.sqltext import sql_list

# A PubsubMessage's members, in the JSON of the REST API and of the client libraries.
MESSAGE = frozenset({"data", "attributes", "messageId", "message_id", "publishTime",
                     "publish_time", "orderingKey", "ordering_key"})
# What tells a message from a record that happens to have a `data` member.
_MESSAGE_MARKS = frozenset({"attributes", "messageId", "message_id", "publishTime",
                            "publish_time"})
# A push request's body and a pull's received message: the message and its delivery.
ENVELOPE = frozenset({"message", "subscription", "ackId", "ack_id", "deliveryAttempt",
                      "delivery_attempt"})
_ENVELOPE_MARKS = frozenset({"subscription", "ackId", "ack_id"})
_WHAT = "Pub/Sub message"
_GZIP = b"\x1f\x8b"


def may_hold(keys: set[str]) -> bool:
    """Whether a file whose records have these top-level keys (all its records' together)
    may hold Pub/Sub messages or deliveries: then its records are looked at one by one
    (decode), each by its own keys."""
    return (("message" in keys and bool(keys & _ENVELOPE_MARKS))
            or ("data" in keys and bool(keys & _MESSAGE_MARKS)))


def decode(con: duckdb.DuckDBPyConnection) -> int:
    """Every Pub/Sub message in `DOCS` replaced by the record it carries, or quarantined
    saying why it cannot be. Returns how many there were."""
    wrapped = con.execute(
        f"""SELECT _row, _loc, _raw FROM (
              SELECT *, json_keys(_raw) AS k FROM {DOCS}
              WHERE _bad IS NULL
                AND (contains(_raw, '"data"') OR contains(_raw, '"message"')))
            WHERE (list_contains(k, 'message') AND list_has_all({sql_list(sorted(ENVELOPE))}, k)
                   AND len(list_intersect(k, {sql_list(sorted(_ENVELOPE_MARKS))})) > 0)
               OR (list_contains(k, 'data') AND list_has_all({sql_list(sorted(MESSAGE))}, k)
                   AND len(list_intersect(k, {sql_list(sorted(_MESSAGE_MARKS))})) > 0)
            ORDER BY _row""").fetchall()
    if not wrapped:
        return 0
    replace_docs(con, [(*_record(raw), row, loc) for row, loc, raw in wrapped])
    return len(wrapped)


def _record(raw: str) -> tuple[str | None, str | None]:
    """(the record's text, None), or (None, why the message `raw` holds none)."""
    value: Any = json.loads(raw)
    message = value if "data" in value else value.get("message")
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, str):
        return None, f"{_WHAT} without its data (a base64 text member data)"
    try:
        packed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        try:  # some clients write the URL-safe alphabet
            packed = base64.urlsafe_b64decode(data)
        except (binascii.Error, ValueError):
            return None, f"{_WHAT} whose data is not base64 text"
    if packed.startswith(_GZIP):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            packed = inflater.decompress(packed, MAX_LINE_BYTES + 1)
        except zlib.error:
            return None, f"{_WHAT} whose data is damaged gzip"
        if len(packed) > MAX_LINE_BYTES or not inflater.eof:
            return None, f"{_WHAT} whose gzip data is cut short or too large"
    try:
        text = packed.decode("utf-8")
        record = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None, (f"{_WHAT} whose data is not the JSON of a record (a Cloud Logging "
                      "sink writes one LogEntry as JSON per message)")
    if not isinstance(record, dict):
        return None, f"{_WHAT} whose data is JSON but not an object (one record per message)"
    return text.strip(), None
