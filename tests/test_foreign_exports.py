"""Exports of Windows and Linux audit events that auditlog does not read (PowerShell
Get-WinEvent objects, Event Viewer CSV and XML) are refused in one sentence
that says what the file is and what to load instead, never a request for --kind that
would not help, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlog.cli import app

DATA = Path(__file__).parent / "data"

runner = CliRunner()

# The shape `Get-WinEvent -LogName Security | ConvertTo-Json` writes (Windows PowerShell
# 5.1), for the 4732 record of tests/data/windows/Network_Service_Guest_added_to_admins:
# the event data only as positional Properties beside the rendered message.
GET_WINEVENT = [{
    "Id": 4732, "Version": 0, "Qualifiers": None, "Level": 0, "Task": 13826, "Opcode": 0,
    "Keywords": -9214364837600034816, "RecordId": 191029,
    "ProviderName": "Microsoft-Windows-Security-Auditing",
    "ProviderId": "54849625-5478-4994-a5ba-3e3b0328c30d", "LogName": "Security",
    "ProcessId": 636, "ThreadId": 4196, "MachineName": "MSEDGEWIN10", "UserId": None,
    "TimeCreated": "/Date(1569151325201)/", "LevelDisplayName": "Information",
    "TaskDisplayName": "Security Group Management", "KeywordsDisplayNames": ["Audit Success"],
    "Message": "A member was added to a security-enabled local group.",
    "Properties": [{"Value": "-"},
                   {"Value": {"Value": "S-1-5-21-3461203602-4096304019-2269080069-501"}}],
}]
# Event Viewer's "Save All Events As... CSV": five named columns and the message.
EVENT_VIEWER_CSV = (
    "Level,Date and Time,Source,Event ID,Task Category\n"
    "Information,9/22/2019 1:22:05 PM,Microsoft-Windows-Security-Auditing,4732,"
    "Security Group Management,\"A member was added to a security-enabled local group.\"\n")
# Event Viewer's "Save as XML" (wevtutil qe /f:xml writes the <Event> elements alone).
EVENT_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Events><Event xmlns='
    '"http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name='
    '"Microsoft-Windows-Security-Auditing"/><EventID>4732</EventID><TimeCreated SystemTime='
    '"2019-09-22T11:22:05.201727Z"/><EventRecordID>191029</EventRecordID><Channel>Security'
    '</Channel><Computer>MSEDGEWIN10</Computer></System><EventData><Data Name="MemberSid">'
    'S-1-5-20</Data></EventData></Event></Events>\n')


def _refused(path: Path, tmp_path: Path) -> str:
    """The error `auditlog ingest PATH` prints, as one line (the console wraps it)."""
    result = subprocess.run(
        [sys.executable, "-m", "auditlog", "ingest", str(path), "--db",
         str(tmp_path / "d.duckdb")], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr  # bad input (errors.InputError)
    assert "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    assert text.startswith(f"error: {path}: ")
    assert "--kind" not in text
    return text


@pytest.mark.parametrize(("name", "content", "said"), [
    ("events.json", json.dumps(GET_WINEVENT, indent=4),
     ("this is a PowerShell Get-WinEvent export: its event data are unnamed positional "
      "Properties")),
    ("events.csv", EVENT_VIEWER_CSV,
     ("this is an Event Viewer CSV export: it holds only the rendered message, at local "
      "times without a zone")),
    ("events.xml", EVENT_XML,
     "unsupported file type: its content is Windows event XML, which auditlog does not read"),
])
def test_a_windows_export_without_named_event_data_says_to_export_evtx(
        tmp_path: Path, name: str, content: str, said: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    text = _refused(path, tmp_path)
    assert said in text
    assert "export the log as EVTX instead (wevtutil epl Security security.evtx" in text


def test_a_get_winevent_export_in_a_folder_fails_the_call_naming_it(tmp_path: Path) -> None:
    # Loaded with others, the export still stops the call (one call is all or nothing)
    # rather than loading the others and losing its events.
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "security.json").write_text(json.dumps(GET_WINEVENT), encoding="utf-8")
    (folder / "more.evtx").write_bytes(
        (DATA / "windows" / "Network_Service_Guest_added_to_admins_4732.evtx").read_bytes())
    told = runner.invoke(app, ["ingest", str(folder), "--db", str(tmp_path / "d.duckdb")])
    assert told.exit_code != 0  # (the app raises; main() words it as one sentence)
    assert str(told.exception).startswith(
        f"{folder / 'security.json'}: this is a PowerShell Get-WinEvent export")
    status = runner.invoke(app, ["status", "--db", str(tmp_path / "d.duckdb")])
    assert "more.evtx" not in status.output
