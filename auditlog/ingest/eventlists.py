"""Kubernetes audit `EventList`s met as records (a line of JSON Lines, an element of an
array), unwrapped into the audit events they hold.

The API server's webhook backend posts its events in batches, `{"kind": "EventList",
"apiVersion": "audit.k8s.io/v1", "items": [...]}`; a receiver that appends each batch
to a JSON Lines file writes one EventList per line, beside single events of the log
backend. A `.json` document that is one EventList is cut into its items by the reader
(readers._stage_json); here the same is done for EventLists inside a file of records,
so that each item is a record, told by its own keys, and never the list as one row.

Each item takes the list's place, located `line 2 item 3`, its text as DuckDB writes
the item (audit events hold no amounts whose digits matter), and the records are
numbered again in file order, one row per record (as cloudwatch.unwrap numbers the
events of a subscription message): the same file always gives the same rows, and
`loaded + duplicates + quarantined = rows_read` counts the items. An EventList with no
items holds no events and gives no row. A list of another `kind` or `apiVersion` (core
`v1` Events of `kubectl get events`) is left as it is: its items are no audit events.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.staging import DOCS

# The members that make a record a list of items (sources.is_standard).
KEYS = frozenset({"kind", "items"})
_TEMP = "_eventlist_docs"

# Whether a record of DOCS is an audit EventList (as readers._stage_json tells one).
IS_LIST = """(_bad IS NULL AND contains(_raw, '"EventList"')
  AND json_extract_string(_raw, '$.kind') = 'EventList'
  AND json_type(_raw, '$.items') = 'ARRAY'
  AND coalesce(json_extract_string(_raw, '$.apiVersion'), 'audit.k8s.io/')
      LIKE 'audit.k8s.io/%')"""

UNWRAP_SQL = f"""
CREATE TEMP TABLE {_TEMP} AS
WITH docs AS (SELECT d.*, {IS_LIST} AS _list FROM {DOCS} d),
items AS (
  SELECT _row, _loc, unnest(json_extract(_raw, '$.items[*]')) AS item,
         unnest(range(1, CAST(json_array_length(_raw, '$.items') AS BIGINT) + 1)) AS _k
  FROM docs WHERE _list),
records AS (
  SELECT _row, 0 AS _k, _loc, _raw, _bad FROM docs WHERE NOT _list
  UNION ALL
  SELECT _row, _k, _loc || ' item ' || _k, CAST(item AS VARCHAR),
         CASE WHEN json_type(item) <> 'OBJECT' THEN 'not a JSON object' END
  FROM items)
SELECT row_number() OVER (ORDER BY _row, _k) AS _row, _loc, _raw, _bad FROM records
"""


def unwrap(con: duckdb.DuckDBPyConnection) -> int:
    """`DOCS` with the items of every audit EventList in place of the list (see the
    module docstring). Returns how many lists there were; a file without any (a text
    scan tells) is left as it is."""
    (lists,) = con.execute(f"SELECT count(*) FROM {DOCS} WHERE {IS_LIST}").fetchone() or (0,)
    if not lists:
        return 0
    con.execute(UNWRAP_SQL)
    con.execute(f"DROP TABLE {DOCS}")
    con.execute(f"CREATE TEMP TABLE {DOCS} AS SELECT * FROM {_TEMP} ORDER BY _row")
    con.execute(f"DROP TABLE {_TEMP}")
    return int(lists)
