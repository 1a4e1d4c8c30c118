"""A `.json` file of several JSON documents one after another: each document's records.

Exporters append: Kinesis Firehose writes records to S3 as objects back to back; a
script run twice with `>> out.json` leaves `[...][...]`; `zcat` of a trail's S3 objects
gives `{"Records": [...]}{"Records": [...]}`. Every document is complete and valid
JSON, so none is dropped and none is taken for damage: an array gives its elements, a
CloudTrail S3 object (its one member `Records`) the elements of that array, any other
object is one record (Firehose). Rows are numbered in file order across the documents,
located `value 2 element 3` (the second document's third element) or `value 4`.

Elements keep their own text as written (array_elements cuts it from the document's
text, which read_json_objects gives as written), so a number's digits are read from the
file, as for a single array (numbers.py).
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.salvage import Table, array_elements, array_start
from auditlog.ingest.staging import DOCS, TOP

# How a document of TOP holds records: 'array', 'records' (a CloudTrail S3 object),
# NULL for a document that is one record.
_SHAPE = """CASE WHEN json_type(doc) = 'ARRAY' THEN 'array'
                 WHEN json_type(doc) = 'OBJECT' AND json_keys(doc) = ['Records']
                      AND json_type(doc, '$.Records') = 'ARRAY' THEN 'records' END"""


def holds_lists(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a document of `TOP` (several documents) is a list of records."""
    row = con.execute(f"SELECT bool_or(({_SHAPE}) IS NOT NULL) FROM {TOP}").fetchone()
    return bool(row and row[0])


def stage(con: duckdb.DuckDBPyConnection) -> None:
    """`TOP(n, doc)` → `DOCS`, each document's records in its place (see the module
    docstring); `TOP` is dropped."""
    con.execute(f"CREATE TEMP TABLE {DOCS} (_row BIGINT, _loc VARCHAR, _raw VARCHAR, "
                "_bad VARCHAR)")
    table = Table(con, DOCS, ["_row", "_loc", "_raw", "_bad"])
    row = done = 0
    # A page of documents at a time, fetched whole: `table` writes to the same
    # connection (temp tables are its own), which would end a result still being read.
    while batch := con.execute(
            f"SELECT n, CAST(doc AS VARCHAR), {_SHAPE} FROM {TOP} WHERE n > $done "
            "ORDER BY n LIMIT 100", {"done": done}).fetchall():
        done = batch[-1][0]
        for n, text, shape in batch:
            if shape is None:
                row += 1
                table.add((row, f"value {n}", text, None))
                continue
            start = array_start(text)
            assert start is not None  # an array, or an object whose one member is one
            for k, (element, reason) in enumerate(array_elements(text, start), start=1):
                row += 1
                table.add((row, f"value {n} element {k}", element, reason))
    table.flush()
    con.execute(f"DROP TABLE {TOP}")
    con.execute(f"UPDATE {DOCS} SET _bad = 'not a JSON object' "
                "WHERE _bad IS NULL AND json_type(_raw) <> 'OBJECT'")
