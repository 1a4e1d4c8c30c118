"""CloudWatch Logs subscription events as a Lambda function receives them: `{"awslogs":
{"data": "<base64 of the gzip of a subscription payload>"}}`, saved one per line or as
a JSON array. Each is decoded here into the payload it wraps, which cloudwatch.py then
reads as it reads a payload written out as such (each `logEvents[].message` a record).

Why in Python: the data is base64 of gzip, which DuckDB's SQL cannot inflate. A saved
Lambda event is small (a subscription payload holds at most about 1 MB of log events),
and only records whose text names `"awslogs"` are looked at.

A wrapper that cannot be decoded is quarantined at its own place (`line 3`), its text as
the file holds it, the reason saying which step failed: no `data` text, not base64, not
gzip, not UTF-8, not a JSON object, or a JSON object that is no subscription payload.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib

import duckdb

from auditlog.ingest.cloudwatch import KEYS as PAYLOAD_KEYS
from auditlog.ingest.files import MAX_LINE_BYTES
from auditlog.ingest.staging import DOCS, replace_docs

# The one member of a Lambda function's CloudWatch Logs event (sources.is_standard).
KEY = "awslogs"
_WHAT = "CloudWatch Logs event for Lambda (awslogs)"
# Far above what one subscription payload holds; a bound on what a wrapper may inflate
# to, so that a hostile one cannot fill the memory.
MAX_PAYLOAD_BYTES = MAX_LINE_BYTES


def decode(con: duckdb.DuckDBPyConnection) -> int:
    """Every Lambda CloudWatch Logs event in `DOCS` (a record whose only member is
    `awslogs`) replaced by the subscription payload it carries, or quarantined saying
    why it cannot be. Returns how many there were. A file without any (a text scan
    tells) is left as it is."""
    wrapped = con.execute(
        f"""SELECT _row, _loc, _raw FROM {DOCS}
            WHERE _bad IS NULL AND contains(_raw, '"{KEY}"')
              AND json_keys(_raw) = ['{KEY}'] ORDER BY _row""").fetchall()
    if not wrapped:
        return 0
    replace_docs(con, [(*_payload(raw), row, loc) for row, loc, raw in wrapped])
    return len(wrapped)


def _payload(raw: str) -> tuple[str | None, str | None]:
    """(the payload's text, None), or (None, why the wrapper `raw` holds none)."""
    data = json.loads(raw)[KEY]
    text = data.get("data") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return None, f"{_WHAT} without its data (a text member awslogs.data)"
    try:
        packed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, f"{_WHAT} whose data is not base64 text"
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip only
    try:
        inflated = inflater.decompress(packed, MAX_PAYLOAD_BYTES + 1)
    except zlib.error:
        return None, f"{_WHAT} whose data is not gzip-compressed (base64 of gzip expected)"
    if len(inflated) > MAX_PAYLOAD_BYTES:
        return None, (f"{_WHAT} whose data inflates to more than "
                      f"{MAX_PAYLOAD_BYTES >> 20} MiB, more than a subscription payload holds")
    if not inflater.eof:
        return None, f"{_WHAT} whose data is cut short (its gzip stream ends early)"
    try:
        payload = inflated.decode("utf-8")
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None, f"{_WHAT} whose data does not inflate to JSON text"
    if not isinstance(value, dict) or not PAYLOAD_KEYS <= value.keys():
        return None, (f"{_WHAT} whose data is not a CloudWatch Logs subscription payload "
                      "(an object with messageType and logEvents)")
    return payload, None
