"""Loading log files into the database: readers per format, validation, quarantine."""

from auditlog.ingest.files import InputFile, discover
from auditlog.ingest.pipeline import FileResult, ingest_paths

__all__ = ["FileResult", "InputFile", "discover", "ingest_paths"]
