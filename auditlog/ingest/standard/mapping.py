"""Mapping files: read any CSV/JSON/Parquet source whose columns, nesting and codes are
not auditlog's.

A mapping is a small TOML file given with `auditlog ingest --mapping FILE` (or the name
of one shipped in auditlog/ingest/mappings/, `--mapping okta_system_log_csv`). It is
applied to the staged table of each file *before* validation, so everything downstream
(kind detection, checks, quarantine, dedup) sees canonical column names and values and
works unchanged. Nothing is dropped: source columns the mapping does not take keep their
names and end up in `extra`. The full syntax, with examples, is docs/mappings.md:

    kind = "privileges"                 # optional; --kind wins, else detected

    [columns]                           # source column -> new name (case-insensitive)
    "Zeit" = "ts"

    [fields]                            # column <- path, or the first present of several
    actor = ["actor.alternateId", "actor.id"]
    subject = "target[0].alternateId"

    [values.operation]                  # per column: source value -> value
    "Add member to role" = "grant"
    [unmatched]                         # a value with no entry -> this (else unchanged)
    operation = "grant"

    [constants]                         # columns set on every row
    system = "okta"

    [timestamps]                        # column -> strptime format(s)
    ts = "%d.%m.%Y %H:%M"

    [minor_units]                       # amounts in cents: decimals, or "currency"
    amount = "currency"

    [filters.role_changes]              # keep only rows that pass; the others are
    path = "eventType"                  # quarantined with this filter named
    in = ["group.user_membership.add", "group.user_membership.remove"]

Why SQL and not Python: files can hold millions of rows; the mapping writes one
`CREATE TABLE ... AS SELECT` with the values bound as parameters, every record parsed
once for all its paths (mapping_sql.py).

Value maps match the trimmed text exactly (case-sensitive, as codes usually are); a
value with no entry passes through unchanged unless [unmatched] names a default, so an
unexpected code is quarantined by validation with the usual "unknown value" reason
rather than silently rewritten. A timestamp that does not fit its format(s) also passes
through unchanged (so an ISO 8601 value still loads, and anything else is quarantined as
unparseable). A format without %z/%Z gives a naive time, read in the zone given by --tz
like any other.
"""

from __future__ import annotations

from auditlog.ingest.standard.mapping_file import (
    SECTIONS,
    Mapping,
    RowFilter,
    find_mapping,
    load_mapping,
    shipped_mappings,
)
from auditlog.ingest.standard.mapping_sql import FILTERED, apply_mapping, filtered_rows

__all__ = ["FILTERED", "SECTIONS", "Mapping", "RowFilter", "apply_mapping", "filtered_rows",
           "find_mapping", "load_mapping", "shipped_mappings"]
