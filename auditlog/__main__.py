"""`python -m auditlog` runs the command line."""

from auditlog.cli import main

main()
