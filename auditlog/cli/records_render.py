"""`auditlog trace ... --records`: the source records behind a trace's rows, for people.

Each row's heading says which row it is and where it was loaded from (the file's full
SHA-256: ids are never cut); its record follows as indented JSON. Log text is data: it
goes through textsafe.terminal, never as markup, its control characters written out.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from auditlog.textsafe import terminal, written_json

RecordsOption = Annotated[bool, typer.Option(
    "--records", help="Also show where each row of the trace was loaded from and its "
    "verbatim source record (standard formats: CloudTrail, OCSF, EVTX, ...).")]


def source_records_view(entries: list[dict[str, Any]] | None) -> RenderableType:
    """The `source_records` of a trace's document as headings and indented JSON."""
    parts: list[RenderableType] = [terminal(("Source records", "bold"))]
    if not entries:
        parts.append(terminal("  (no row of this trace was loaded from a file)"))
    for entry in entries or []:
        parts.append(Text())
        parts.append(terminal((f"{entry['kind']} {entry['id']}", "bold"),
                              f"  {entry.get('source_format') or 'contract columns'}"))
        where = entry.get("path") or "(written without a file)"
        parts.append(terminal(f"  {where}, row {entry['row']}"))
        parts.append(terminal(f"  file sha256 {entry['file_sha256']}"))
        record = entry.get("record")
        if record is None:
            parts.append(terminal("  no source record kept: the row is the record "
                                  "(the contract's own columns)"))
        elif isinstance(record, str):  # auditd: the event's lines
            parts.extend(terminal(f"  {line}") for line in record.split("\n"))
        else:
            text = written_json(record, indent=2)
            parts.extend(terminal(f"  {line}") for line in text.split("\n"))
    return Group(*parts)
