"""LAUREL JSON (tests/data/laurel, see SOURCE.md there) → the same privileges and
actions as the audit.log auditd wrote for the same events: each sample's JSON against
its .txt twin, user-space records, group membership as grants, and bad lines
quarantined with their line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app
from auditlog.ingest import ingest_paths

DATA = Path(__file__).parent / "data" / "laurel"
PAIRS = ["record-execve", "record-execve-long", "record-login", "record-syscall-key"]
ROWS = ("SELECT event_id, ts, actor, actor_type, action, system, target_account, object, "
        "result, session_id, extra ->> 'command', extra ->> 'syscall', extra ->> 'cwd', "
        "extra ->> 'key', extra ->> 'auid', extra ->> 'uid' FROM actions ORDER BY event_id")

runner = CliRunner()


def load(con: duckdb.DuckDBPyConnection, path: Path) -> Any:
    (result,) = ingest_paths(con, [path])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read
    return result


@pytest.mark.parametrize("name", PAIRS)
def test_a_laurel_event_reads_as_the_audit_log_it_came_from(
        name: str, tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    laurel = load(con, DATA / f"{name}.json")
    assert laurel.quarantined == 0 and laurel.loaded > 0
    got = con.execute(ROWS).fetchall()
    raw = store.connect(tmp_path / "raw.duckdb")
    try:
        load(raw, DATA / f"{name}.txt")
        assert got == raw.execute(ROWS).fetchall()
    finally:
        raw.close()


def test_the_execve_sample_row(con: duckdb.DuckDBPyConnection) -> None:
    load(con, DATA / "record-execve.json")
    # whoami run as root by the login user `user` (AUID) on the host `work` (NODE).
    assert con.execute(
        "SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%g'), actor, action, system, object, "
        "extra ->> 'command', extra ->> 'actor_raw', extra ->> 'cwd' FROM actions").fetchall() == [
        ("work:1615114232.375:15558", "2021-03-07T10:50:32.375", "user", "SYSCALL", "work",
         "/usr/bin/whoami", "whoami", "1000", "/home/user/tmp")]


def laurel_line(**event: Any) -> str:
    return json.dumps(event) + "\n"


def test_user_space_records_membership_grants_and_bad_lines(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A sudo command (its message as one string), bob added to wheel by alice (the
    # message's fields as an object, and a value with a space), a line without an ID and
    # a line that is not JSON: each row of the file one verdict, at its line.
    path = tmp_path / "laurel.log"
    path.write_text(
        laurel_line(ID="1760000100.000:700", NODE="web1", USER_CMD=[{
            "pid": 4100, "uid": 1000, "auid": 1000, "ses": 7,
            "msg": "cwd=\"/home/alice\" cmd=7375646F202D6C exe=\"/usr/bin/sudo\" "
                   "terminal=pts/0 res=success", "UID": "alice", "AUID": "alice"}])
        + laurel_line(ID="1760000210.000:701", NODE="web1", ADD_GROUP=[], USER_MGMT=[{
            "pid": 4200, "uid": 0, "auid": 1000, "ses": 7,
            "msg": {"op": "add-user-to-group", "grp": "wheel", "acct": "bob",
                    "exe": "/opt/admin tools/usermod", "hostname": "web1", "addr": None,
                    "terminal": "pts/0", "res": "success"},
            "UID": "root", "AUID": "alice"}])
        + laurel_line(NODE="web1", SYSCALL={"syscall": 59, "auid": 1000})
        + "{not json\n")
    result = load(con, path)
    assert (result.rows_read, result.loaded, result.quarantined) == (4, 2, 2)
    assert con.execute(
        "SELECT event_id, actor, action, system, object, result, session_id, _row "
        "FROM actions").fetchall() == [
        ("web1:1760000100.000:700", "alice", "USER_CMD", "web1", "sudo -l", "success", "7",
         1)]
    # The login user granted the group (auditd's mapping: actor = auid's name).
    assert con.execute(
        "SELECT event_id, actor, subject, privilege, operation, system, "
        "extra ->> 'source_carries_approval', extra ->> 'exe', extra ->> 'addr', _row "
        "FROM privileges"
    ).fetchall() == [("web1:1760000210.000:701", "alice", "bob", "wheel", "grant", "web1",
                      "false", "/opt/admin tools/usermod", None, 2)]
    assert con.execute("SELECT row_number, reason FROM quarantine ORDER BY row_number"
                       ).fetchall()[0] == (
        3, 'LAUREL event without a valid ID (the stamp "SECONDS.MILLIS:SERIAL")')
    # Stored rows are the JSON LAUREL wrote, at their line.
    (raw,) = con.execute("SELECT raw FROM quarantine WHERE row_number = 3").fetchone() or ("",)
    assert json.loads(raw) == {"NODE": "web1", "SYSCALL": {"syscall": 59, "auid": 1000}}


def test_laurel_through_the_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "d.duckdb")
    result = runner.invoke(app, ["ingest", str(DATA / "record-execve.json"), "--db", db,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    (file,) = json.loads(result.stdout)
    assert (file["kind"], file["rows_read"], file["loaded"], file["quarantined"]) == (
        "actions", 1, 1, 0)


def test_a_long_argument_cut_over_execve_records_is_whole(
        con: duckdb.DuckDBPyConnection) -> None:
    # auditd cuts an argument longer than its record over several EXECVE records
    # (`a1_len=16384 a1[0]=HEX`, ` a1[1]=HEX`, ...): the command holds it whole.
    load(con, DATA / "record-execve-long.txt")
    (command,) = con.execute("SELECT extra ->> 'command' FROM actions").fetchone() or ("",)
    expected = json.loads((DATA / "record-execve-long.json").read_text())["EXECVE"]["ARGV"]
    assert len(expected[1]) == 8192  # a1_len counts its hex digits
    assert command == " ".join(expected)
