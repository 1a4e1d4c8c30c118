"""Package data, not code: the sample incident, shipped in the wheel as auditlog.sample_logs
so that `auditlog demo` works wherever auditlog is installed. See README.md here."""
