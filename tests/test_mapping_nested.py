"""Mapping files that reach nested data, through the CLI: paths and indexes into JSON
records and into CSV columns holding JSON, the first present of several paths, value
maps with a default, defaults, row filters (quarantined, counted, named), and every
check a mapping gets before a row is loaded (exit 2, one sentence, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app

DATA = Path(__file__).resolve().parent / "data"
OKTA = DATA / "okta" / "panther_okta_admin_role_assigned.jsonl"
runner = CliRunner()

OKTA_GRANTS = """
kind = "privileges"
[fields]
event_id = "uuid"
ts = "published"
actor = ["actor.alternateId", "actor.id"]
subject = "target[0].alternateId"
privilege = "debugContext.debugData.privilegeGranted"
operation = "eventType"
[values.operation]
"user.account.privilege.grant" = "grant"
[constants]
system = "okta"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def ingest(db: Path, path: Path, mapping: Path, *options: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--format", "json",
                                 "--mapping", str(mapping), "--tz", "UTC", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = store.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def refused(tmp_path: Path, data: Path, mapping_text: str) -> str:
    """The one sentence an ingest refusing the mapping prints (exit 2, nothing loaded)."""
    mapping = write(tmp_path, "m.toml", mapping_text)
    db = tmp_path / "refused.duckdb"
    process = subprocess.run(
        [sys.executable, "-m", "auditlog", "ingest", str(data), "--db", str(db),
         "--mapping", str(mapping)], capture_output=True, text=True, check=False)
    assert process.returncode == 2 and process.stdout == "", process.stderr
    assert "Traceback" not in process.stderr
    message = " ".join(process.stderr.split())
    assert message.startswith("error: ") and message.count("error:") == 1
    return message


# --- paths -------------------------------------------------------------------------


def test_paths_and_indexes_reach_into_json_records_an_adapter_would_claim(
        tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    (result,) = ingest(db, OKTA, write(tmp_path, "okta.toml", OKTA_GRANTS))
    # The second record repeats the first one's uuid with another privilege: a conflict.
    assert (result["kind"], result["loaded"], result["quarantined"]) == ("privileges", 1, 1)
    assert query(db, "SELECT event_id, actor, subject, privilege, operation, system, "
                     "extra -> '$.\"source.actor\"' ->> '$.id', extra ->> '$.severity' "
                     "FROM privileges") == [
        ("2a992f80-d1ad-4f62-900e-8c68bb72a21b", "jack@acme.io", "alice@acme.io",
         "Organization administrator, Application administrator (all)", "grant", "okta",
         "00uu1uuuuIlllaaaa356", "INFO")]


def test_the_first_present_path_is_taken_row_by_row(tmp_path: Path) -> None:
    lines = [
        {"id": "e1", "at": "2026-03-01T10:00:00Z", "by": {"login": "ann", "uid": "u1"},
         "what": "login"},
        {"id": "e2", "at": "2026-03-01T11:00:00Z", "by": {"uid": "u2"}, "what": "login"},
        {"id": "e3", "at": "2026-03-01T12:00:00Z", "by": {"login": "", "uid": "u3"},
         "what": "login"},
    ]
    data = write(tmp_path, "a.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    mapping = write(tmp_path, "a.toml", """
kind = "actions"
[fields]
event_id = "id"
ts = "at"
actor = ["by.login", "by.uid"]
action = "what"
[constants]
system = "app"
""")
    db = tmp_path / "d.duckdb"
    ingest(db, data, mapping)
    # An empty string is no value: the next path is tried.
    assert query(db, "SELECT event_id, actor FROM actions ORDER BY event_id") == [
        ("e1", "ann"), ("e2", "u2"), ("e3", "u3")]


def test_paths_read_inside_csv_columns_holding_json(tmp_path: Path) -> None:
    data = write(tmp_path, "roles.csv", (
        "when,who,target,op\n"
        '2026-01-01T10:00:00Z,"{""id"":""00u1"",""alternateId"":""jack@acme.io""}",'
        '"[{""alternateId"":""alice@acme.io"",""role"":""admin""}]",add\n'
        '2026-01-01T11:00:00Z,"{""id"":""00u2""}",'
        '"[{""alternateId"":""bob@acme.io"",""role"":""viewer""}]",remove\n'))
    mapping = write(tmp_path, "roles.toml", """
kind = "privileges"
[fields]
ts = "when"
actor = ["who.alternateId", "who.id"]
subject = "target[0].alternateId"
privilege = "target[0].role"
operation = "op"
[values.operation]
add = "grant"
remove = "revoke"
[constants]
system = "idp"
""")
    db = tmp_path / "d.duckdb"
    (result,) = ingest(db, data, mapping)
    assert (result["loaded"], result["quarantined"]) == (2, 0)
    assert query(db, "SELECT actor, subject, privilege, operation, extra ->> '$.who' "
                     "FROM privileges ORDER BY ts") == [
        ("jack@acme.io", "alice@acme.io", "admin", "grant",
         '{"id":"00u1","alternateId":"jack@acme.io"}'),
        ("00u2", "bob@acme.io", "viewer", "revoke", '{"id":"00u2"}')]


def test_paths_read_inside_json_text_nested_in_a_record(tmp_path: Path) -> None:
    record = {"time": "2026-02-01T08:00:00Z", "category": "kube-audit",
              "properties": {"log": json.dumps({"user": {"username": "dev@corp"},
                                                "verb": "delete", "auditID": "a-1"})}}
    data = write(tmp_path, "aks.jsonl", json.dumps(record) + "\n")
    mapping = write(tmp_path, "aks.toml", """
kind = "actions"
[fields]
event_id = "properties.log.auditID"
ts = "time"
actor = "properties.log.user.username"
action = "properties.log.verb"
[constants]
system = "aks"
""")
    db = tmp_path / "d.duckdb"
    ingest(db, data, mapping)
    assert query(db, "SELECT event_id, actor, action FROM actions") == [
        ("a-1", "dev@corp", "delete")]


# --- values, defaults, targets -------------------------------------------------------


def test_value_maps_with_a_default_for_unmatched_values_and_defaults(tmp_path: Path) -> None:
    data = write(tmp_path, "ops.csv", (
        "ts,user,activity,result\n"
        "2026-01-01T10:00:00Z,ann,Add member to role,ok\n"
        "2026-01-01T11:00:00Z,,Reset password,denied\n"
        "2026-01-01T12:00:00Z,bob,Delete user,\n"))
    mapping = write(tmp_path, "ops.toml", """
kind = "actions"
[columns]
user = "actor"
activity = "action"
[values.result]
ok = "success"
[unmatched]
result = "failure"
[defaults]
actor = "unknown-actor"
[constants]
system = "directory"
"extra.reviewed" = "no"
""")
    db = tmp_path / "d.duckdb"
    ingest(db, data, mapping)
    # An empty value is no value: the default of [unmatched] is not given to it.
    assert query(db, "SELECT actor, action, result, extra ->> '$.reviewed' FROM actions "
                     "ORDER BY ts") == [
        ("ann", "Add member to role", "success", "no"),
        ("unknown-actor", "Reset password", "failure", "no"),
        ("bob", "Delete user", "success", "no")]


def test_an_optional_path_may_match_nothing(tmp_path: Path) -> None:
    data = write(tmp_path, "a.jsonl", json.dumps(
        {"ts": "2026-01-01T10:00:00Z", "who": "ann", "did": "login"}) + "\n")
    mapping = write(tmp_path, "a.toml", """
kind = "actions"
[fields]
actor = "who"
action = "did"
session_id = "session.id?"
[constants]
system = "app"
""")
    db = tmp_path / "d.duckdb"
    ingest(db, data, mapping)
    assert query(db, "SELECT actor, session_id FROM actions") == [("ann", None)]


# --- filters -----------------------------------------------------------------------


@pytest.mark.parametrize(("test", "kept"), [
    ('equals = "grant_role"', ["e1"]),
    ('in = ["grant_role", "revoke_role"]', ["e1", "e3"]),
    ('matches = "_role$"', ["e1", "e3"]),
    ('not_equals = "login"', ["e1", "e3"]),
    ('not_in = ["login", "revoke_role"]', ["e1"]),
    ('not_matches = "^login"', ["e1", "e3"]),
])
def test_filters_keep_only_passing_rows_and_quarantine_the_others_with_their_reason(
        tmp_path: Path, test: str, kept: list[str]) -> None:
    lines = [{"id": "e1", "ts": "2026-01-01T10:00:00Z", "who": "ann", "op": "grant_role"},
             {"id": "e2", "ts": "2026-01-01T11:00:00Z", "who": "ann", "op": "login"},
             {"id": "e3", "ts": "2026-01-01T12:00:00Z", "who": "bob", "op": "revoke_role"}]
    data = write(tmp_path, "a.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    mapping = write(tmp_path, "roles.toml", f"""
kind = "actions"
[fields]
event_id = "id"
actor = "who"
action = "op"
[constants]
system = "app"
[filters.role_changes]
path = "op"
{test}
""")
    db = tmp_path / "d.duckdb"
    (result,) = ingest(db, data, mapping)
    dropped = 3 - len(kept)
    assert (result["rows_read"], result["loaded"], result["duplicates"],
            result["quarantined"]) == (3, len(kept), 0, dropped)
    assert [e for (e,) in query(db, "SELECT event_id FROM actions ORDER BY 1")] == kept
    quarantined = query(db, "SELECT reason FROM quarantine")
    assert len(quarantined) == dropped
    assert all(r.startswith("filtered out by mapping roles: filter role_changes keeps only "
                            "rows whose op ") for (r,) in quarantined)
    status = json.loads(runner.invoke(app, ["status", "--db", str(db), "--format",
                                            "json"]).stdout)
    assert status["kinds"]["actions"]["quarantined"] == dropped


def test_paths_need_only_match_the_rows_the_filters_keep(tmp_path: Path) -> None:
    beats = DATA / "okta" / "beats_okta-system-test.json.log"  # logins, no grant at all
    mapping = write(tmp_path, "okta.toml", OKTA_GRANTS + """
[filters.grants]
path = "eventType"
equals = "user.account.privilege.grant"
""")
    db = tmp_path / "d.duckdb"
    (result,) = ingest(db, beats, mapping)
    assert result["loaded"] == 0 and result["quarantined"] == result["rows_read"] > 0


# --- checks before loading -----------------------------------------------------------


def test_every_path_that_matches_nothing_is_named_with_the_nearest_key(
        tmp_path: Path) -> None:
    message = refused(tmp_path, OKTA, """
kind = "privileges"
[fields]
ts = "publishd"
actor = ["actor.alternateid", "actor.login"]
subject = "target.alternateId"
privilege = "debugContext.debugData.privilegeGrant"
operation = "eventType"
""")
    assert "panther_okta_admin_role_assigned.jsonl: the mapping" in message
    assert "m.toml does not fit this file" in message
    assert "fields.ts = 'publishd' matches nothing in it (did you mean 'published'?)" in message
    assert ("fields.actor = 'actor.alternateid' matches nothing in it (did you mean "
            "'actor.alternateId'?)") in message
    assert "fields.actor = 'actor.login' matches nothing" in message
    assert ("fields.subject = 'target.alternateId' matches nothing in it ('target' is an "
            "array: did you mean 'target[0].alternateId'?)") in message
    assert ("'debugContext.debugData.privilegeGrant' matches nothing in it (did you mean "
            "'debugContext.debugData.privilegeGranted'?)") in message


def test_a_renamed_column_that_is_not_there_is_named(tmp_path: Path) -> None:
    data = write(tmp_path, "a.csv", "Zeit,Benutzer\n2026-01-01T10:00:00Z,ann\n")
    message = refused(tmp_path, data, '[columns]\n"Ziet" = "ts"\nBenutzer = "actor"\n')
    assert "columns.Ziet = 'Ziet' matches nothing in it (did you mean 'Zeit'?)" in message


def test_an_object_where_an_id_is_expected_is_refused_with_file_row_and_path(
        tmp_path: Path) -> None:
    # Okta's `actor` is an object; loaded as it is, every actor would be its JSON text.
    message = refused(tmp_path, OKTA, """
kind = "privileges"
[fields]
ts = "published"
subject = "target[0].alternateId"
privilege = "debugContext.debugData.privilegeGranted"
operation = "eventType"
""")
    assert ("panther_okta_admin_role_assigned.jsonl: line 1: the column 'actor' gives a JSON "
            "object for actor, where a single value is expected") in message
    assert "pick one of its keys (id, type, alternateId, displayName)" in message


def test_an_array_where_a_value_is_expected_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, OKTA, """
kind = "privileges"
[fields]
ts = "published"
actor = "actor.id"
subject = "target"
privilege = "eventType"
operation = "eventType"
""")
    assert ("line 1: fields.subject = 'target' gives a JSON array for subject, where a "
            "single value is expected") in message
    assert "with a path such as 'target[0]'" in message


def test_an_unknown_target_column_names_the_valid_ones(tmp_path: Path) -> None:
    message = refused(tmp_path, OKTA, 'kind = "privileges"\n[fields]\ngrantee = "target"\n')
    assert ("mapping key 'fields.grantee' names the column 'grantee', which is not one of "
            "the privileges columns: event_id, ts, actor, subject, privilege, operation, "
            "system, ticket, approver, expires_at (or write extra.NAME") in message
    assert "m.toml" in message


def test_a_malformed_mapping_names_the_line(tmp_path: Path) -> None:
    message = refused(tmp_path, OKTA, '[fields]\nactor = "actor.id"\nsubject = \n')
    assert "m.toml: not valid TOML, at line 3, column 11:" in message


@pytest.mark.parametrize(("text", "fragment"), [
    ('[fields]\nactor = "actor..id"\n', "mapping key 'fields.actor' is not a path"),
    ('[filters.x]\npath = "a"\nin = "b"\n', "'filters.x.in' must be a non-empty list"),
    ('[filters.x]\npath = "a"\nequals = "b"\nin = ["c"]\n', "'filters.x' needs exactly one"),
    ('[filters.x]\npath = "a"\nmatches = "(unclosed"\n', "is not a regular expression"),
    ('[unmatched]\nresult = "failure"\n', "needs a [values.result] table"),
    ('[minor_units]\namount = 7\n', "'minor_units.amount' must be the number of decimals"),
    ('tz = "Mars/Olympus"\n', "mapping key 'tz' is 'Mars/Olympus'"),
    ('[fields]\nsystem = "a"\n[constants]\nsystem = "b"\n', "each column is set once"),
])
def test_a_mistake_in_the_mapping_is_named_before_anything_is_read(
        tmp_path: Path, text: str, fragment: str) -> None:
    assert fragment in refused(tmp_path, OKTA, text)


def test_a_shipped_mapping_is_named_by_its_name_and_a_wrong_name_lists_them(
        tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "auditlog", "ingest", str(OKTA), "--db",
         str(tmp_path / "d.duckdb"), "--mapping", "stripe_charge"],
        capture_output=True, text=True, check=False)
    message = " ".join(process.stderr.split())
    assert process.returncode == 2 and "Traceback" not in message
    assert ("stripe_charge: mapping file not found, nor a shipped mapping of that name; "
            "shipped: jira_cloud_audit, servicenow_change_requests, stripe_charges") in message


def test_a_flattened_csv_header_with_dots_is_a_column_and_paths_can_be_renamed(
        tmp_path: Path) -> None:
    # Exports that flatten records write `actor.alternateId` as a header: taken whole.
    data = write(tmp_path, "flat.csv", (
        "uuid,published,actor.alternateId,target,eventType\n"
        'e1,2026-01-01T10:00:00Z,jack@acme.io,"[{""alternateId"":""alice@acme.io""}]",'
        "login\n"))
    mapping = write(tmp_path, "flat.toml", """
kind = "actions"
[columns]
uuid = "event_id"
published = "ts"
"actor.alternateId" = "actor"
"target[0].alternateId" = "target_account"
eventType = "action"
[fields]
"extra.first_target" = "target[0]"
[constants]
system = "okta"
""")
    db = tmp_path / "d.duckdb"
    ingest(db, data, mapping)
    # A CSV file's values are text, in extra too: the object's JSON text.
    assert query(db, "SELECT event_id, actor, target_account, action, "
                     "extra ->> '$.first_target' FROM actions") == [
        ("e1", "jack@acme.io", "alice@acme.io", "login", '{"alternateId":"alice@acme.io"}')]


def test_among_several_paths_an_object_is_no_value(tmp_path: Path) -> None:
    lines = [{"id": "e1", "ts": "2026-01-01T10:00:00Z", "who": {"name": "ann"}, "did": "x"},
             {"id": "e2", "ts": "2026-01-01T11:00:00Z", "who": "bob", "did": "x"},
             {"id": "e3", "ts": "2026-01-01T12:00:00Z", "who": {"uid": "7"}, "did": "x"}]
    data = write(tmp_path, "a.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    mapping = write(tmp_path, "a.toml", """
kind = "actions"
[fields]
event_id = "id"
actor = ["who.name", "who"]
action = "did"
[constants]
system = "app"
""")
    db = tmp_path / "d.duckdb"
    (result,) = ingest(db, data, mapping)
    assert (result["loaded"], result["quarantined"]) == (2, 1)
    assert query(db, "SELECT event_id, actor FROM actions ORDER BY 1") == [
        ("e1", "ann"), ("e2", "bob")]
    assert query(db, "SELECT row_number, reason FROM quarantine") == [
        (3, "missing required field actor")]
