"""Sigma rules as auditlog rules: pySigma parses a rule (its detection, modifiers and
correlation), and this package writes it as an ordinary rule of a pack: one portable SQL
file reading the verbatim source record of each event (`<kind>_with_record`), one TOML of
metadata with the Sigma rule's own, the YAML kept for provenance and a case file built
from the detection itself.

    logsources.py   which Sigma logsources auditlog reads, and how a record is told
    sql.py          a parsed detection condition -> a SQL predicate over the record
    correlation.py  event_count, value_count, temporal, temporal_ordered -> window SQL
    evaluate.py     the same detection evaluated in Python over one JSON record
    synth.py        a matching and a non-matching record built from the detection
    convert.py      import_sigma: files in, rule files out, refusals with their reason

pySigma is an optional dependency (the `sigma` extra): `require_pysigma` says so in one
sentence when it is missing.
"""
