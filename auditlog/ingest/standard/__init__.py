"""Standard log formats mapped onto auditlog's kinds (CloudTrail, Kubernetes, OCSF), one
adapter per module, registered in ingest/sources.py (see there for adding one), and
mapping files for other formats (mapping.py).

An adapter recognizes its format from the keys of a file's records and stages the
records into one table per kind it maps onto (staging.split_by_kind). Files that no
adapter recognizes are read by their native columns.
"""
