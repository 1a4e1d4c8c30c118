"""The header syslog puts before a message, as a regular expression (Python and DuckDB's
RE2 both read it): `[<PRI>]TIMESTAMP HOST PROGRAM[PID]: `, the timestamp as RFC 3164
(`Mar 27 00:37:34`) or RFC 3339 (`2013-10-11T00:00:01.750529+00:00`) writes it.

auditd's audisp syslog plug-in (audispd, audisp-syslog) hands each record to syslog
unchanged, so a record in /var/log/messages or a collector's file is the audit.log line
behind this header: the header says nothing the record does not (its time is the
record's own stamp, its host the record's `node=`), and is cut off before parsing.
"""

SYSLOG_PREFIX = (r"(?:<[0-9]{1,3}>)?"
                 r"(?:[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}"
                 r"|[0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]+) [^ ]+ [^ :\[]+(?:\[[0-9]+\])?: ")
