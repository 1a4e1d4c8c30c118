"""Exports of Windows and Linux audit events that auditlog recognizes but cannot map,
and what to load instead: said in the error, so that a user who exported a log in the
wrong shape learns how to export it in a right one rather than being asked for a
`--kind` that would not help.

* PowerShell's `Get-WinEvent` objects (`ConvertTo-Json`, `Export-Csv`): the event data is
  a list of unnamed positional `Properties` (which field each is depends on the event's
  template, not in the export) beside the rendered `Message`.
* Event Viewer's "Save as CSV": the rendered message only, local times without a zone.
* Windows event XML (Event Viewer's "Save as XML", `wevtutil qe /f:xml`).
* Microsoft Purview's audit search CSV (`Search-UnifiedAuditLog`): each Office 365
  record is JSON text in its `AuditData` column; those records are what o365.py reads.
(LAUREL's JSON, which keeps what auditd wrote, is read: standard/laurel.py.)
"""

from __future__ import annotations

import re

# The EVTX way out, for every Windows export: the binary log keeps the named event data.
_AS_EVTX = ("export the log as EVTX instead (wevtutil epl Security security.evtx, or "
            "Event Viewer's Save All Events As, .evtx)")
# Columns (lower-cased, as kind detection sees them) that only these exports have.
_GET_WINEVENT = {"id", "timecreated", "providername", "logname", "machinename", "properties"}
_EVENT_VIEWER_CSV = {"level", "date and time", "source", "event id", "task category"}
_WINDOWS_EVENT_XML = re.compile(
    r"\A\s*(<\?xml[^>]*>\s*)?<Events?[\s>].*schemas\.microsoft\.com/win/2004/08/events/event",
    re.DOTALL)


def foreign_columns(present: set[str]) -> str | None:
    """What the file is and what to load instead, when its columns (lower-cased) are
    those of an export auditlog recognizes but does not read; else None."""
    if _GET_WINEVENT <= present:
        return ("a PowerShell Get-WinEvent export: its event data are unnamed positional "
                "Properties (which field each is, the export does not say); " + _AS_EVTX)
    if _EVENT_VIEWER_CSV <= present:
        return ("an Event Viewer CSV export: it holds only the rendered message, at local "
                "times without a zone; " + _AS_EVTX)
    if {"creationdate", "auditdata"} <= present:
        return ("a Microsoft Purview audit search export (Search-UnifiedAuditLog CSV): each "
                "event is the Office 365 record in its AuditData column, as JSON text; load "
                "those records instead, one per line (PowerShell: Import-Csv FILE | "
                "ForEach-Object { $_.AuditData } > audit.jsonl)")
    return None


def foreign_text(head: str) -> str | None:
    """What a text file is, when its beginning is an export auditlog recognizes but does
    not read; else None."""
    if _WINDOWS_EVENT_XML.match(head[:4096]):
        return "Windows event XML, which auditlog does not read; " + _AS_EVTX
    return None
