"""Loading log files into the database: read (sources: readers and standard adapters),
type (check), judge, store (loading), all through one staging schema (staging); the
pipeline module runs those steps in a line, for files and for rows handed over as data."""

from auditlog.ingest.files import InputFile, discover
from auditlog.ingest.pipeline import FileResult, ingest_paths, ingest_rows

__all__ = ["FileResult", "InputFile", "discover", "ingest_paths", "ingest_rows"]
