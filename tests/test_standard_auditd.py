"""Linux audit logs (auditd) → privileges and actions: the real samples of tests/data/auditd
row by row, records grouped into events, group membership and SELinux roles as grants,
damaged files without loss or traceback, and the privilege rules on the result."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app
from auditlog.errors import InputError
from auditlog.ingest import ingest_paths

DATA = Path(__file__).parent / "data" / "auditd"
RHEL7 = DATA / "go-libaudit_audit-rhel7.log"
USERADD = DATA / "beats_useradd.log"
NODE = DATA / "beats_audit-cent7-node.log"

runner = CliRunner()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def load(con: duckdb.DuckDBPyConnection, path: Path) -> Any:
    (result,) = ingest_paths(con, [path])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read
    return result


def action(con: duckdb.DuckDBPyConnection, event_id: str) -> tuple[Any, ...]:
    (row,) = rows(con, "SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%g'), actor, actor_type, action, "
                       "system, target_account, object, result, source_ip, session_id "
                       f"FROM actions WHERE event_id = '{event_id}'")
    return row


def test_rhel7_sample_every_record_in_one_row_or_quarantined(
        con: duckdb.DuckDBPyConnection) -> None:
    result = load(con, RHEL7)
    lines = RHEL7.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 50
    # 50 lines; CWD+EXECVE+PATH of serial 479 and NETFILTER_CFG+SYSCALL of serial 17
    # are events of 3 and 2 records: 46 events, and one line that is not a record.
    assert (result.rows_read, result.loaded, result.quarantined) == (47, 46, 1)
    assert result.kind == "privileges+actions"
    seen: list[int] = []
    for (loc,) in rows(con, "SELECT extra ->> 'record_types' FROM actions UNION ALL "
                            "SELECT extra ->> 'record_types' FROM privileges"):
        seen.extend([0] * len(json.loads(loc)))
    (quarantined,) = rows(con, "SELECT row_number, reason, raw FROM quarantine")
    assert quarantined[0] == 31 and lines[30] == quarantined[2] == "type=UNKNOWN[1329] msg=?"
    assert "not an auditd record" in quarantined[1]
    assert len(seen) + 1 == len(lines)


def test_rhel7_sample_rows(con: duckdb.DuckDBPyConnection) -> None:
    load(con, RHEL7)
    # sshd selects the SELinux role of auid 1000 at login: a grant by the process (root).
    assert rows(con, "SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%g'), actor, subject, "
                     "privilege, operation, system, extra ->> 'new_context', "
                     "extra ->> 'source_carries_approval' FROM privileges") == [
        ("1481077043.140:415", "2016-12-07T02:17:23.140", "root", "1000", "unconfined_r",
         "grant", None, "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023", "false")]
    # sudo: the hex-encoded command decoded, by the login user.
    assert action(con, "1481077231.363:475") == (
        "2016-12-07T02:20:31.363", "1000", None, "USER_CMD", "linux", None,
        "./metricbeat -c mb.dev.yml", "success", None, "3")
    # useradd/groupadd outside a login session (auid unset): root, a system actor.
    assert action(con, "1481076992.488:389") == (
        "2016-12-07T02:16:32.488", "root", "system", "ADD_USER", "linux", "1000",
        "/usr/sbin/useradd", "success", None, None)
    assert action(con, "1481076992.414:385")[3:7] == ("ADD_GROUP", "linux", None, "1000")
    assert action(con, "1481076992.521:393")[3:6] == ("USER_MGMT", "linux", "1000")
    assert action(con, "1481076992.419:386")[3:7] == ("GRP_MGMT", "linux", None, "1000")
    # The sshd login of andrew_kroh: the account is the target, its address the source.
    assert action(con, "1481077043.046:408") == (
        "2016-12-07T02:17:23.046", "root", "system", "USER_AUTH", "linux", "andrew_kroh",
        "/usr/sbin/sshd", "success", "96.241.146.97", None)
    assert action(con, "1481077043.193:421")[1:] == (
        "1000", None, "USER_LOGIN", "linux", "1000", "/usr/sbin/sshd", "success",
        "96.241.146.97", "1")
    assert action(con, "1489641207.587:518")[3:9] == (
        "USER_ERR", "linux", None, "/usr/sbin/sshd", "failure", "190.48.233.76")
    assert action(con, "1481077231.371:478")[1:8] == (
        "1000", None, "CONFIG_CHANGE", "linux", None, "add_rule", "success")
    # A failed syscall, its hex-encoded exe decoded.
    assert action(con, "1490801406.273:512226")[1:8] == (
        "root", "system", "SYSCALL", "linux", None, "/usr/bin/python2.7;58d1ccfb (deleted)",
        "failure")


def test_records_of_one_event_are_one_row(con: duckdb.DuckDBPyConnection) -> None:
    load(con, RHEL7)
    (row,) = rows(con, "SELECT _row, extra FROM actions WHERE event_id = '1481077231.371:479'")
    extra = json.loads(row[1])
    assert row[0] == 10
    assert extra["record_types"] == ["CWD", "EXECVE", "PATH"]
    assert extra["command"] == "auditctl -a exit,always -F arch=b32 -S execve"
    assert (extra["cwd"], extra["path"]) == ("/home/andrew_kroh", "/sbin/auditctl")
    # NETFILTER_CFG is the event's record; its SYSCALL gives the process.
    (netfilter,) = rows(con, "SELECT action, object, extra ->> 'comm', extra ->> 'syscall' "
                             "FROM actions WHERE event_id = '1481076984.827:17'")
    assert netfilter == ("NETFILTER_CFG", "/usr/bin/kmod", "modprobe", "313")


def test_node_names_the_system_and_the_event(con: duckdb.DuckDBPyConnection) -> None:
    result = load(con, NODE)
    assert (result.rows_read, result.loaded) == (10, 10)
    assert action(con, "localhost.localdomain:1594053514.709:6") == (
        "2020-07-06T16:38:34.709", "root", "system", "SERVICE_START", "localhost.localdomain",
        None, "auditd", "success", None, None)
    assert rows(con, "SELECT count(*) FROM actions WHERE system = 'localhost.localdomain' "
                     "AND starts_with(event_id, 'localhost.localdomain:')") == [(10,)]


def test_useradd_sample_by_a_login_user(con: duckdb.DuckDBPyConnection) -> None:
    result = load(con, USERADD)
    assert (result.rows_read, result.loaded) == (8, 8)
    assert rows(con, "SELECT event_id, actor, action, target_account, object, "
                     "extra ->> 'op' FROM actions ORDER BY _row") == [
        ("1610903553.686:584", "1000", "ADD_GROUP", None, "1004", "adding group to /etc/group"),
        ("1610903553.710:586", "1000", "ADD_GROUP", None, "1004",
         "adding group to /etc/gshadow"),
        ("1610903553.710:587", "1000", "ADD_GROUP", None, "1004", None),
        ("1610903553.730:591", "1000", "ADD_USER", "1004", "/usr/sbin/useradd", "adding user"),
        ("1610903553.814:593", "1000", "USER_ACCT", None, "/sbin/pam_tally2", None),
        ("1610903558.174:594", "1000", "USER_CHAUTHTOK", "charlie", "/usr/bin/passwd",
         "PAM:chauthtok"),
        ("1610903558.178:595", "1000", "USER_AUTH", "root", "/usr/bin/chfn",
         "PAM:authentication"),
        ("1610903558.178:596", "1000", "USER_ACCT", "root", "/usr/bin/chfn", "PAM:accounting"),
    ]


# Written here in the wording of shadow-utils (usermod -aG, gpasswd -d) and of enriched
# logs: no public sample found adds a user to a group.
MEMBERSHIP = [
    ("type=USER_MGMT msg=audit(1760000210.000:701): pid=3100 uid=0 auid=1000 ses=6 "
    "msg='op=add-user-to-group grp=\"wheel\" acct=\"bob\" exe=\"/usr/sbin/usermod\" "
    "hostname=? addr=? terminal=pts/0 res=success'"),
    ("type=USER_MGMT msg=audit(1760000210.000:702): pid=3100 uid=0 auid=1000 ses=6 "
    "msg='op=add-user-to-shadow-group grp=\"wheel\" acct=\"bob\" exe=\"/usr/sbin/usermod\" "
    "hostname=? addr=? terminal=pts/0 res=success'"),
    ("type=GRP_MGMT msg=audit(1760000300.250:710): pid=3200 uid=0 auid=1000 ses=6 "
    "msg='op=delete-user-from-group grp=\"wheel\" acct=\"bob\" exe=\"/usr/bin/gpasswd\" "
    "hostname=? addr=? terminal=pts/0 res=success'"),
    ("type=USER_MGMT msg=audit(1760000400.000:720): pid=3300 uid=1001 auid=1001 ses=7 "
    "msg='op=add-user-to-group grp=\"sudo\" acct=\"eve\" exe=\"/usr/sbin/usermod\" "
    "hostname=? addr=? terminal=pts/1 res=failed'"),
    # Older wording (gpasswd -d of shadow-utils 4.1).
    ("type=USER_ACCT msg=audit(1760000450.000:725): pid=3350 uid=0 auid=1000 ses=6 "
     "msg='op=removing group member acct=\"carol\" grp=\"adm\" exe=\"/usr/bin/gpasswd\" "
     "hostname=? addr=? terminal=pts/0 res=success'"),
    # Enriched: names after the 0x1d separator; acct hex-encoded (it holds a space).
    ("node=web1 type=USER_MGMT msg=audit(1760000500.000:730): pid=3400 uid=0 auid=1002 ses=8 "
    "msg='op=add-user-to-group grp=\"docker\" acct=6A6F6520626C6F6767 "
    "exe=\"/usr/sbin/usermod\" hostname=? addr=10.0.0.5 terminal=pts/2 res=success'"
    "\x1dUID=\"root\" AUID=\"alice\""),
]


def test_group_membership_is_granted_and_revoked(tmp_path: Path,
                                                 con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "audit.log"
    path.write_text("\n".join(MEMBERSHIP) + "\n", encoding="utf-8")
    result = load(con, path)
    assert (result.rows_read, result.loaded) == (6, 6)
    assert rows(con, "SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%g'), actor, subject, "
                     "privilege, operation, system FROM privileges ORDER BY _row") == [
        ("1760000210.000:701", "2025-10-09T08:56:50.000", "1000", "bob", "wheel", "grant",
         None),
        ("1760000300.250:710", "2025-10-09T08:58:20.250", "1000", "bob", "wheel", "revoke",
         None),
        ("1760000450.000:725", "2025-10-09T09:00:50.000", "1000", "carol", "adm", "revoke",
         None),
        ("web1:1760000500.000:730", "2025-10-09T09:01:40.000", "alice", "joe blogg", "docker",
         "grant", "web1"),
    ]
    # The gshadow twin mirrors the grant; a failed change granted nothing.
    assert rows(con, "SELECT event_id, actor, action, target_account, result FROM actions "
                     "ORDER BY _row") == [
        ("1760000210.000:702", "1000", "USER_MGMT", "bob", "success"),
        ("1760000400.000:720", "1001", "USER_MGMT", "eve", "failure"),
    ]
    (raw,) = rows(con, "SELECT extra ->> 'auid', extra ->> 'auid_name' FROM privileges "
                       "WHERE event_id LIKE 'web1:%'")
    assert raw == ("1002", "alice")


def test_interleaved_records_group_by_their_stamp(tmp_path: Path,
                                                  con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "audit.log"
    path.write_text(
        "type=SYSCALL msg=audit(1760000000.100:50): arch=c000003e syscall=59 success=yes "
        "exit=0 ppid=1 pid=10 auid=1000 uid=0 ses=2 comm=\"id\" exe=\"/usr/bin/id\" key=\"exec\"\n"
        "type=SYSCALL msg=audit(1760000000.100:51): arch=c000003e syscall=59 success=yes "
        "exit=0 ppid=1 pid=11 auid=1001 uid=1001 ses=3 comm=\"ls\" exe=\"/usr/bin/ls\" key=(null)\n"
        "type=EXECVE msg=audit(1760000000.100:51): argc=2 a0=\"ls\" a1=\"-la\"\n"
        "type=EXECVE msg=audit(1760000000.100:50): argc=2 a0=\"id\" a1=2D75\n"
        "type=PROCTITLE msg=audit(1760000000.100:50): proctitle=6964002D75\n"
        "\n----\ntime->Thu Oct  9 08:53:20 2025\n"
        "type=EOE msg=audit(1760000000.100:50): \n",
        encoding="utf-8")
    result = load(con, path)
    assert (result.rows_read, result.loaded) == (2, 2)
    found = rows(con, "SELECT event_id, actor, action, object, extra ->> 'command', "
                      "extra ->> 'proctitle', extra ->> 'key', _row FROM actions ORDER BY _row")
    assert found == [
        ("1760000000.100:50", "1000", "SYSCALL", "/usr/bin/id", "id -u", "id -u", "exec", 1),
        ("1760000000.100:51", "1001", "SYSCALL", "/usr/bin/ls", "ls -la", None, None, 2),
    ]
    assert rows(con, "SELECT extra ->> 'record_types' FROM actions ORDER BY _row") == [
        ('["SYSCALL","EXECVE","PROCTITLE","EOE"]',), ('["SYSCALL","EXECVE"]',)]


def test_damaged_copies_lose_no_row(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    data = RHEL7.read_bytes()
    lines = data.split(b"\n")
    # A line cut short, a line of invalid UTF-8, a NUL, an interpreted record, and the
    # file cut in the middle of its last line.
    lines[1] = lines[1][:60]
    lines[3] = lines[3][:40] + b"\xff\xfe" + lines[3][40:]
    lines[5] = lines[5].replace(b"acct=", b"ac\x00ct=")
    lines.insert(7, b"type=USER_MGMT msg=audit(05/15/2019 16:28:38.516:1687) : pid=25284 "
                    b"uid=root auid=iam1 msg='op=add-user-to-group grp=issm acct=iam2'")
    damaged = b"\n".join(lines)
    path = tmp_path / "damaged.log"
    path.write_bytes(damaged[: len(damaged) - 200])
    result = load(con, path)
    reasons = [r for (r,) in rows(con, "SELECT reason FROM quarantine ORDER BY row_number")]
    assert any("not valid UTF-8" in r for r in reasons)
    assert any("NUL" in r for r in reasons)
    assert any("ausearch -i" in r for r in reasons)
    assert result.quarantined == len(reasons) >= 4


def test_gzip_loads_the_same_and_a_truncated_gzip_is_an_error(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    packed = gzip.compress(RHEL7.read_bytes())
    path = tmp_path / "audit.log.gz"
    path.write_bytes(packed)
    result = load(con, path)
    assert (result.rows_read, result.loaded, result.quarantined) == (47, 46, 1)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match="gzip"):
        ingest_paths(con, [cut])


def test_loading_twice_changes_nothing(con: duckdb.DuckDBPyConnection) -> None:
    load(con, RHEL7)
    again = load(con, RHEL7)
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 46, 1)


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "json" in args else result.stdout


def test_privilege_rules_on_auditd(tmp_path: Path) -> None:
    log = tmp_path / "membership.log"
    log.write_text("\n".join(MEMBERSHIP) + "\n", encoding="utf-8")
    db = str(tmp_path / "d.duckdb")
    files = cli("ingest", str(RHEL7), str(USERADD), str(NODE), str(log), "--db", db,
                "--format", "json")
    assert all(f["loaded"] + f["duplicates"] + f["quarantined"] == f["rows_read"]
               for f in files)
    cli("run", "--db", db)
    findings = cli("findings", "--db", db, "--format", "json")
    admin = sorted((f["evidence"], f["actor"], f["account"]) for f in findings
                   if f["rule_id"] == "admin_grant")
    # wheel to bob; docker is not admin-level by name, sudo's grant failed.
    assert admin == [(["1760000210.000:701"], "1000", "bob")]
    # auditd records no approval: the unapproved-grant rule has nothing to say.
    assert [f for f in findings if f["rule_id"] == "grant_without_approval"] == []


def test_a_damaged_file_through_the_cli_is_one_sentence(tmp_path: Path) -> None:
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(RHEL7.read_bytes())[:300])
    done = subprocess.run([sys.executable, "-m", "auditlog", "ingest", str(cut), "--db",
                           str(tmp_path / "d.duckdb")], check=False, capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: {cut}: cannot read as auditd (gzip): the gzip "
                                   "stream is truncated")


def test_records_forwarded_through_syslog_load_as_the_audit_log(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # The audisp syslog plug-in hands each record to syslog unchanged; in
    # /var/log/messages (RFC 3164 header) or a collector's file (RFC 5424 time, a
    # priority) it is the audit.log line behind `TIME HOST PROGRAM[PID]: `. A line of
    # another program in the same file is quarantined with its line number, not lost.
    lines = RHEL7.read_text(encoding="utf-8").splitlines()
    messages = tmp_path / "messages"
    messages.write_text("".join(
        f"Apr  5 17:42:{n % 60:02d} rhel7 audispd: {line}\n"
        + ("Apr  5 17:42:44 rhel7 kernel: EXT4-fs (sde1): recovery complete\n"
           if n == 20 else "")
        for n, line in enumerate(lines, start=1)))
    collector = tmp_path / "collector.log"
    collector.write_text("".join(
        f"<14>2017-04-11T15:21:{n % 60:02d}.750529+00:00 rhel7 audisp-syslog[812]: {line}\n"
        for n, line in enumerate(lines, start=1)))
    query = ("SELECT event_id, ts, actor, action, target_account, object, result "
             "FROM actions ORDER BY event_id")
    load(con, RHEL7)
    raw_rows = rows(con, query)
    raw_grants = rows(con, "SELECT event_id, subject, privilege FROM privileges")
    for path, quarantined_lines in ((messages, [21, 32]), (collector, [31])):
        db = store.connect(tmp_path / f"{path.stem}.duckdb")
        try:
            result = load(db, path)
            assert (result.loaded, result.quarantined) == (46, len(quarantined_lines))
            assert rows(db, query) == raw_rows
            assert rows(db, "SELECT event_id, subject, privilege FROM privileges") == raw_grants
            assert [r[0] for r in rows(db, "SELECT row_number FROM quarantine "
                                           "ORDER BY row_number")] == quarantined_lines
        finally:
            db.close()


def test_a_syslog_file_that_starts_with_another_programs_line_loads_its_records(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # /var/log/messages as it is: kernel and cron lines before and between the records
    # the audisp plug-in forwarded. The other programs' lines are quarantined, each with
    # its line number and the program named; every record loads as from audit.log.
    lines = RHEL7.read_text(encoding="utf-8").splitlines()
    messages = tmp_path / "messages"
    messages.write_text(
        "Apr  5 17:40:01 rhel7 kernel: Linux version 3.10.0-514.el7.x86_64\n"
        "Apr  5 17:40:02 rhel7 CROND[2211]: (root) CMD (/usr/lib64/sa/sa1 1 1)\n"
        + "".join(f"Apr  5 17:42:{n % 60:02d} rhel7 audispd: {line}\n"
                  for n, line in enumerate(lines, start=1)))
    load(con, RHEL7)
    query = "SELECT event_id, ts, actor, action, object FROM actions ORDER BY event_id"
    expected = rows(con, query)
    db = store.connect(tmp_path / "m.duckdb")
    try:
        result = load(db, messages)
        assert (result.kind, result.loaded, result.quarantined) == ("privileges+actions", 46, 3)
        assert rows(db, query) == expected
        assert rows(db, "SELECT row_number, reason FROM quarantine ORDER BY row_number") == [
            (1, "not an auditd record: a syslog line of another program (kernel)"),
            (2, "not an auditd record: a syslog line of another program (CROND)"),
            (33, ('not an auditd record: expected "type=TYPE msg=audit(SECONDS.MILLIS:'
                  'SERIAL): ..."'))]
    finally:
        db.close()


# `ausearch -i` output as it is written (en_US locale; the C locale writes 12/01/26, the
# German one 01.12.2026): local times without a zone, names for ids, decoded values
# with spaces.
INTERPRETED = """----
type=PROCTITLE msg=audit(12/01/2026 10:00:01.123:456) : proctitle=/bin/sh -c id
type=SYSCALL msg=audit(12/01/2026 10:00:01.123:456) : arch=x86_64 syscall=execve success=yes exit=0 a0=0x55d3 items=2 ppid=1 pid=2 auid=alice uid=root gid=root euid=root tty=pts0 ses=3 comm=sh exe=/usr/bin/bash key=(null)
----
type=USER_CMD msg=audit(01.12.2026 10:00:02.000:457) : pid=3 uid=alice auid=alice ses=3 msg='cwd=/home/alice cmd=ls -la exe=/usr/bin/sudo terminal=pts/0 res=success'
"""


@pytest.mark.parametrize("gzipped", [False, True])
def test_interpreted_ausearch_output_is_refused_saying_to_run_it_raw(
        tmp_path: Path, gzipped: bool) -> None:
    path = tmp_path / ("events.log.gz" if gzipped else "events.log")
    data = INTERPRETED.encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    db = tmp_path / "d.duckdb"
    done = subprocess.run([sys.executable, "-m", "auditlog", "ingest", str(path), "--db",
                           str(db)], check=False, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {path}: cannot read as auditd: this is interpreted ausearch output "
        "(ausearch -i), whose times are local dates in the locale's format without a zone "
        "and whose values are rewritten; run ausearch again with --raw (ausearch --raw ... "
        "> events.log) or load audit.log itself")
    # The file left the database as it was: nothing loaded, nothing quarantined.
    con = store.connect(db)
    try:
        assert rows(con, "SELECT (SELECT count(*) FROM actions) + (SELECT count(*) FROM "
                         "quarantine) + (SELECT count(*) FROM ingested_files)") == [(0,)]
    finally:
        con.close()


def test_one_interpreted_line_in_a_raw_log_is_quarantined(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    lines = RHEL7.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "audit.log"
    path.write_text("\n".join([*lines[:5], INTERPRETED.splitlines()[2], *lines[5:]]) + "\n")
    result = load(con, path)
    assert (result.loaded, result.quarantined) == (46, 2)
    assert (("an interpreted auditd record (ausearch -i): its time is local and its ids are "
            "names; load the raw log (ausearch --raw, or audit.log)"),) in rows(
        con, "SELECT reason FROM quarantine WHERE row_number = 6")


# Records in the wording of older kernels and PAM (as in linux-audit's own auparse test
# logs and Elastic's auditd pipeline tests): LOGIN as `old auid=X new auid=Y`, PAM
# messages closed by `(hostname=?, addr=?, terminal=ssh res=failed)`.
OLD_FORMAT = [
    ("type=LOGIN msg=audit(1489636960.072:19623791): pid=28281 uid=0 old auid=4294967295 "
    "new auid=700 old ses=6793 new ses=12286"),
    ("type=USER_AUTH msg=audit(1170021601.340:294): user pid=13015 uid=0 auid=4294967295 "
    "subj=system_u:system_r:sshd_t:s0 msg='PAM: authentication acct=root : "
    "exe=\"/usr/sbin/sshd\" (hostname=10.0.0.9, addr=10.0.0.9, terminal=ssh res=failed)'"),
    ("type=USER_ACCT msg=audit(1170021601.341:295): user pid=13015 uid=0 auid=4294967295 "
    "subj=system_u:system_r:crond_t:s0 msg='PAM: accounting acct=root : "
    "exe=\"/usr/sbin/crond\" (hostname=?, addr=?, terminal=cron res=success)'"),
]


def test_older_record_wordings(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = tmp_path / "audit.log"
    path.write_text("\n".join(OLD_FORMAT) + "\n")
    result = load(con, path)
    assert (result.loaded, result.quarantined) == (3, 0)
    assert rows(con, "SELECT event_id, actor, actor_type, result, session_id FROM actions "
                     "ORDER BY event_id") == [
        ("1170021601.340:294", "root", "system", "failure", None),
        ("1170021601.341:295", "root", "system", "success", None),
        # The session's new login user and session, not the old (unset) ones.
        ("1489636960.072:19623791", "700", None, "success", "12286"),
    ]
